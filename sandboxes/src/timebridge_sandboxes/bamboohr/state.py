"""The BambooHR sandbox's data: one company's employees, time-off types and requests."""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass
class Employee:
    id: int
    first_name: str
    last_name: str
    work_email: str
    api_key: str | None = None


@dataclass
class TimeOffType:
    id: int
    name: str
    unit: str
    """``hours`` or ``days``: how requests of this type are counted."""


@dataclass
class Request:
    id: int
    employee_id: int
    start: dt.date
    end: dt.date
    created: dt.date
    status: str
    last_changed: dt.date
    last_changed_by: int
    type_id: int
    dates: dict[dt.date, Decimal]
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def amount(self) -> Decimal:
        return sum(self.dates.values(), Decimal(0))


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@dataclass
class BambooHrState:
    """One company; ``today`` dates creations and status changes (the company's calendar)."""

    company_domain: str = "acme"
    today: Callable[[], dt.date] = _today
    employees: dict[int, Employee] = field(default_factory=dict)
    types: dict[int, TimeOffType] = field(default_factory=dict)
    requests: dict[int, Request] = field(default_factory=dict)
    directory_shared: bool = True
    user_keys: set[str] = field(default_factory=set)
    """Keys of users who are no employee (an HR admin's account): ``employees/0`` is ``404``."""
    without_time_off: set[str] = field(default_factory=set)
    """Keys whose user may not see time off: its calls answer ``403``."""
    _next_employee: int = 4
    _next_request: int = 1340

    def reset(self) -> None:
        self.requests.clear()

    def add_employee(self, first: str, last: str, email: str, api_key: str | None = None) -> int:
        self._next_employee += 1
        employee = Employee(self._next_employee, first, last, email, api_key)
        self.employees[employee.id] = employee
        return employee.id

    def add_type(self, type_id: int, name: str, unit: str) -> None:
        self.types[type_id] = TimeOffType(type_id, name, unit)

    def by_key(self, api_key: str) -> Employee | None:
        """The key's employee; a user without one is employee ``0`` with no record."""
        if api_key in self.user_keys:
            return Employee(0, "", "", "", api_key)
        return next((e for e in self.employees.values() if e.api_key == api_key), None)

    def add_request(
        self,
        employee_id: int,
        start: dt.date,
        end: dt.date,
        type_id: int,
        *,
        status: str,
        dates: dict[dt.date, Decimal],
        by: int,
    ) -> Request:
        self._next_request += 1
        today = self.today()
        request = Request(
            self._next_request, employee_id, start, end, today, status, today, by, type_id, dates
        )
        self.requests[request.id] = request
        return request

    def set_status(self, request_id: int, status: str, by: int) -> Request:
        request = self.requests[request_id]
        request.status = status
        request.last_changed = self.today()
        request.last_changed_by = by
        return request


def spread(
    type_unit: str, start: dt.date, end: dt.date, amount: Decimal | None
) -> dict[dt.date, Decimal]:
    """A request's per-day amounts when only a total (or nothing) is given: every weekday of the
    range gets a working day (8 hours, or 1 day), or the total split evenly."""
    days = [
        start + dt.timedelta(n)
        for n in range((end - start).days + 1)
        if (start + dt.timedelta(n)).weekday() < 5
    ]
    if not days:
        return {}
    if amount is None:
        each = Decimal(8) if type_unit == "hours" else Decimal(1)
        return dict.fromkeys(days, each)
    return dict.fromkeys(days, (amount / len(days)).quantize(Decimal("0.01")))
