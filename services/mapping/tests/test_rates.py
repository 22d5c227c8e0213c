"""A tracker's rates in Core's terms: through the project and user mappings, unmapped ones and
cost rates listed as left out with why."""

from decimal import Decimal

from timebridge_providers.kit.ports.directory import Rate

from timebridge_mapping.domain.mappings import ProjectMapping
from timebridge_mapping.domain.rates import CoreRate, in_core_terms
from timebridge_mapping.domain.users import DirectoryUser, UserPair


def test_rates_are_translated_through_the_mappings_and_the_rest_is_listed() -> None:
    rates = [
        Rate(Decimal("100"), "project", project_id="tp_1"),
        Rate(Decimal("150"), "project_user", project_id="tp_1", user_id="tu_max"),
        Rate(Decimal("90"), "user", user_id="tu_ann"),
        Rate(Decimal("70"), "project", project_id="tp_unmapped"),
        Rate(Decimal("80"), "user", user_id="tu_nobody"),
        Rate(Decimal("40"), "user", kind="cost", user_id="tu_ann"),
    ]
    projects = [ProjectMapping("p_web", "tp_1")]
    users = [
        UserPair(DirectoryUser("u_ann"), DirectoryUser("tu_ann"), "email"),
        UserPair(DirectoryUser("u_max"), DirectoryUser("tu_max"), "manual"),
    ]
    found = in_core_terms(rates, projects, users)
    assert found.rates == (
        CoreRate("p_web", None, Decimal("100"), "project"),
        CoreRate("p_web", "u_max", Decimal("150"), "project_user"),
        CoreRate(None, "u_ann", Decimal("90"), "user"),
    )
    assert found.left_out == (
        "project rate 70/h: tracker project tp_unmapped maps to no Core project",
        "user rate 80/h: tracker user tu_nobody maps to no Core user",
        "user rate 40/h: a cost rate, not a billing rate",
    )
