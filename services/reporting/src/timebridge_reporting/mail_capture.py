"""A local SMTP server that captures mail, for ``make dev`` and tests (aiosmtpd).

``python -m timebridge_reporting.mail_capture [--smtp-port 1025] [--http-port 8025]`` accepts
every message on the SMTP port and shows what it captured over HTTP:

* ``GET /messages``: from, to, subject, Message-ID and attachments of each message, oldest first;
* ``GET /messages/{n}/raw``: the message as received (RFC 5322);
* ``GET /messages/{n}/attachments/{filename}``: one attachment's bytes;
* ``DELETE /messages``: forget everything.

Nothing is relayed anywhere.
"""

import argparse
import email
import email.policy
import socket
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI, HTTPException, Response


@dataclass(frozen=True)
class Captured:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def attachments(self) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for part in self.message.iter_attachments():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                found[part.get_filename() or "attachment"] = payload
        return found

    def text(self) -> str:
        body = self.message.get_body(("plain",))
        return "" if body is None else str(body.get_content())

    def summary(self, index: int) -> dict[str, Any]:
        message = self.message
        return {
            "index": index,
            "from": self.mail_from,
            "to": list(self.rcpt_tos),
            "subject": message["Subject"],
            "message_id": message["Message-ID"],
            "attachments": [
                {"filename": name, "size": len(body)} for name, body in self.attachments().items()
            ],
        }


class CapturingHandler:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[Captured] = []

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        captured = Captured(str(envelope.mail_from), tuple(envelope.rcpt_tos), bytes(raw))
        with self._lock:
            self._messages.append(captured)
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[Captured]:
        with self._lock:
            return list(self._messages)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()


class MailCapture:
    """The SMTP side, in a thread of its own: ``start()``, read ``messages``, ``stop()``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """``port=0``: a free port (aiosmtpd's start check cannot connect to port 0 itself)."""
        if port == 0:
            with socket.socket() as probe:
                probe.bind((host, 0))
                port = int(probe.getsockname()[1])
        self.handler = CapturingHandler()
        self._controller = Controller(self.handler, hostname=host, port=port)
        self.host, self.port = host, port

    def start(self) -> "MailCapture":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    @property
    def messages(self) -> list[Captured]:
        return self.handler.messages


def http_app(capture: MailCapture) -> FastAPI:
    app = FastAPI(title="Timebridge mail capture")

    def nth(n: int) -> Captured:
        messages = capture.messages
        if not 0 <= n < len(messages):
            raise HTTPException(404, "no such message")
        return messages[n]

    @app.get("/healthz")
    @app.get("/_sandbox/faults")  # the readiness path make dev polls on every sandbox
    async def ready() -> dict[str, Any]:
        return {"status": "ok", "smtp": f"{capture.host}:{capture.port}"}

    @app.get("/messages")
    async def messages() -> list[dict[str, Any]]:
        return [m.summary(i) for i, m in enumerate(capture.messages)]

    @app.get("/messages/{n}/raw")
    async def raw(n: int) -> Response:
        return Response(nth(n).raw, media_type="message/rfc822")

    @app.get("/messages/{n}/attachments/{filename}")
    async def attachment(n: int, filename: str) -> Response:
        found = nth(n).attachments().get(filename)
        if found is None:
            raise HTTPException(404, "no such attachment")
        return Response(found, media_type="application/octet-stream")

    @app.delete("/messages", status_code=204)
    async def clear() -> Response:
        capture.handler.clear()
        return Response(status_code=204)

    return app


def main(argv: list[str] | None = None) -> int:
    import uvicorn  # noqa: PLC0415 - only the runnable needs it

    parser = argparse.ArgumentParser(prog="timebridge-mail-capture", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--http-port", type=int, default=8025)
    args = parser.parse_args(argv)
    capture = MailCapture(args.host, args.smtp_port).start()
    print(
        f"capturing mail on smtp://{args.host}:{capture.port};"
        f" read it at http://{args.host}:{args.http_port}/messages",
        flush=True,
    )
    try:
        uvicorn.run(http_app(capture), host=args.host, port=args.http_port, log_level="warning")
    finally:
        capture.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
