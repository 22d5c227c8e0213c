"""QuickBooks Time (formerly TSheets) API v1 resources as typed models (the fields read).

From the API's documentation (tsheetsteam.github.io/api_docs, the Postman collection in
``../shared/provider-specs/quickbooks-time-v1.postman_collection.json``): lists answer
``{"results": {"<resource>": {"<id>": {...}}}, "more": bool, "supplemental_data": {...}}``;
writes take ``{"data": [...]}`` and answer each item under its position (``"1"``, ``"2"``) with
``_status_code``/``_status_message`` (``_status_extra`` for why); an error of the whole request is
``{"error": {"code": ..., "message": ...}}``. A timesheet's ``duration`` is seconds; a ``regular``
one has ``start``/``end`` in ISO 8601 with the user's offset, a ``manual`` one only ``date`` and
``duration``; ``on_the_clock`` is a running timer; ``jobcode_id`` names a jobcode (the job and
task tree: ``parent_id`` 0 is a top-level job).
"""

import datetime as dt

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Timesheet(_Model):
    id: int
    user_id: int
    jobcode_id: int = 0
    type: str = "regular"
    start: str = ""
    end: str = ""
    date: dt.date
    duration: int = 0
    tz: float | None = None
    on_the_clock: bool = False
    locked: int = 0
    notes: str = ""
    last_modified: dt.datetime | None = None


class User(_Model):
    id: int
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    active: bool = True
    approved_to: str = ""
    submitted_to: str = ""


class Jobcode(_Model):
    id: int
    parent_id: int = 0
    name: str
    active: bool = True
    billable: bool = False
    has_children: bool = False
    last_modified: dt.datetime | None = None
