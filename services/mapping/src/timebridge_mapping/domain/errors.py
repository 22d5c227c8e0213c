"""Refusals of the management API's use cases; each kind carries the HTTP status it answers."""


class RefusedError(Exception):
    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotFoundError(RefusedError):
    status = 404


class ConflictError(RefusedError):
    """The change contradicts what is set up (e.g. a task already linked to another ticket)."""

    status = 409


class InvalidError(RefusedError):
    """An id the other system does not know, or one outside the mapped project."""

    status = 422


class UpstreamError(RefusedError):
    """Core or the tracker could not be asked (down, rate limited, refusing the credentials)."""

    status = 502
