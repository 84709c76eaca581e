"""SPEC §9 upstream protection, shared through a DynamoDB control table: the fleet-wide rate,
the daily quota in China Standard Time, and the circuit breaker with a single probe."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from vehicle_license_intake.upstream.errors import UpstreamOutOfTime
from vehicle_license_intake.upstream.guard import CHINA_STANDARD_TIME, FleetGuard, GuardSettings, UpstreamHeld
from vehicle_license_intake.upstream.rate_limit import busiest_window


class Forever:
    def remaining_seconds(self) -> float:
        return 900.0


class Clock:
    """A clock the test moves; sleeping moves it too."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def control_table() -> Iterator[Any]:
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        table = dynamodb.create_table(
            TableName="control",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield table


def guard(table: Any, clock: Clock, **settings: Any) -> FleetGuard:
    return FleetGuard(table, GuardSettings(**{"max_rps": 2, **settings}), clock=clock, sleep=clock.sleep)


def test_instances_together_never_exceed_the_fleet_rate(control_table: Any) -> None:
    """Four instances, each with its own guard and a real clock, share one limit of 2 per second:
    the start times they are granted never put three calls in one second."""
    instances = [FleetGuard(control_table, GuardSettings(max_rps=2)) for _ in range(4)]
    granted: list[float] = []
    lock = threading.Lock()

    def call(instance: FleetGuard) -> None:
        for _ in range(3):
            permit = instance.admit(Forever(), hold_on_open_breaker=True)
            with lock:
                granted.append(permit.slot)  # type: ignore[attr-defined]
            permit.succeeded()

    threads = [threading.Thread(target=call, args=(g,)) for g in instances]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(granted) == 12
    assert busiest_window(granted, window=1.0) <= 2
    assert max(granted) - min(granted) < 12 / 2 + 2, "and nobody waits longer than the rate requires"


def test_waiting_longer_than_the_invocation_has_is_out_of_time(control_table: Any) -> None:
    clock = Clock(1_800_000_000.0)
    fleet = guard(control_table, clock, max_rps=1)
    fleet.admit(Forever(), hold_on_open_breaker=True)

    class AlmostOver:
        def remaining_seconds(self) -> float:
            return 0.2

    with pytest.raises(UpstreamOutOfTime):
        fleet.admit(AlmostOver(), hold_on_open_breaker=True)


def test_daily_quota_holds_calls_until_midnight_china_standard_time(control_table: Any) -> None:
    # 2027-01-15 23:30 in Beijing
    clock = Clock(datetime(2027, 1, 15, 23, 30, tzinfo=CHINA_STANDARD_TIME).timestamp())
    fleet = guard(control_table, clock, daily_quota=3)
    for _ in range(3):
        fleet.admit(Forever(), hold_on_open_breaker=True).succeeded()

    with pytest.raises(UpstreamHeld) as held:
        fleet.admit(Forever(), hold_on_open_breaker=True)

    assert held.value.reason == "quota"
    assert held.value.retry_after == datetime(2027, 1, 16, tzinfo=CHINA_STANDARD_TIME).timestamp()
    clock.now = held.value.retry_after + 1
    fleet.admit(Forever(), hold_on_open_breaker=True).succeeded()  # a new day, a new quota
    assert fleet.state()["quota_used"] == 1


def test_quota_is_shared_by_every_instance(control_table: Any) -> None:
    clock = Clock(datetime(2027, 1, 15, 9, 0, tzinfo=CHINA_STANDARD_TIME).timestamp())
    first, second = guard(control_table, clock, daily_quota=2), guard(control_table, clock, daily_quota=2)
    first.admit(Forever(), hold_on_open_breaker=True).succeeded()
    second.admit(Forever(), hold_on_open_breaker=True).succeeded()

    with pytest.raises(UpstreamHeld):
        first.admit(Forever(), hold_on_open_breaker=True)


def test_consecutive_transient_failures_open_the_breaker_for_every_instance(control_table: Any) -> None:
    clock = Clock(1_800_000_000.0)
    first = guard(control_table, clock, breaker_threshold=3, breaker_cooldown_seconds=60)
    second = guard(control_table, clock, breaker_threshold=3, breaker_cooldown_seconds=60)
    for _ in range(3):
        first.admit(Forever(), hold_on_open_breaker=True).failed(transient=True, rate_limited=False)

    with pytest.raises(UpstreamHeld) as held:
        second.admit(Forever(), hold_on_open_breaker=True)
    assert held.value.reason == "breaker"
    assert held.value.retry_after >= clock.now + 59
    assert first.state()["breaker"] == "open"


def test_a_success_between_failures_keeps_the_breaker_closed(control_table: Any) -> None:
    clock = Clock(1_800_000_000.0)
    fleet = guard(control_table, clock, breaker_threshold=3)
    for _ in range(2):
        fleet.admit(Forever(), hold_on_open_breaker=True).failed(transient=True, rate_limited=False)
    fleet.admit(Forever(), hold_on_open_breaker=True).succeeded()
    for _ in range(2):
        fleet.admit(Forever(), hold_on_open_breaker=True).failed(transient=True, rate_limited=False)

    fleet.admit(Forever(), hold_on_open_breaker=True)  # not held: the failures were not consecutive
    assert fleet.state()["breaker"] == "closed"


def test_answers_that_prove_the_upstream_is_up_do_not_count(control_table: Any) -> None:
    clock = Clock(1_800_000_000.0)
    fleet = guard(control_table, clock, breaker_threshold=1)
    fleet.admit(Forever(), hold_on_open_breaker=True).failed(transient=False, rate_limited=False)  # e.g. 5021
    fleet.admit(Forever(), hold_on_open_breaker=True)
    assert fleet.state()["consecutive_failures"] == 0


def test_a_rate_limited_answer_opens_the_breaker_at_once(control_table: Any) -> None:
    clock = Clock(1_800_000_000.0)
    fleet = guard(control_table, clock, breaker_threshold=5)
    fleet.admit(Forever(), hold_on_open_breaker=True).failed(transient=True, rate_limited=True)
    with pytest.raises(UpstreamHeld):
        fleet.admit(Forever(), hold_on_open_breaker=True)


def test_after_the_cooldown_exactly_one_instance_probes_and_its_success_closes(control_table: Any) -> None:
    clock = Clock(1_800_000_000.0)
    instances = [
        guard(control_table, clock, breaker_threshold=1, breaker_cooldown_seconds=30) for _ in range(3)
    ]
    instances[0].admit(Forever(), hold_on_open_breaker=True).failed(transient=True, rate_limited=False)
    clock.now += 31

    probe = instances[1].admit(Forever(), hold_on_open_breaker=True)  # wins the probe
    for other in (instances[0], instances[2]):
        with pytest.raises(UpstreamHeld):
            other.admit(Forever(), hold_on_open_breaker=True)
    probe.succeeded()

    instances[2].admit(Forever(), hold_on_open_breaker=True).succeeded()  # closed again for everyone
    state = instances[0].state()
    assert (state["breaker"], state["consecutive_failures"], state["breaker_open_until"]) == (
        "closed",
        0,
        None,
    )


def test_a_failed_probe_opens_the_breaker_again(control_table: Any) -> None:
    clock = Clock(1_800_000_000.0)
    fleet = guard(control_table, clock, breaker_threshold=2, breaker_cooldown_seconds=30)
    for _ in range(2):
        fleet.admit(Forever(), hold_on_open_breaker=True).failed(transient=True, rate_limited=False)
    clock.now += 31
    fleet.admit(Forever(), hold_on_open_breaker=True).failed(
        transient=True, rate_limited=False
    )  # the probe fails

    with pytest.raises(UpstreamHeld) as held:
        fleet.admit(Forever(), hold_on_open_breaker=True)
    assert held.value.retry_after >= clock.now + 29


def test_on_the_direct_path_an_open_breaker_holds_no_call(control_table: Any) -> None:
    clock = Clock(1_800_000_000.0)
    fleet = guard(control_table, clock, breaker_threshold=1)
    fleet.admit(Forever(), hold_on_open_breaker=False).failed(transient=True, rate_limited=False)
    assert fleet.state()["breaker"] == "open"

    fleet.admit(Forever(), hold_on_open_breaker=False).succeeded()  # measured, not held
    assert fleet.state()["breaker"] == "closed"
