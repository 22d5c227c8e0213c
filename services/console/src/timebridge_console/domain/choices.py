"""The choices of the guide's Sync Configuration, with the words the screens show for them.

The values are the integrations API's (``IntegrationSettings``); the labels are the guide's.
"""

from collections.abc import Mapping

DIRECTIONS = {
    "two_way": "Two-way",
    "core_to_tracker": "Core to the tracker",
    "tracker_to_core": "The tracker to Core",
}
FREQUENCIES = {
    "realtime": "Real-time",
    "every_5_minutes": "Every 5 minutes",
    "hourly": "Hourly",
    "daily": "Daily",
}
UNMAPPED_USER_POLICIES = {
    "queue": "Queue: hold for manual assignment",
    "skip": "Skip: don't sync the entry",
    "default_user": "Default user: assign to a specified user",
}
CONFLICT_POLICIES = {
    "manual_review": "Manual review: flag conflicts for review",
    "prefer_core": "Prefer Core",
    "prefer_tracker": "Prefer the tracker",
}
POLL_STATES = {
    "ok": "Working",
    "failing": "Failing (retried)",
    "needs_reauthorisation": "Needs re-authorisation",
    "not_polled_yet": "Not polled yet",
    "not_polled": "Not polled (webhooks only)",
}
SYNC_STATUSES = {
    "synced": "Synced",
    "skipped": "Skipped",
    "queued": "Queued",
    "conflict": "Conflict",
    "error": "Error",
}
TEST_ERRORS = {
    "bad_key": "the API key was not accepted",
    "rate_limited": "too many requests",
    "timeout": "no answer in time",
    "unreachable": "the tracker cannot be reached",
    "refused": "the tracker refused the request",
}

FIELDS: Mapping[str, Mapping[str, str]] = {
    "direction": DIRECTIONS,
    "frequency": FREQUENCIES,
    "unmapped_user_policy": UNMAPPED_USER_POLICIES,
    "conflict_policy": CONFLICT_POLICIES,
}


class FormError(ValueError):
    """A form value the console will not send (a tampered or missing choice)."""


def settings_from_form(form: Mapping[str, str]) -> dict[str, str | None]:
    """The integration settings a submitted form asks for, each value one of the choices."""
    settings: dict[str, str | None] = {}
    for field, choices in FIELDS.items():
        value = form.get(field, "")
        if value not in choices:
            raise FormError(f"choose a {field.replace('_', ' ')}")
        settings[field] = value
    if settings["unmapped_user_policy"] == "default_user":
        settings["default_core_user_id"] = form.get("default_core_user_id", "").strip() or None
        settings["default_tracker_user_id"] = (
            form.get("default_tracker_user_id", "").strip() or None
        )
    return settings
