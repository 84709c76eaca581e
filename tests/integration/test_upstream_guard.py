"""SPEC §9 upstream protection, shared through a DynamoDB control table: the fleet-wide rate,
the daily quota in China Standard Time, and the circuit breaker with a single probe."""

from __future__ import annotations

import threading
from collections import Counter
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


def test_after_one_failure_one_call_at_a_time_goes_until_one_succeeds(control_table: Any) -> None:
    """A failure makes the upstream suspect before the breaker opens: the next call is a probe and
    every other instance is held a few seconds, so a failing upstream is not paid a call per
    instance to find out. The probe's success clears the suspicion for everyone."""
    clock = Clock(1_800_000_000.0)
    events: list[str] = []
    first, second = (
        FleetGuard(
            control_table, GuardSettings(max_rps=2), clock=clock, sleep=clock.sleep, on_event=events.append
        )
        for _ in range(2)
    )
    first.admit(Forever(), hold_on_open_breaker=True).failed(transient=True, rate_limited=False)

    probe = first.admit(Forever(), hold_on_open_breaker=True)
    with pytest.raises(UpstreamHeld) as held:
        second.admit(Forever(), hold_on_open_breaker=True)
    assert probe.is_probe and held.value.reason == "breaker" and held.value.suspect
    assert clock.now + 4 <= held.value.retry_after <= clock.now + 6, "a few seconds, not a cool-down"
    assert first.state()["breaker"] == "closed", "suspect is not open"

    probe.succeeded()
    after = second.admit(Forever(), hold_on_open_breaker=True)
    assert not after.is_probe and first.state()["consecutive_failures"] == 0
    assert events.count("probe") == 1 and "closed" not in events and "opened" not in events


def test_a_failed_probe_of_a_suspect_upstream_lets_the_next_call_probe_until_the_threshold(
    control_table: Any,
) -> None:
    clock = Clock(1_800_000_000.0)
    instances = [
        guard(control_table, clock, breaker_threshold=3, breaker_cooldown_seconds=60) for _ in range(3)
    ]
    instances[0].admit(Forever(), hold_on_open_breaker=True).failed(transient=True, rate_limited=False)

    probe = instances[1].admit(Forever(), hold_on_open_breaker=True)
    assert probe.is_probe and probe.failed(transient=True, rate_limited=False) is None, "2 of 3: not open"
    probe = instances[2].admit(Forever(), hold_on_open_breaker=True)  # the lease was given back
    assert probe.is_probe
    reopened = probe.failed(transient=True, rate_limited=False)

    assert reopened is not None and reopened >= clock.now + 59
    with pytest.raises(UpstreamHeld) as held:
        instances[0].admit(Forever(), hold_on_open_breaker=True)
    assert not held.value.suspect and held.value.retry_after >= clock.now + 59


def test_an_answer_from_a_suspect_upstream_clears_it(control_table: Any) -> None:
    """5021, 4015 or 5030 are answers: the upstream is up, whatever the last failure said."""
    clock = Clock(1_800_000_000.0)
    fleet = guard(control_table, clock, breaker_threshold=3)
    fleet.admit(Forever(), hold_on_open_breaker=True).failed(transient=True, rate_limited=False)
    fleet.admit(Forever(), hold_on_open_breaker=True).failed(transient=False, rate_limited=False)

    assert fleet.state()["consecutive_failures"] == 0
    assert not fleet.admit(Forever(), hold_on_open_breaker=True).is_probe


def test_a_probe_that_is_not_made_gives_its_lease_back(control_table: Any) -> None:
    """Admitted as the probe but out of time waiting for its slot: the next call probes at once
    instead of every call waiting out the lease."""
    clock = Clock(1_800_000_000.0)
    fleet = guard(control_table, clock, max_rps=1)
    fleet.admit(Forever(), hold_on_open_breaker=True).failed(transient=True, rate_limited=False)

    class AlmostOver:
        def remaining_seconds(self) -> float:
            return 0.2

    with pytest.raises(UpstreamOutOfTime):
        fleet.admit(AlmostOver(), hold_on_open_breaker=True)  # it was the probe; its slot is 1 s away
    assert fleet.admit(Forever(), hold_on_open_breaker=True).is_probe


