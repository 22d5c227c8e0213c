"""``TB_DAILY_SYNC_AT`` is read by ingest too, so a fixed UTC daily slot holds for polls as well
as for mapping's Core changes (it used to be read by mapping only)."""

import datetime as dt

import pytest

from timebridge_common.crypto import SecretBox
from timebridge_ingest.config import Settings


def settings() -> Settings:
    return Settings(
        encryption_key=SecretBox.generate_key(),
        admin_token="admin-token",
        credentials_url="http://credentials.test",
        service_token="svc-token",
    )


def test_unset_means_the_end_of_each_workspaces_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TB_DAILY_SYNC_AT", raising=False)
    assert settings().daily_sync_at is None


def test_a_fixed_utc_time_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TB_DAILY_SYNC_AT", "23:00")
    assert settings().daily_sync_at == dt.time(23, 0)
