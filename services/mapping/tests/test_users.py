"""User resolution: email matching, manual overrides and the unmapped-user policies."""

from typing import Any

import pytest

from timebridge_common.events import IntegrationSettings, UserRef
from timebridge_mapping.domain.outcomes import NotMapped
from timebridge_mapping.domain.users import (
    DirectoryUser,
    MappedUser,
    UserDirectory,
    match_user,
    unmapped_user,
)

ANN = DirectoryUser("u_1", "Ann@Acme.test ", "Ann")
BOB = DirectoryUser("u_2", "bob@acme.test", "Bob")
EV_ANN = DirectoryUser("1001", "ann@acme.test", "Ann A.")
EV_BOB = DirectoryUser("1002", "bob@acme.test", "Bob B.")
EV_CARL = DirectoryUser("1003", "carl@acme.test", "Carl")
DIRECTORY = UserDirectory(core=(ANN, BOB), tracker=(EV_ANN, EV_BOB, EV_CARL))


def core_ref(user: DirectoryUser) -> UserRef:
    return UserRef(external_id=user.id, email=user.email)


def test_users_match_by_email_ignoring_case_and_spaces() -> None:
    found = match_user(DIRECTORY, core_ref(ANN), source="core")
    assert found == MappedUser(EV_ANN.ref(), "email")
    back = match_user(DIRECTORY, UserRef(external_id="1001"), source="tracker")
    assert back == MappedUser(ANN.ref(), "email")


def test_a_manual_mapping_wins_over_email_on_both_sides() -> None:
    directory = UserDirectory(core=(ANN, BOB), tracker=(EV_ANN, EV_BOB), manual=(("u_2", "1001"),))
    assert match_user(directory, core_ref(BOB), source="core") == MappedUser(EV_ANN.ref(), "manual")
    # Ann's email still matches Everhour's Ann, but Everhour's Ann is manually Bob's now.
    assert match_user(directory, core_ref(ANN), source="core") is None
    assert [(p.core.id, p.tracker.id, p.matched_by) for p in directory.pairs()] == [
        ("u_2", "1001", "manual")
    ]
    assert directory.unmapped() == ([ANN], [EV_BOB])


def test_an_email_two_users_share_matches_nobody() -> None:
    twin = DirectoryUser("1009", "ANN@acme.test", "Other Ann")
    directory = UserDirectory(core=(ANN,), tracker=(EV_ANN, twin))
    assert match_user(directory, core_ref(ANN), source="core") is None


def test_the_entrys_own_email_counts_before_a_refresh_knows_the_user() -> None:
    newcomer = UserRef(external_id="u_9", email="carl@ACME.test")
    assert match_user(DIRECTORY, newcomer, source="core") == MappedUser(EV_CARL.ref(), "email")
    assert match_user(DIRECTORY, UserRef(external_id="u_9"), source="core") is None


def policy(
    name: str, *, deleted: bool = False, source: str = "core", **defaults: Any
) -> MappedUser | NotMapped:
    settings = IntegrationSettings.model_validate({"unmapped_user_policy": name, **defaults})
    ref = UserRef(external_id="u_9", email="zed@acme.test")
    return unmapped_user(
        DIRECTORY,
        ref,
        source="core" if source == "core" else "tracker",
        settings=settings,
        deleted=deleted,
        tracker="everhour",
    )


def test_skip_policy_skips_with_the_reason() -> None:
    outcome = policy("skip")
    assert isinstance(outcome, NotMapped)
    assert outcome.status == "skipped"
    assert "no everhour user is mapped to Core user u_9 <zed@acme.test>" in outcome.reason


def test_queue_policy_holds_the_entry_but_never_a_deletion() -> None:
    assert policy("queue") == NotMapped(
        "queued", "no everhour user is mapped to Core user u_9 <zed@acme.test>; held until one is"
    )
    deleted = policy("queue", deleted=True)
    assert isinstance(deleted, NotMapped)
    assert deleted.status == "skipped"
    assert "deleted" in deleted.reason


@pytest.mark.parametrize(
    ("source", "expected"),
    [("core", EV_CARL.ref()), ("tracker", BOB.ref())],
)
def test_default_user_policy_gives_the_entry_to_that_sides_default(
    source: str, expected: UserRef
) -> None:
    defaults: dict[str, Any] = {"default_tracker_user_id": "1003", "default_core_user_id": "u_2"}
    outcome = policy("default_user", source=source, **defaults)
    assert outcome == MappedUser(expected, "default_user")
    assert policy("default_user", source=source, deleted=True, **defaults) == outcome


def test_default_user_policy_without_a_default_skips() -> None:
    outcome = policy("default_user", source="tracker", default_tracker_user_id="1003")
    assert isinstance(outcome, NotMapped)
    assert outcome.status == "skipped"
    assert "no default Core user" in outcome.reason
