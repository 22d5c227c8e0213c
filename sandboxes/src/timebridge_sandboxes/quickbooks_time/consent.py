"""QuickBooks Time's consent page, ``GET /api/v1/authorize`` (as its API documentation shows:
``response_type=code``, ``client_id``, ``redirect_uri``, ``state``): the shared sandbox consent
page (:mod:`timebridge_sandboxes.consent`) as the account's first user, its admin. The code is
exchanged once at ``POST /api/v1/grant`` (:mod:`.grant`) for the ``redirect_uri`` it was issued
for.
"""

from fastapi import Request

from timebridge_sandboxes.consent import ConsentPage, Consents, Person, consent_router
from timebridge_sandboxes.quickbooks_time.state import QuickBooksTimeState


def _state(request: Request) -> QuickBooksTimeState:
    state: QuickBooksTimeState = request.app.state.qbt
    return state


def _consents(request: Request) -> Consents:
    return _state(request).consents


def _person(request: Request) -> tuple[Person, str] | None:
    user = next(iter(_state(request).users.values()), None)
    return None if user is None else (user.id, f"{user.first_name} {user.last_name}")


consent = consent_router(ConsentPage("QuickBooks Time", "/api/v1/authorize", _consents, _person))
