"""Tempo Cloud REST API v4 resources as typed models (the fields Timebridge reads).

From Tempo's documentation (apidocs.tempo.io, version 4, ``https://api.tempo.io/4``; the seeds'
``/rest/tempo-timesheets/4/...`` is the Server/Data Center plugin's path, not Cloud's). A worklog
names its Jira issue by numeric id (``issue.id``), its author by Jira ``accountId``; its time is
``timeSpentSeconds`` (and ``billableSeconds``, the billable part); ``startDate`` and ``startTime``
are the author's local date and wall-clock time; ``updatedAt`` is the last change (UTC). Lists
are ``{"self", "metadata": {"count", "offset", "limit", "next"}, "results": [...]}``.
"""

import datetime as dt

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class IssueRef(_Model):
    id: int
    self: str | None = None


class AuthorRef(_Model):
    accountId: str


class Worklog(_Model):
    tempoWorklogId: int
    issue: IssueRef
    author: AuthorRef
    timeSpentSeconds: int
    billableSeconds: int | None = None
    startDate: dt.date
    startTime: dt.time | None = None
    description: str | None = None
    createdAt: dt.datetime | None = None
    updatedAt: dt.datetime | None = None


class Metadata(_Model):
    count: int = 0
    offset: int = 0
    limit: int = 50
    next: str | None = None


class WorklogPage(_Model):
    metadata: Metadata = Metadata()
    results: tuple[Worklog, ...] = ()
