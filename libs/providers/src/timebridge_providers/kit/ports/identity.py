"""Who a token belongs to, as the home system says (Core's ``GET /me``)."""

from contextlib import AbstractAsyncContextManager
from typing import Protocol

from timebridge_common.auth import IdentityClient

__all__ = ["Identity", "IdentityClient"]


class Identity(Protocol):
    """Opens an identity client with a user's own token at the home system's base URL."""

    def __call__(
        self, base_url: str, user_token: str
    ) -> AbstractAsyncContextManager[IdentityClient]: ...
