"""The console's pure parts: sessions, CSRF, error wording, forms, conflicts; its templates."""

import datetime as dt

import pytest
from pydantic import ValidationError

from timebridge_common.crypto import SecretBox
from timebridge_console.adapters.api import ServiceApis
from timebridge_console.adapters.session_cookie import SessionCodec
from timebridge_console.config import ServiceUrls, Settings
from timebridge_console.domain.choices import FormError, settings_from_form
from timebridge_console.domain.conflicts import SYSTEM_IDS, compare
from timebridge_console.domain.errors import ApiError, explain, reason_of
from timebridge_console.domain.filters import sync_log_query
from timebridge_console.domain.session import anonymous, signed_in
from timebridge_console.entrypoints.web import PACKAGE, Web

NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def test_session_cookie_round_trips_and_refuses_tampering_and_other_keys() -> None:
    codec = SessionCodec(SecretBox.generate_key())
    session = signed_in("acme", "core-token", NOW, HOUR)
    sealed = codec.seal(session)
    assert "core-token" not in sealed
    assert codec.open(sealed) == session
    flipped = sealed[:-3] + ("A" if sealed[-3] != "A" else "B") + sealed[-2:]
    assert codec.open(flipped) is None
    assert SessionCodec(SecretBox.generate_key()).open(sealed) is None
    assert codec.open("") is None
    assert codec.open("not base64 at all ☃") is None


def test_sessions_expire_and_check_their_csrf_token() -> None:
    session = signed_in("acme", "t", NOW, HOUR)
    assert session.signed_in
    assert not session.expired(NOW + HOUR - dt.timedelta(seconds=1))
    assert session.expired(NOW + HOUR)
    assert session.accepts(session.csrf)
    assert not session.accepts(None)
    assert not session.accepts(anonymous(NOW, HOUR).csrf)
    assert signed_in("acme", "t", NOW, HOUR).csrf != session.csrf


def test_error_bodies_become_one_sentence_with_the_services_reason() -> None:
    assert reason_of({"detail": "only the workspace's admins manage integrations"}, "x") == (
        "only the workspace's admins manage integrations"
    )
    fields = {"detail": [{"loc": ["body", "settings", "direction"], "msg": "bad value"}]}
    assert reason_of(fields, "x") == "settings.direction: bad value"
    assert reason_of({"detail": "", "errors": [{"loc": ["query", "since"], "msg": "no"}]}, "x") == (
        "since: no"
    )
    assert reason_of(None, "Bad Gateway") == "Bad Gateway"
    assert explain(ApiError("ingest", 403, "not yours")) == "Refused: not yours."
    assert "Sign in again" in explain(ApiError("ingest", 401, "Core did not accept the token"))
    assert "cannot be reached" in explain(ApiError("reporting", 0, "ConnectError"))
    assert "(418)" in explain(ApiError("mapping", 418, "teapot"))


def test_a_handled_api_error_can_drop_its_traceback() -> None:
    """Starlette sets ``exc.__traceback__ = None`` after its handler ran (was a 500)."""
    error = ApiError("ingest", 403, "not yours")
    error.__traceback__ = None
    assert error.__traceback__ is None


def test_settings_form_accepts_only_the_guides_choices() -> None:
    form = {
        "direction": "two_way",
        "frequency": "hourly",
        "unmapped_user_policy": "default_user",
        "conflict_policy": "prefer_core",
        "default_core_user_id": " u_1 ",
        "default_tracker_user_id": "",
    }
    assert settings_from_form(form) == {
        "direction": "two_way",
        "frequency": "hourly",
        "unmapped_user_policy": "default_user",
        "conflict_policy": "prefer_core",
        "default_core_user_id": "u_1",
        "default_tracker_user_id": None,
    }
    with pytest.raises(FormError, match="direction"):
        settings_from_form(form | {"direction": "sideways"})


def test_sync_log_filters_pass_only_known_values() -> None:
    query = sync_log_query(
        {"status": "error", "entry": " te_1 ", "since": "2026-11-20T08:00", "until": ""}
    )
    assert query == {"status": "error", "entry": "te_1", "since": "2026-11-20T08:00:00+00:00"}
    with pytest.raises(FormError):
        sync_log_query({"status": "everything"})
    with pytest.raises(FormError):
        sync_log_query({"since": "yesterday"})
    with pytest.raises(FormError):
        sync_log_query({"user": "ann\x00@acme.test"})


def test_conflicts_mark_the_fields_that_differ_but_not_each_systems_ids() -> None:
    source = {
        "user": {"email": "ann@acme.test"},
        "date": "2026-11-20",
        "duration_seconds": 6600,
        "notes": "Login bug",
        "billable": True,
        "task_external_id": "T-1",
    }
    target = source | {"duration_seconds": 5400, "task_external_id": "ev:7000000001"}
    rows = {row.field: row for row in compare(source, target)}
    assert rows["duration_seconds"].differs
    assert rows["duration_seconds"].source == "1h 50m (6600 s)"
    assert not rows["notes"].differs
    assert not rows["task_external_id"].differs
    everhour = target | {"user": {"external_id": "1001"}, "started_at": None}
    rows = {row.field: row for row in compare(source | {"started_at": "08:00"}, everhour)}
    assert rows["user"].target == "1001"
    assert not rows["user"].differs
    assert not rows["started_at"].differs
    assert rows["duration_seconds"].differs
    moved = {row.field: row for row in compare(source, target | {"user": {"email": "max@x.test"}})}
    assert moved["user"].differs
    missing = [r for r in compare(source, None) if r.source != "—" and r.field not in SYSTEM_IDS]
    assert missing
    assert all(row.differs for row in missing)


def test_every_template_compiles_with_the_consoles_filters() -> None:
    web = Web(
        SessionCodec(SecretBox.generate_key()),
        ServiceApis(ServiceUrls(), timeout_s=1),
        ttl=HOUR,
        secure_cookies=False,
    )
    names = sorted(p.name for p in (PACKAGE / "templates").iterdir() if p.suffix == ".html")
    assert "invoice.html" in names
    for name in names:
        web.templates.env.get_template(name)


def test_a_short_session_key_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="session_key"):
        Settings(session_key="too-short")
    assert Settings(session_key="x" * 32).session_key is not None


def test_service_urls_come_from_the_environment_and_others_are_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TB_SERVICES__INGEST_URL", "http://ingest.internal:80")
    monkeypatch.setenv("TB_SERVICES__CONTRACTS_URL", "http://contracts.internal:80")
    assert Settings().services.ingest_url == "http://ingest.internal:80"
