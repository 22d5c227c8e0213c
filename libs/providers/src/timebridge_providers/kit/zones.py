"""Time zones as providers give them: an IANA name, or nothing usable.

A provider's user, workspace or connection zone may be missing, empty or a name this machine's
zone database does not know; dates are then read in UTC rather than failing the whole listing.
(Harvest names Rails zones, mapped in ``harvest/zones.py`` before they get here.)
"""

import zoneinfo


def zone_name(name: str | None) -> str:
    """``name`` when it is an IANA zone known here, else ``UTC``."""
    if not name:
        return "UTC"
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return name
