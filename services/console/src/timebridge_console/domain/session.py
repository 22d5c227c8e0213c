"""A signed-in admin's session and the CSRF check of its forms.

The console keeps no accounts: a session is the Core user token the admin pasted, the workspace
chosen at sign-in and a random per-session CSRF token, sealed into an encrypted cookie. Every
call to a service forwards the token, and the services decide (Core says who is an admin).
"""

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Session:
    workspace_id: str | None
    """None before sign-in: an anonymous session only carries the sign-in form's CSRF token."""
    token: str | None
    csrf: str
    expires_at: dt.datetime

    @property
    def signed_in(self) -> bool:
        return self.workspace_id is not None and self.token is not None

    def expired(self, now: dt.datetime) -> bool:
        return now >= self.expires_at

    def accepts(self, submitted: str | None) -> bool:
        """Whether a form's (or an htmx request's) CSRF token is this session's."""
        return submitted is not None and hmac.compare_digest(submitted, self.csrf)

    def to_dict(self) -> dict[str, Any]:
        return {
            "w": self.workspace_id,
            "t": self.token,
            "c": self.csrf,
            "e": self.expires_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Session":
        return cls(
            workspace_id=data["w"],
            token=data["t"],
            csrf=str(data["c"]),
            expires_at=dt.datetime.fromisoformat(data["e"]),
        )


def anonymous(now: dt.datetime, ttl: dt.timedelta) -> Session:
    return Session(None, None, secrets.token_urlsafe(24), now + ttl)


def signed_in(workspace_id: str, token: str, now: dt.datetime, ttl: dt.timedelta) -> Session:
    """A new session (and CSRF token) at sign-in: nothing from before sign-in is kept."""
    return Session(workspace_id, token, secrets.token_urlsafe(24), now + ttl)
