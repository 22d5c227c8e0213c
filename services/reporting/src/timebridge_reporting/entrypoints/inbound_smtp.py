"""The SMTP endpoint for emailed report requests (aiosmtpd, in the service's event loop).

A workspace's request address is ``<workspace id>@<request domain>``; mail to any other address
is refused at RCPT. A message is accepted (250) once handled; if the database is unreachable the
answer is 451, so the sending server tries again later. The answer never says whether the sender
is known.
"""

import asyncio
import email
import email.policy
import re
from email.message import EmailMessage
from typing import Any

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session

from timebridge_common.api import WORKSPACE_ID_PATTERN
from timebridge_reporting.handlers.inbound import InboundRequests

log = structlog.get_logger(__name__)
MAX_MESSAGE_BYTES = 1 << 20


class InboundHandler:
    def __init__(self, requests: InboundRequests, request_domain: str) -> None:
        self.requests = requests
        self.domain = request_domain.lower()

    def workspace_of(self, address: str) -> str | None:
        local, _, domain = address.rpartition("@")
        if domain.lower() != self.domain or not re.fullmatch(WORKSPACE_ID_PATTERN, local):
            return None
        return local

    async def handle_RCPT(  # aiosmtpd's hook names
        self, _server: SMTP, _session: Session, envelope: Envelope, address: str, _options: Any
    ) -> str:
        if self.workspace_of(address) is None:
            return "550 5.1.1 not a report request address"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        raw = bytes(envelope.original_content or b"")
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        if not isinstance(parsed, EmailMessage):
            return "554 5.6.0 unreadable message"
        try:
            for rcpt in envelope.rcpt_tos:
                workspace = self.workspace_of(rcpt)
                if workspace is not None:
                    await self.requests.handle(workspace, parsed, raw)
        except Exception:
            log.exception("report request could not be handled now")
            return "451 4.3.0 try again later"
        return "250 OK"


async def serve(handler: InboundHandler, host: str, port: int) -> None:
    """Listen until cancelled."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, data_size_limit=MAX_MESSAGE_BYTES, hostname="timebridge-reports"),
        host,
        port,
    )
    log.info("report requests by email", smtp=f"{host}:{port}", domain=handler.domain)
    async with server:
        await server.serve_forever()
