"""The one refusal every ingest use case raises: an HTTP status and the reason to show."""


class RejectedError(Exception):
    """The request cannot be carried out; ``status`` is the HTTP answer, ``reason`` says why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
