"""Contract lifecycle: draft -> signed -> active -> ended, and what each step allows.

A draft is freely edited; signing freezes its commercial terms (client, currency, rate card,
rounding) and is what ``ContractSigned`` announces; a signed contract becomes active, an active
(or signed) one ends. Nothing goes back: a changed deal is a new contract.
"""

from typing import Literal

Status = Literal["draft", "signed", "active", "ended"]

_NEXT: dict[str, frozenset[str]] = {
    "draft": frozenset({"signed"}),
    "signed": frozenset({"active", "ended"}),
    "active": frozenset({"ended"}),
    "ended": frozenset(),
}


def can_move(current: str, wanted: str) -> bool:
    """Whether ``current`` may become ``wanted`` (staying put is not a move)."""
    return wanted in _NEXT.get(current, frozenset())


def why_not(current: str, wanted: str) -> str:
    allowed = sorted(_NEXT.get(current, frozenset()))
    then = ", ".join(allowed) if allowed else "nothing (it is final)"
    return f"the contract is {current}: it cannot become {wanted}, only {then}"


def terms_editable(status: str) -> bool:
    """Client, currency, rate card and rounding change only while the contract is a draft."""
    return status == "draft"
