"""Who can be picked as an integration's default user: both sides' people, as mapping lists them.

The settings' default users are chosen from a list rather than typed as ids; one set before and
no longer listed (left the team) stays selectable, shown by its id, so saving other settings
does not silently clear it.
"""

from collections.abc import Mapping
from typing import Any

SIDES = {"core": "default_core_user_id", "tracker": "default_tracker_user_id"}


def team(users: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Per side (``core``, ``tracker``), its people from mapping's user-mappings answer."""
    found: dict[str, list[dict[str, Any]]] = {}
    for side, field in SIDES.items():
        people = [m[f"{side}_user"] for m in users.get("mappings", [])]
        people += list(users.get(f"unmapped_{side}_users", []))
        unique = list({p["id"]: p for p in people}.values())
        current = settings.get(field)
        if current and all(p["id"] != current for p in unique):
            unique.append({"id": current, "name": None, "email": None})
        found[side] = sorted(unique, key=lambda p: (p.get("name") or p["id"]).casefold())
    return found
