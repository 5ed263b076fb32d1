"""The shared HTTP layer: which responses are retried, how long it waits, and what a failure looks like."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from clients.http import ApiError, HttpClient, RequestStats, RetryPolicy, Unreachable, retry_after_s


class FakeTime:
    """A clock that only moves when the client sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def client_for(answers, policy: RetryPolicy | None = None, time_: FakeTime | None = None):
    """An HttpClient whose server answers from ``answers`` (responses or exceptions, in order; the last
    one repeats); every request it received is in the returned list."""
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    time_ = time_ or FakeTime()
    client = HttpClient(
        "https://api.example.test/dev",
        api_key="key-1",
        token="jwt-1",
        policy=policy or RetryPolicy(),
        stats=RequestStats(),
        transport=httpx.MockTransport(handler),
        sleep=time_.sleep,
        clock=time_.clock,
        rng=random.Random(1),
    )
    return client, seen, time_


def problem(status: int, detail: str, **extra) -> httpx.Response:
    body = {"type": "about:blank", "title": "t", "status": status, "detail": detail, **extra}
    return httpx.Response(status, json=body, headers={"Content-Type": "application/problem+json"})


THROTTLED = httpx.Response(429, json={"message": "Too Many Requests"})


def test_429_then_200_resends_the_identical_request():
    client, seen, clock = client_for([THROTTLED, httpx.Response(201, json={"orderId": "o-1"})])
    body = {"items": [{"productId": "p", "quantity": 1}], "paymentToken": "tok_visa"}

    response = client.request("POST", "/orders", json_body=body, headers={"Idempotency-Key": "k-1"})

    assert response.status_code == 201
    assert len(seen) == 2
    first, second = seen
    assert first.content == second.content
    assert json.loads(first.content) == body
    for name in ("Idempotency-Key", "x-api-key", "Authorization", "Content-Type"):
        assert first.headers[name] == second.headers[name]
    assert first.headers["Authorization"] == "Bearer jwt-1"
    assert str(first.url) == "https://api.example.test/dev/orders"
    assert len(clock.sleeps) == 1
    assert client.stats.throttled == 1
    assert client.stats.retries == 1


def test_retry_after_in_seconds_is_honoured():
    answer = httpx.Response(429, headers={"Retry-After": "3"}, json={"message": "Too Many Requests"})
    client, seen, clock = client_for([answer, httpx.Response(200, json={})])
    client.request("GET", "/products")
    assert clock.sleeps == [3.0]
    assert len(seen) == 2


def test_retry_after_as_an_http_date_is_honoured():
    when = datetime.now(UTC) + timedelta(seconds=5)
    assert retry_after_s(format_datetime(when, usegmt=True), now=when.timestamp() - 5) == pytest.approx(
        5, abs=1
    )
    assert retry_after_s("soon") is None
    assert retry_after_s(None) is None
    assert retry_after_s("0") == 0.0


def test_a_retry_after_beyond_the_deadline_gives_up_at_once():
    answer = httpx.Response(503, headers={"Retry-After": "120"}, json={"message": "busy"})
    client, seen, clock = client_for([answer], RetryPolicy(deadline_s=30))
    with pytest.raises(ApiError) as raised:
        client.request("GET", "/products")
    assert raised.value.status == 503
    assert len(seen) == 1
    assert clock.sleeps == []


def test_gives_up_after_the_deadline():
    policy = RetryPolicy(max_attempts=1000, base_delay_s=1.0, max_delay_s=4.0, deadline_s=10.0)
    client, seen, clock = client_for([problem(503, "try later")], policy)
    with pytest.raises(ApiError) as raised:
        client.request("GET", "/orders")
    assert raised.value.status == 503
    assert raised.value.detail == "try later"
    assert raised.value.attempts == len(seen) > 1
    assert sum(clock.sleeps) <= 10.0
    assert len(clock.sleeps) == len(seen) - 1