def test_a_call_that_waited_for_its_slot_while_another_failed_is_held(control_table: Any) -> None:
    """Below the threshold too: the call that failed made the upstream suspect while this one
    waited, so this one is not made (it was admitted before the failure, it is not the probe)."""
    clock = Clock(datetime(2027, 1, 15, 9, 0, tzinfo=CHINA_STANDARD_TIME).timestamp())
    settings = {"breaker_threshold": 5, "daily_quota": 10}
    other = guard(control_table, clock, **settings)
    in_flight = [other.admit(Forever(), hold_on_open_breaker=True) for _ in range(2)]

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if in_flight:
            in_flight.pop().failed(transient=True, rate_limited=False)  # one failure: suspect
            in_flight.clear()

    waiting = FleetGuard(control_table, GuardSettings(max_rps=2, **settings), clock=clock, sleep=sleep)
    with pytest.raises(UpstreamHeld) as held:
        waiting.admit(Forever(), hold_on_open_breaker=True)

    assert held.value.suspect and waiting.state()["breaker"] == "closed"
    assert waiting.state()["quota_used"] == 2, "only the calls made count against the quota"


def test_on_the_direct_path_an_open_breaker_holds_no_call(control_table: Any) -> None:
    clock = Clock(1_800_000_000.0)
    fleet = guard(control_table, clock, breaker_threshold=1)
    fleet.admit(Forever(), hold_on_open_breaker=False).failed(transient=True, rate_limited=False)
    assert fleet.state()["breaker"] == "open"

    fleet.admit(Forever(), hold_on_open_breaker=False).succeeded()  # measured, not held
    assert fleet.state()["breaker"] == "closed"


# -- a call starts on its slot, or not at all -------------------------------------------------


class SlowWrites:
    """The control table, each reservation of a rate slot taking the next of `seconds` on the
    test's clock to be written (a loaded DynamoDB, or a thread that runs late)."""

    def __init__(self, table: Any, clock: Clock, seconds: list[float]) -> None:
        self._table = table
        self._clock = clock
        self._seconds = list(seconds)
        self.reserved: list[float] = []

    def put_item(self, **request: Any) -> Any:
        response = self._table.put_item(**request)
        if request["Item"]["pk"] == "upstream#rate":
            self.reserved.append(float(max(request["Item"]["slots"])))
            self._clock.now += self._seconds.pop(0) if self._seconds else 0.0
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


def test_calls_start_within_half_the_margin_of_their_slots_however_long_the_writes_take(
    control_table: Any,
) -> None:
    """What the upstream counts is when a call arrives. A slot whose write returned late is not
    used late: the call waits only what is left until its slot, and a call already past its slot
    by more than half the margin takes a new one. So calls start at most half the margin after
    their slots, and no two calls `max_rps` apart start closer than 1 s + half the margin (the
    other half is for the way to the upstream)."""
    clock = Clock(1_800_000_000.0)
    margin = 0.1
    delays = [0.0, 0.0, 0.3, 0.3, 0.0, 0.5, 0.0, 0.04, 0.2, 0.0, 0.7, 0.0, 0.0, 0.3]
    table = SlowWrites(control_table, clock, delays)
    events: list[str] = []
    instances = [
        FleetGuard(
            table,
            GuardSettings(max_rps=2, margin_seconds=margin),
            clock=clock,
            sleep=clock.sleep,
            on_event=events.append,
        )
        for _ in range(2)
    ]
    starts, slots = [], []
    for index in range(10):
        permit = instances[index % 2].admit(Forever(), hold_on_open_breaker=True)
        starts.append(clock.now)
        slots.append(permit.slot)  # type: ignore[attr-defined]
        permit.succeeded()

    assert all(0 <= start - slot <= margin / 2 for start, slot in zip(starts, slots, strict=True))
    assert busiest_window(starts, window=1.0 + margin / 2) <= 2
    late = events.count("late_for_slot")
    assert late >= 1 and len(table.reserved) == 10 + late, "a late call took a new slot"
    unused = Counter(round(s, 3) for s in table.reserved)
    unused.subtract(round(s, 3) for s in slots)
    assert min(unused.values()) >= 0 and unused.total() == late, "each late call left one slot unused"


