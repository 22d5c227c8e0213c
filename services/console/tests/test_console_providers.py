"""The console's provider names and choices come from the providers API, never from its code."""

from typing import Any

from timebridge_console.domain.providers import Catalog, initials

LISTED: list[dict[str, Any]] = [
    {"name": "hub", "title": "Hub", "kind": "home", "auth": "token", "directions": []},
    {
        "name": "punch",
        "title": "Punch Clock",
        "kind": "tracker",
        "auth": "api_key",
        "directions": [
            {"direction": "two_way", "allowed": True, "why_not": None},
            {"direction": "tracker_to_core", "allowed": True, "why_not": None},
        ],
    },
    {
        "name": "reader",
        "title": "Reader",
        "kind": "tracker",
        "auth": "api_key",
        "directions": [
            {"direction": "two_way", "allowed": False, "why_not": "read-only API"},
            {"direction": "tracker_to_core", "allowed": True, "why_not": None},
        ],
    },
    {"name": "oauthy", "title": "OAuthy", "kind": "tracker", "auth": "oauth2", "directions": []},
    {
        "name": "hours",
        "title": "Hours",
        "kind": "tracker",
        "auth": "token",
        "connection_fields": {"account_id": "Account ID"},
    },
    {"name": "books", "title": "Books Online", "kind": "accounting", "auth": "oauth2"},
]
CATALOG = Catalog.of(LISTED)


def test_titles_come_from_the_list_and_an_unknown_name_is_shown_title_cased() -> None:
    assert CATALOG.label("punch") == "Punch Clock"
    assert CATALOG.label("some_tool") == "Some Tool"
    assert Catalog().label("punch") == "Punch"


def test_only_trackers_with_an_api_key_are_offered_to_connect_with_a_pasted_key() -> None:
    assert CATALOG.key_trackers() == {
        "punch": "Punch Clock",
        "reader": "Reader",
        "hours": "Hours",
    }


def test_oauth_trackers_are_connected_by_consent_and_offered_beside_the_key_ones() -> None:
    assert CATALOG.oauth_trackers() == {"oauthy": "OAuthy"}  # not the accounting tool
    assert set(CATALOG.connectable_trackers()) == {"punch", "reader", "hours", "oauthy"}


def test_a_providers_connection_fields_are_asked_for_and_read_from_the_form() -> None:
    assert CATALOG.fields("hours") == {"account_id": "Account ID"}
    assert CATALOG.fields("punch") == {}
    form = {"api_key": "k", "field_account_id": " 42 ", "field_other": "x"}
    assert CATALOG.entered("hours", form) == {"account_id": "42"}
    assert CATALOG.entered("punch", form) == {}


def test_accounting_tools_and_directions_not_allowed_with_their_reason() -> None:
    assert CATALOG.accounting() == {"books": "Books Online"}
    assert CATALOG.directions("reader") == {"two_way": "read-only API"}
    assert CATALOG.directions("punch") == {}
    assert CATALOG.directions("unknown") == {}


def test_a_tools_badge_is_made_of_its_titles_capitals() -> None:
    assert [initials(t) for t in ("Books Online", "Ledger", "PayFlow Cloud", "abc")] == [
        "BO",
        "L",
        "PF",
        "AB",
    ]
