"""Dead-letter headers, the DlqLimit cut-off and retry backoff."""

import pytest

from timebridge_common.config import DlqLimitConfig, RetryConfig
from timebridge_common.errors import TransientError
from timebridge_common.kafka.consumer import backoff_delay
from timebridge_common.kafka.dlt import (
    DlqLimit,
    DlqLimitExceededError,
    SourceRecord,
    dead_letter_headers,
    dlt_topic,
)

RECORD = SourceRecord(
    topic="timebridge.time-entry-logged.v1",
    partition=2,
    offset=41,
    timestamp=1_763_700_000_000,
    timestamp_type=0,
    key=b"k",
    value=b"{}",
    headers={"ce_id": "abc", "kafka_dlt-exception-message": "from an earlier failure"},
)


def test_dead_letter_headers_keep_the_original_and_say_why() -> None:
    try:
        try:
            raise ConnectionError("socket closed")
        except ConnectionError as cause:
            raise TransientError("everhour unreachable") from cause
    except TransientError as exc:
        headers = dead_letter_headers(
            RECORD,
            group_id="timebridge-mapping",
            error=exc,
            reason=exc.reason,
            error_class="transient",
            attempts=5,
        )
    assert dlt_topic(RECORD.topic) == "timebridge.time-entry-logged.v1.DLT"
    assert headers["ce_id"] == "abc"
    assert headers["kafka_dlt-original-topic"] == RECORD.topic
    assert headers["kafka_dlt-original-partition"] == "2"
    assert headers["kafka_dlt-original-offset"] == "41"
    assert headers["kafka_dlt-original-timestamp"] == "1763700000000"
    assert headers["kafka_dlt-original-timestamp-type"] == "CREATE_TIME"
    assert headers["kafka_dlt-original-consumer-group"] == "timebridge-mapping"
    assert headers["kafka_dlt-exception-fqcn"] == "timebridge_common.errors.TransientError"
    assert headers["kafka_dlt-exception-cause-fqcn"] == "builtins.ConnectionError"
    assert headers["kafka_dlt-exception-message"] == "everhour unreachable"
    assert "socket closed" in headers["kafka_dlt-exception-stacktrace"]
    assert headers["kafka_deliveryAttempt"] == "5"
    assert headers["timebridge_dlt-error-class"] == "transient"


def test_limit_trips_on_a_run_of_failures() -> None:
    limit = DlqLimit(DlqLimitConfig(max_consecutive=3, min_samples=1000))
    for _ in range(3):
        limit.check_invalid()
    with pytest.raises(DlqLimitExceededError, match="4 consecutive"):
        limit.check_invalid()
    limit.record_valid()
    limit.check_invalid()


def test_limit_trips_on_the_ratio_only_after_enough_samples() -> None:
    limit = DlqLimit(
        DlqLimitConfig(max_invalid_ratio=0.5, window=10, min_samples=4, max_consecutive=100)
    )
    limit.check_invalid()  # 1 of 1 failed, but too few samples to judge
    limit.record_valid()
    limit.check_invalid()  # 2 of 3
    limit.record_valid()  # 2 of 4 = 50%, not above
    with pytest.raises(DlqLimitExceededError, match="60% of the last 5"):
        limit.check_invalid()


def test_a_tripped_check_does_not_count_the_message() -> None:
    limit = DlqLimit(DlqLimitConfig(max_consecutive=1, min_samples=1000))
    limit.check_invalid()
    for _ in range(3):
        with pytest.raises(DlqLimitExceededError, match="2 consecutive"):
            limit.check_invalid()


def test_backoff_doubles_up_to_the_cap_and_honours_retry_after() -> None:
    config = RetryConfig(initial_backoff_s=0.5, max_backoff_s=4)
    assert [backoff_delay(config, n) for n in range(1, 6)] == [0.5, 1, 2, 4, 4]
    assert backoff_delay(config, 1, retry_after=30) == 30
