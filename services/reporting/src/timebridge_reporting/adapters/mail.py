"""Outgoing report mail over SMTP (aiosmtplib).

The Message-ID is derived from the delivery's idempotency key: if a crash between the server's
acceptance and our commit makes us send again, the copy carries the same Message-ID, which mail
clients and servers use to drop duplicates.
"""

import hashlib
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol

import aiosmtplib

from timebridge_reporting.reports_config import SmtpConfig

EXTENSIONS = {"json": "json", "csv": "csv", "xlsx": "xlsx", "pdf": "pdf"}
MIME = {
    "json": ("application", "json"),
    "csv": ("text", "csv"),
    "xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "pdf": ("application", "pdf"),
}


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class TransientMailError(Exception):
    """The server was unreachable or answered 4xx: try again later."""


class PermanentMailError(Exception):
    """The server refused for good (5xx): retrying will not help."""


def message_id(idempotency_key: str) -> str:
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<report-{digest}@timebridge>"


def compose(
    *,
    sender: str,
    recipient: str,
    subject: str,
    text: str,
    attachments: dict[str, bytes],
    basename: str,
    msg_id: str,
    in_reply_to: str | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = msg_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content(text)
    for fmt, body in sorted(attachments.items()):
        maintype, subtype = MIME[fmt]
        message.add_attachment(
            body, maintype=maintype, subtype=subtype, filename=f"{basename}.{EXTENSIONS[fmt]}"
        )
    return message


class SmtpMailer:
    def __init__(self, config: SmtpConfig) -> None:
        self._config = config

    @property
    def sender(self) -> str:
        return self._config.sender

    async def send(self, message: EmailMessage) -> None:
        config = self._config
        try:
            await aiosmtplib.send(
                message,
                hostname=config.host,
                port=config.port,
                username=config.username,
                password=config.password.get_secret_value() if config.password else None,
                start_tls=config.start_tls,
                timeout=config.timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            reasons = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
            if all(500 <= r.code < 600 for r in exc.recipients):
                raise PermanentMailError(reasons) from exc
            raise TransientMailError(reasons) from exc
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                raise PermanentMailError(f"{exc.code} {exc.message}") from exc
            raise TransientMailError(f"{exc.code} {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise TransientMailError(repr(exc)) from exc