def test_gives_up_after_the_last_attempt():
    client, seen, _ = client_for(
        [httpx.Response(502, json={"message": "Internal server error"})], RetryPolicy(max_attempts=4)
    )
    with pytest.raises(ApiError) as raised:
        client.request("GET", "/orders")
    assert len(seen) == 4
    assert raised.value.attempts == 4
    assert raised.value.detail == "Internal server error"


def test_backoff_is_full_jitter_and_capped():
    policy = RetryPolicy(base_delay_s=0.1, max_delay_s=1.0)
    rng = random.Random(3)
    for retry in range(8):
        ceiling = min(1.0, 0.1 * 2**retry)
        delays = [policy.backoff(retry, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # spread over the whole range, not a fixed delay


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_4xx_other_than_429_is_never_retried(status: int):
    client, seen, clock = client_for([problem(status, "nope", productIds=["p"])])
    with pytest.raises(ApiError) as raised:
        client.request("PUT", "/anything", json_body={})
    assert len(seen) == 1
    assert clock.sleeps == []
    assert raised.value.status == status
    assert raised.value.detail == "nope"
    assert raised.value.problem["productIds"] == ["p"]


def test_a_5xx_to_a_request_that_is_not_idempotent_is_not_retried():
    client, seen, _ = client_for([problem(503, "busy"), httpx.Response(200, json={})])
    with pytest.raises(ApiError):
        client.request("POST", "/orders/o-1/fulfil")
    assert len(seen) == 1


def test_a_429_is_retried_even_when_the_request_is_not_idempotent():
    # API Gateway throttles before the integration: the function never saw the request.
    client, seen, _ = client_for([THROTTLED, THROTTLED, httpx.Response(200, json={})])
    assert client.request("POST", "/orders/o-1/fulfil").status_code == 200
    assert len(seen) == 3
    assert client.stats.throttled == 2


def test_connection_errors_are_retried_and_then_reported():
    refused = httpx.ConnectError("refused")
    client, seen, _ = client_for([refused, httpx.Response(200, json={"ok": True})])
    assert client.json("POST", "/devices/d/telemetry", json_body={"readings": []}) == {"ok": True}
    assert len(seen) == 2

    client, seen, _ = client_for([refused], RetryPolicy(max_attempts=3))
    with pytest.raises(Unreachable) as raised:
        client.request("GET", "/products")
    assert raised.value.attempts == 3
    assert client.stats.connection_errors == 3


def test_a_lost_response_is_retried_only_when_repeating_is_safe():
    lost = httpx.ReadError("connection reset")
    client, seen, _ = client_for([lost, httpx.Response(202, json={})])
    with pytest.raises(Unreachable):
        client.request("POST", "/orders/o-1/fulfil")
    assert len(seen) == 1

    client, seen, _ = client_for([lost, httpx.Response(202, json={})])
    client.request("POST", "/devices/d/telemetry", json_body={"readings": [1]}, idempotent=True)
    assert len(seen) == 2
    assert seen[0].content == seen[1].content


def test_gateway_errors_and_bodies_that_are_not_json_still_carry_a_detail():
    client, _, _ = client_for([httpx.Response(403, json={"message": "Forbidden"})])
    with pytest.raises(ApiError) as raised:
        client.request("GET", "/orders")
    assert (raised.value.status, raised.value.detail) == (403, "Forbidden")

    client, _, _ = client_for([httpx.Response(404, text="<html>")])
    with pytest.raises(ApiError) as raised:
        client.request("GET", "/orders")
    assert raised.value.detail == "Not Found"
    assert "404" in str(raised.value)


def test_stats_add_up():
    total = RequestStats()
    other = RequestStats()
    other.record(429, retried=True)
    other.record(200, retried=False)
    other.record(None, retried=True)
    total.add(other)
    total.add(other)
    assert total.snapshot() == {
        "requests": 6,
        "retries": 4,
        "throttled": 2,
        "connectionErrors": 2,
        "statuses": {200: 2, 429: 2},
    }
