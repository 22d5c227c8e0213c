"""What the Projects and rates page shows of invoice-export's answers, and reads from its forms."""

import re
from collections.abc import Iterable, Mapping
from typing import Any

from timebridge_console.domain.choices import FormError

RATE = re.compile(r"^\d{1,10}(\.\d{1,4})?$")
CURRENCY = re.compile(r"^[A-Z]{3}$")


def project_rates(rates: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Each project's own rate (not a user's on it), by project id."""
    return {
        str(r["project_id"]): r
        for r in rates
        if r.get("project_id")
        and not r.get("user_id")
        and r.get("source", "timebridge") == "timebridge"
    }


def rate_from_form(fields: Mapping[str, str]) -> tuple[str, str]:
    """(hourly rate, currency) as the rates API takes them, or a FormError saying what is wrong."""
    rate = fields.get("hourly_rate", "").strip().replace(",", ".")
    currency = fields.get("currency", "").strip().upper()
    if not RATE.fullmatch(rate):
        raise FormError("enter the hourly rate as a number, e.g. 120 or 95.50")
    if not CURRENCY.fullmatch(currency):
        raise FormError("enter the currency as its three-letter code, e.g. USD or EUR")
    return rate, currency
