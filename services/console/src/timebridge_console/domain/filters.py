"""The sync log's filter form, turned into the reporting API's query (only what it accepts)."""

import datetime as dt
from collections.abc import Mapping

from timebridge_console.domain.choices import SYNC_STATUSES, FormError

TEXT_FILTERS = ("integration_id", "entry", "user")
TIME_FILTERS = ("since", "until")


def sync_log_query(form: Mapping[str, str]) -> dict[str, str]:
    """Filters for ``GET /sync-log``; times are the browser's local inputs, read as UTC."""
    query: dict[str, str] = {}
    status = form.get("status", "")
    if status:
        if status not in SYNC_STATUSES:
            raise FormError("choose a status from the list")
        query["status"] = status
    for name in TEXT_FILTERS:
        value = form.get(name, "").strip()
        if value:
            if len(value) > 320 or not value.isprintable():
                raise FormError(f"the {name.replace('_', ' ')} filter is not a plain value")
            query[name] = value
    for name in TIME_FILTERS:
        value = form.get(name, "").strip()
        if value:
            try:
                moment = dt.datetime.fromisoformat(value)
            except ValueError:
                raise FormError(f"'{name}' is not a date and time") from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.UTC)
            query[name] = moment.isoformat()
    return query