def test_a_late_call_takes_its_new_slot_no_sooner_than_its_late_write_took(control_table: Any) -> None:
    clock = Clock(1_800_000_000.0)
    table = SlowWrites(control_table, clock, [0.4])
    fleet = FleetGuard(table, GuardSettings(max_rps=2, margin_seconds=0.1), clock=clock, sleep=clock.sleep)

    permit = fleet.admit(Forever(), hold_on_open_breaker=True)

    first, second = table.reserved
    assert first == 1_800_000_000.0 and second == pytest.approx(first + 0.4 + 0.4)
    assert permit.slot == pytest.approx(second) == clock.now  # type: ignore[attr-defined]


def test_a_call_whose_breaker_opened_while_it_waited_for_its_slot_is_held(control_table: Any) -> None:
    """On the intake queue path, a call that waits for its slot looks at the breaker again before
    it goes: another instance's failures may have opened it meanwhile. It is held like the calls
    after it, and its unit of the day's quota is given back."""
    clock = Clock(datetime(2027, 1, 15, 9, 0, tzinfo=CHINA_STANDARD_TIME).timestamp())
    settings = {"breaker_threshold": 1, "daily_quota": 10}
    other = guard(control_table, clock, **settings)
    in_flight = [other.admit(Forever(), hold_on_open_breaker=True) for _ in range(2)]  # the second full

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if in_flight:
            in_flight.pop().failed(transient=True, rate_limited=False)  # the breaker opens

    waiting = FleetGuard(control_table, GuardSettings(max_rps=2, **settings), clock=clock, sleep=sleep)
    with pytest.raises(UpstreamHeld) as held:
        waiting.admit(Forever(), hold_on_open_breaker=True)

    assert held.value.reason == "breaker"
    assert waiting.state()["quota_used"] == 2, "only the calls made count against the quota"


def test_on_the_direct_path_a_call_goes_on_its_slot_whatever_the_breaker(control_table: Any) -> None:
    clock = Clock(1_800_000_000.0)
    other = guard(control_table, clock, breaker_threshold=1)
    in_flight = [other.admit(Forever(), hold_on_open_breaker=False) for _ in range(2)]

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if in_flight:
            in_flight.pop().failed(transient=True, rate_limited=False)

    direct = FleetGuard(
        control_table, GuardSettings(max_rps=2, breaker_threshold=1), clock=clock, sleep=sleep
    )
    permit = direct.admit(Forever(), hold_on_open_breaker=False)

    assert permit.slot == pytest.approx(clock.now)  # type: ignore[attr-defined]
    assert direct.state()["breaker"] == "open"


def test_the_settings_default_margin_is_the_guards() -> None:
    from vehicle_license_intake.config import Settings

    settings = Settings.from_env(
        {"RESULTS_TABLE_NAME": "t", "DEAD_LETTER_QUEUE_URL": "q", "API_KEY_SECRET_ID": "s"}
    )
    assert settings.upstream_rate_margin_seconds == GuardSettings(max_rps=2).margin_seconds
    assert (
        Settings.from_env(
            {
                "RESULTS_TABLE_NAME": "t",
                "DEAD_LETTER_QUEUE_URL": "q",
                "API_KEY_SECRET_ID": "s",
                "UPSTREAM_RATE_MARGIN_SECONDS": "0.25",
            }
        ).upstream_rate_margin_seconds
        == 0.25
    )
