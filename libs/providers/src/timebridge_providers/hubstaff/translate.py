"""Hubstaff daily activities -> the canonical ``TimeEntryFields`` (written once, here).

A daily activity is Hubstaff's record of one user's time on one project and task on one date
(``task_user_day`` granularity, like Everhour's): ``tracked`` seconds, of which ``billable``
seconds. Its ``date`` is the organization's date (Hubstaff cuts days in the organization's time
zone), so an entry across midnight or a DST change is already on the day Hubstaff assigns it, and
no start time exists. Billable is true when every tracked second is billable (mixed days are
reported by the summary's billable seconds). ``tracked`` 0 means the time was deleted.
"""

from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_providers.hubstaff.wire import DailyActivity, User

SOURCE = "hubstaff"


def activity_fields(activity: DailyActivity, user: User | None = None) -> TimeEntryFields:
    return TimeEntryFields(
        user=UserRef(
            external_id=str(activity.user_id),
            email=user.email if user else None,
            name=user.name if user else None,
        ),
        project_external_id=str(activity.project_id),
        task_external_id=None if activity.task_id is None else str(activity.task_id),
        date=activity.date,
        duration_seconds=max(0, activity.tracked),
        notes="",
        billable=activity.tracked > 0 and activity.billable >= activity.tracked,
    )
