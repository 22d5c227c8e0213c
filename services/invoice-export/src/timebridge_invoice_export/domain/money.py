"""Exact money: the rounding rule of every amount on a Timebridge invoice.

The rule, applied in this order and nowhere else:

1. **Hours** of a line are its entries' seconds summed, divided by 3600, rounded half-up to
   hundredths of an hour (36 seconds): ``hours(5400) == Decimal("1.50")``. Entries are summed
   *before* rounding, so a line of many short entries loses at most 18 seconds, not 18 per entry.
2. **Line amount** is ``hours x rate``, rounded half-up to the minor unit of the invoice's currency
   (cents; none for JPY; three places for KWD). Accounting tools compute ``Qty x UnitPrice``
   themselves (QuickBooks refuses a line whose ``Amount`` differs), so the quantity sent is the
   rounded one and both sides get the same amount.
3. **Total** is the sum of the rounded line amounts: no rounding at the total.

Everything is :class:`~decimal.Decimal`; floats never hold money.
"""

from decimal import ROUND_HALF_UP, Decimal

HOUR = Decimal(3600)
HOURS_QUANTUM = Decimal("0.01")

_MINOR_UNITS = {
    # ISO 4217 currencies whose minor unit is not 1/100.
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
}


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of ``currency``: ``0.01`` for most, ``1`` for JPY."""
    return Decimal(1).scaleb(-_MINOR_UNITS.get(currency.upper(), 2))


def round_money(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


def hours(seconds: int) -> Decimal:
    """Billable hours of ``seconds`` of work, to hundredths (rule 1)."""
    return (Decimal(seconds) / HOUR).quantize(HOURS_QUANTUM, rounding=ROUND_HALF_UP)


def line_amount(quantity: Decimal, unit_price: Decimal, currency: str) -> Decimal:
    """Rule 2."""
    return round_money(quantity * unit_price, currency)
