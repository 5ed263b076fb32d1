from datetime import UTC, datetime
from unittest import mock

import pytest

from local_runtime.throttling import Quota, TokenBucket, period_start


def test_bucket_allows_the_burst_then_refills_at_the_rate():
    clock = mock.Mock(return_value=100.0)
    with mock.patch("local_runtime.throttling.time.monotonic", clock):
        bucket = TokenBucket(rate=2, burst=3)
        assert [bucket.take() for _ in range(4)] == [True, True, True, False]
        clock.return_value = 100.5  # half a second at 2/s: one token
        assert [bucket.take(), bucket.take()] == [True, False]
        clock.return_value = 110.0  # never more than the burst
        assert sum(bucket.take() for _ in range(10)) == 3


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        ("DAY", datetime(2026, 11, 26, tzinfo=UTC)),
        ("WEEK", datetime(2026, 11, 23, tzinfo=UTC)),
        ("MONTH", datetime(2026, 11, 1, tzinfo=UTC)),
    ],
)
def test_quota_periods_start_at_utc_day_monday_and_first_of_month(period, expected):
    assert period_start(period, datetime(2026, 11, 26, 15, 30, tzinfo=UTC)) == expected


def test_quota_is_spent_within_a_period_and_starts_again_in_the_next():
    quota = Quota(limit=2, period="DAY")
    day = datetime(2026, 11, 26, 10, tzinfo=UTC)
    assert [quota.take(day), quota.take(day), quota.take(day)] == [True, True, False]
    assert quota.take(datetime(2026, 11, 27, 0, 0, 1, tzinfo=UTC))
