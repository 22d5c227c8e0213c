"""The session cookie: the session sealed with AES-256-GCM, so it is both secret and tamper-proof.

The cookie holds a Core token, so it is encrypted (not only signed), ``HttpOnly`` (no script
reads it), ``SameSite=Lax`` (other sites' forms do not carry it) and ``Secure`` behind HTTPS.
"""

import base64
import hashlib
import json

from timebridge_common.crypto import DecryptionError, SecretBox
from timebridge_console.domain.session import Session

COOKIE = "tb_console"
_CONTEXT = "console-session"


class SessionCodec:
    def __init__(self, secret: str, context: str = _CONTEXT) -> None:
        """``secret``: any random string (``TB_SESSION_KEY``); its SHA-256 is the AES key.
        ``context`` binds a cookie to its use: a portal cookie does not open as an admin's."""
        digest = hashlib.sha256(secret.encode()).digest()
        self._box = SecretBox(base64.urlsafe_b64encode(digest).decode())
        self._context = context

    def seal(self, session: Session) -> str:
        sealed = self._box.encrypt(json.dumps(session.to_dict()), context=self._context)
        # cookie values may not contain ':'; base64url keeps them plain ASCII
        return base64.urlsafe_b64encode(sealed.encode()).decode().rstrip("=")

    def open(self, cookie: str | None) -> Session | None:
        """The session in a cookie, or None for a missing, tampered or foreign cookie."""
        if not cookie or len(cookie) > 8192:
            return None
        try:
            padded = cookie + "=" * (-len(cookie) % 4)
            sealed = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
            return Session.from_dict(json.loads(self._box.decrypt(sealed, context=self._context)))
        except (DecryptionError, ValueError, KeyError, TypeError, UnicodeError):
            return None
