"""Rule evaluation, tokens, and device state that only moves forward."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest

from telemetry.domain.devices import (
    DeviceState,
    Latest,
    advance,
    hash_token,
    is_device_id,
    new_device_id,
    new_token,
    split_state,
    state_of,
    token_from_header,
    token_matches,
)
from telemetry.domain.readings import Reading
from telemetry.domain.rules import Rule, alerts_for, first_crossed


@pytest.mark.parametrize(
    ("op", "below", "at", "above"),
    [
        ("gt", False, False, True),
        ("gte", False, True, True),
        ("lt", True, False, False),
        ("lte", True, True, False),
    ],
)
def test_each_op_at_and_around_its_threshold(op, below, at, above):
    rule = Rule("temp", op, Decimal("30.5"))
    assert rule.crossed_by(Decimal("30.4")) is below
    assert rule.crossed_by(Decimal("30.5")) is at
    assert rule.crossed_by(Decimal("30.6")) is above


def test_a_reading_raises_at_most_one_alert_for_the_first_rule_it_crosses():
    rules = [Rule("hum", "gt", Decimal(0)), Rule("temp", "gt", Decimal(30)), Rule("temp", "gt", Decimal(20))]
    hot = Reading(1, "temp", Decimal(35))
    warm = Reading(2, "temp", Decimal(25))
    cold = Reading(3, "temp", Decimal(5))
    assert first_crossed(rules, hot) == rules[1]
    assert first_crossed(rules, warm) == rules[2]
    assert first_crossed(rules, cold) is None
    alerts = alerts_for([hot, warm, cold], rules)
    assert [(a.ts, a.rule) for a in alerts] == [(1, rules[1]), (2, rules[2])]


def test_rules_of_other_metrics_never_fire():
    assert alerts_for([Reading(1, "temp", Decimal(99))], [Rule("hum", "gt", Decimal(0))]) == []


def test_tokens_are_device_id_dot_32_random_bytes_and_only_their_hash_is_kept():
    token = new_token("d-1")
    device_id, _, secret = token.partition(".")
    assert device_id == "d-1"
    assert len(secret) >= 43
    assert new_token("d-1") != token
    assert hash_token(token) == hashlib.sha256(token.encode()).hexdigest()
    assert token_matches(token, hash_token(token))
    assert not token_matches(token + "x", hash_token(token))
    assert not token_matches(token, None)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic abc",
        "d-1.secret",
        "Bearer d-1",
        "Bearer d-1.short",
        "Bearer x.y" + "a" * 50,
    ],
)
def test_malformed_authorization_headers_are_not_tokens(header):
    assert token_from_header(header) is None


def test_bearer_scheme_is_case_insensitive():
    token = new_token("dev_01")
    assert token_from_header(f"bearer {token}") == ("dev_01", token)
    assert token_from_header(f"Bearer {token}") == ("dev_01", token)


def test_generated_device_ids_match_the_contract():
    assert all(is_device_id(new_device_id()) for _ in range(20))
    assert not is_device_id("ab")
    assert not is_device_id("a" * 65)
    assert not is_device_id("a.b.c")


def test_state_of_readings_is_the_newest_overall_and_per_metric():
    state = state_of(
        [
            Reading(5, "a", Decimal(1)),
            Reading(9, "a", Decimal(2)),
            Reading(7, "b", Decimal(3)),
            Reading(1, "a", 0),
        ]
    )
    assert state == DeviceState(9, {"a": Latest(9, Decimal(2)), "b": Latest(7, Decimal(3))})


def test_advance_keeps_only_what_moves_forward():
    stored = DeviceState(10, {"a": Latest(10, Decimal(1)), "b": Latest(4, Decimal(1))})
    late = DeviceState(
        8, {"a": Latest(8, Decimal(9)), "b": Latest(6, Decimal(9)), "c": Latest(2, Decimal(9))}
    )
    assert advance(stored, late) == DeviceState(
        None, {"b": Latest(6, Decimal(9)), "c": Latest(2, Decimal(9))}
    )
    assert advance(stored, DeviceState(10, {"a": Latest(10, Decimal(5))})).empty
    assert advance(DeviceState(), late) == late


def test_a_device_state_is_split_into_parts_with_last_seen_in_the_first():
    latest = {f"m{index:03d}": Latest(index, Decimal(index)) for index in range(95)}
    parts = split_state(DeviceState(94, latest), 40)
    assert [len(part.latest) for part in parts] == [40, 40, 15]
    assert [part.last_seen for part in parts] == [94, None, None]
    assert {metric: entry for part in parts for metric, entry in part.latest.items()} == latest
    assert split_state(DeviceState(), 40) == [DeviceState()]
