"""Settings of the reports: outgoing mail, the work loop, inbound requests by email."""

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class SmtpConfig(BaseModel):
    """The SMTP server reports are sent through (``make dev``: the local capturing server)."""

    model_config = ConfigDict(frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=1025, ge=1, le=65535)
    sender: str = "Timebridge reports <reports@timebridge.localhost>"
    username: str | None = None
    password: SecretStr | None = None
    start_tls: bool = False
    timeout_s: float = Field(default=10.0, gt=0)


class ReportsConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    poll_interval_s: float = Field(default=5.0, gt=0, description="Schedules, runs, deliveries")
    max_attempts: int = Field(default=8, ge=1, description="Per run and per delivery")
    backoff_s: float = Field(default=30.0, gt=0, description="First retry; doubles, max 1 h")
    inbound_port: int | None = Field(
        default=None, ge=1, le=65535, description="SMTP port for emailed requests (off: None)"
    )
    inbound_host: str = "127.0.0.1"
    request_domain: str = Field(
        default="reports.timebridge.localhost",
        description="A workspace's request address is <workspace>@<request_domain>",
    )
