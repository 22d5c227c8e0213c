"""A service's refusal, in words an admin understands, with the service's own reason kept."""

from dataclasses import dataclass
from typing import Any

SERVICE_NAMES = {
    "ingest": "integrations",
    "mapping": "mapping",
    "conflict_resolver": "conflict review",
    "invoice_export": "accounting",
    "reporting": "sync log and reports",
}


@dataclass(eq=False)
class ApiError(Exception):
    """A service answered with an error status, or could not be reached (``status`` 0).

    Not frozen: Starlette clears a handled exception's ``__traceback__``, which a frozen
    dataclass refuses (the refusal page then became a 500).
    """

    service: str
    status: int
    reason: str

    def __str__(self) -> str:
        return explain(self)

    @property
    def signed_out(self) -> bool:
        """Core no longer accepts the token: the admin must sign in again."""
        return self.status == 401


def reason_of(body: Any, fallback: str) -> str:
    """The human reason in an error body: ``detail`` (a string, or FastAPI's list of fields)."""
    if isinstance(body, dict):
        detail = body.get("detail")
        if isinstance(detail, str) and detail:
            return detail
        items = detail if isinstance(detail, list) else body.get("errors")
        if isinstance(items, list) and items:
            return "; ".join(_field_error(item) for item in items)
    return fallback


def _field_error(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    loc = [str(part) for part in item.get("loc", []) if part not in ("body", "query", "path")]
    message = str(item.get("msg", "invalid"))
    return f"{'.'.join(loc)}: {message}" if loc else message


_BY_STATUS = {
    401: "Your sign-in was not accepted: {reason}. Sign in again with a Core token.",
    403: "Refused: {reason}.",
    404: "Not found: {reason}.",
    400: "Not saved: {reason}.",
    409: "Not saved: {reason}.",
    422: "Not saved: {reason}.",
    502: "An outside system did not answer as expected: {reason}.",
    504: "An outside system did not answer as expected: {reason}.",
    503: "The {area} service is busy or a system it needs is down: {reason}. Retry.",
    0: "The {area} service cannot be reached right now ({reason}). Try again.",
}


def explain(error: ApiError) -> str:
    """One sentence for the page: what happened, then the service's reason verbatim."""
    area = SERVICE_NAMES.get(error.service, error.service)
    template = _BY_STATUS.get(error.status, "The {area} service failed ({status}): {reason}.")
    return template.format(area=area, reason=error.reason, status=error.status)
