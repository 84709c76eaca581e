"""Upstream protection shared by every instance of the function (SPEC §9): the fleet-wide rate,
the daily quota and the circuit breaker, kept in a small DynamoDB control table so that all
concurrent instances see the same state.

- Rate: the times of the last `UPSTREAM_MAX_RPS` calls live in one item; a call takes the next
  slot that keeps every window of one second plus `UPSTREAM_RATE_MARGIN_SECONDS` within the
  limit, by a conditional write on the item's version, and sleeps until then. The upstream counts
  a call when it arrives, not at its slot: two calls stay a second apart there only if each
  arrives within the margin after its slot. Half of the margin is for starting late (the write
  of the slot and the wake-up take time too: a call later than that does not go on its slot, it
  takes a new one), the other half for the request's way to the upstream.
- Quota: one counter per calendar day in China Standard Time (UTC+8), incremented before each call
  only while it is below `UPSTREAM_DAILY_QUOTA`; the counter expires with the table's TTL.
- Breaker: consecutive transient failures (and every 429, the upstream's own "too many") are
  counted. From the first failure on, the upstream is suspect: one call at a time goes, as a
  probe (a conditional write on a lease), and the others are held for a few seconds; the probe's
  success clears the count, its failure adds to it. At the threshold the breaker opens for a
  cool-down; after it, again exactly one instance wins the probe, and only its success closes the
  breaker. So a failing upstream is paid only for probes and for the calls already on their way
  when it began to fail, and a single lost call costs the others a few seconds, not a call each.
  A call that waited for its slot looks at the breaker again before it goes: if it opened or
  became suspect meanwhile, the call is held too (and gives its unit of the quota back).

Without a control table (`CONTROL_TABLE_NAME` unset) the guard is the per-instance rate limiter of
`rate_limit.py` alone, as SPEC §3 describes `OCR_MAX_RPS`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Protocol

from botocore.exceptions import ClientError

from vehicle_license_intake.ports import Deadline
from vehicle_license_intake.upstream.errors import UpstreamOutOfTime
from vehicle_license_intake.upstream.rate_limit import RATE_WINDOW_MARGIN_SECONDS, RateLimiter

CHINA_STANDARD_TIME = timezone(timedelta(hours=8))
RATE_KEY = "upstream#rate"
BREAKER_KEY = "upstream#breaker"
QUOTA_KEY_PREFIX = "upstream#quota#"
# How long a probe may take before another instance may probe instead.
PROBE_LEASE_SECONDS = 60.0
# A held call is tried again no sooner than this.
MIN_RETRY_SECONDS = 5.0
# A call that waits longer than this for its slot looks at the breaker again this long before it.
LOOK_AGAIN_SECONDS = 0.2
_MAX_SLOT_RETRIES = 50


class UpstreamHeld(Exception):
    """No upstream call may be made now (quota spent, breaker open, or another call probing a
    suspect upstream): not a failure of this upload. `retry_after` is when it is worth trying
    again (epoch seconds). `suspect`: the breaker is not open, one call failed and another is
    finding out whether that was a blip (worth a short wait rather than a fallback)."""

    def __init__(self, reason: str, retry_after: float, *, suspect: bool = False) -> None:
        super().__init__(f"upstream held back: {reason}")
        self.reason = reason  # "quota" or "breaker"
        self.retry_after = retry_after
        self.suspect = suspect
        self.attempts = 0  # calls the upload had made before it was held


class CallPermit(Protocol):
    """What the client reports back after the call a guard allowed."""

    def succeeded(self) -> None: ...

    def failed(self, *, transient: bool, rate_limited: bool) -> float | None:
        """None, or the time the breaker is open until when this failure (re)opened it."""
        ...

    @property
    def is_probe(self) -> bool:
        """The single call that decides whether an open (or suspect) breaker closes."""
        ...


class UpstreamGuard(Protocol):
    def admit(self, deadline: Deadline, *, hold_on_open_breaker: bool) -> CallPermit:
        """Wait for the call's slot; UpstreamHeld when the quota is spent, or when the breaker
        is open and `hold_on_open_breaker` (on the direct S3 -> Lambda path there is no queue
        to come back to: the breaker is then measured, never holding a call)."""
        ...


@dataclass
class _NoReport:
    def succeeded(self) -> None:
        return None

    def failed(self, *, transient: bool, rate_limited: bool) -> float | None:
        return None

    @property
    def is_probe(self) -> bool:
        return False


class LocalGuard:
    """One instance's rate limiter, nothing shared (no control table)."""

    def __init__(self, limiter: RateLimiter) -> None:
        self._limiter = limiter

    def admit(self, deadline: Deadline, *, hold_on_open_breaker: bool) -> CallPermit:
        self._limiter.acquire(deadline)
        return _NoReport()


@dataclass(frozen=True)
class GuardSettings:
    max_rps: float
    daily_quota: int = 0  # 0: unlimited
    breaker_threshold: int = 5  # consecutive transient failures that open the breaker
    breaker_cooldown_seconds: float = 60.0
    margin_seconds: float = RATE_WINDOW_MARGIN_SECONDS


class FleetGuard:
    """The DynamoDB control table adapter of UpstreamGuard."""

    def __init__(
        self,
        table: Any,
        settings: GuardSettings,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self._table = table
        self._settings = settings
        self._clock = clock
        self._sleep = sleep
        self._on_event = on_event or (lambda _: None)
        self._window = (1.0 if settings.max_rps >= 1 else 1.0 / settings.max_rps) + settings.margin_seconds
        self._capacity = max(1, int(settings.max_rps))
        # A call may start this much after its slot; the margin's other half is for the way there.
        self._late_start = settings.margin_seconds / 2

    # -- admission --------------------------------------------------------------------------
    def admit(self, deadline: Deadline, *, hold_on_open_breaker: bool) -> CallPermit:
        probe = self._check_breaker() if hold_on_open_breaker else None
        try:
            quota_key = self._count_against_quota()
        except UpstreamHeld:
            self._release(probe)
            raise
        # The breaker may open, or a call fail, while this call waits for its slot.
        look_again = self._hold_unless_clear if hold_on_open_breaker and probe is None else None
        try:
            slot = self._wait_for_slot(deadline, before_start=look_again)
        except (UpstreamHeld, UpstreamOutOfTime):
            self._give_back(quota_key)  # no call was made
            self._release(probe)
            raise
        return _Permit(self, probe, slot)

    def _check_breaker(self) -> _Probe | None:
        """None when clear (or not holding); the probe when this call is the one that may go
        while the breaker is open past its cool-down, or suspect (failures counted, not open)."""
        item = self._get(BREAKER_KEY)
        if not item:
            return None
        now = self._clock()
        if item.get("state") == "open":
            open_until = float(item.get("open_until", 0))
            if now < open_until:
                raise UpstreamHeld("breaker", max(open_until, now + MIN_RETRY_SECONDS))
            probe = _Probe(uuid.uuid4().hex, after_open=True)
            state_condition = "#state = :open"
        elif int(item.get("failures", 0)) > 0:
            probe = _Probe(uuid.uuid4().hex, after_open=False)
            state_condition = "(attribute_not_exists(#state) OR #state <> :open) AND failures > :zero"
        else:
            return None
        leased = _conditionally(
            self._table.update_item,
            Key={"pk": BREAKER_KEY},
            UpdateExpression="SET probe_token = :token, probe_until = :until",
            ConditionExpression=f"{state_condition} AND (attribute_not_exists(probe_until) OR probe_until < :now)",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={
                ":token": probe.token,
                ":until": _decimal(now + PROBE_LEASE_SECONDS),
                ":now": _decimal(now),
                ":open": "open",
                **({} if probe.after_open else {":zero": 0}),
            },
        )
        if not leased:
            # Another call is the probe (or the state changed under this one): look again soon.
            raise UpstreamHeld("breaker", now + MIN_RETRY_SECONDS, suspect=not probe.after_open)
        self._on_event("probe")
        return probe

    def _hold_unless_clear(self) -> None:
        """UpstreamHeld when the breaker is open now, or suspect (a call failed since this one
        was admitted: this one is not the probe)."""
        item = self._get(BREAKER_KEY)
        if not item:
            return
        now = self._clock()
        if item.get("state") == "open":
            raise UpstreamHeld("breaker", max(float(item.get("open_until", 0)), now + MIN_RETRY_SECONDS))
        if int(item.get("failures", 0)) > 0:
            raise UpstreamHeld("breaker", now + MIN_RETRY_SECONDS, suspect=True)

    def _release(self, probe: _Probe | None) -> None:
        """The probe's lease, given up by a call that was not made or that failed without
        opening the breaker: the next call may probe at once."""
        if probe is None:
            return
        # (a lease already gone or taken over is not this call's to give up)
        _conditionally(
            self._table.update_item,
            Key={"pk": BREAKER_KEY},
            UpdateExpression="REMOVE probe_token, probe_until",
            ConditionExpression="probe_token = :token",
            ExpressionAttributeValues={":token": probe.token},
        )

    def _count_against_quota(self) -> str | None:
        """The key of the day's counter this call was counted in (None: no quota)."""
        quota = self._settings.daily_quota
        if quota <= 0:
            return None
        now = self._clock()
        day = datetime.fromtimestamp(now, CHINA_STANDARD_TIME)
        next_day = (day + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        key = f"{QUOTA_KEY_PREFIX}{day.date().isoformat()}"
        counted = _conditionally(
            self._table.update_item,
            Key={"pk": key},
            UpdateExpression="ADD used :one SET expires_at = if_not_exists(expires_at, :expires)",
            ConditionExpression="attribute_not_exists(used) OR used < :quota",
            ExpressionAttributeValues={
                ":one": 1,
                ":quota": quota,
                ":expires": int(next_day.timestamp()) + 86400 * 7,
            },
        )
        if not counted:
            self._on_event("quota_exhausted")
            raise UpstreamHeld("quota", next_day.timestamp())
        return key

    def _give_back(self, quota_key: str | None) -> None:
        """The unit of the day's quota counted for a call that was not made after all."""
        if quota_key is None:
            return
        # (a day's counter already gone has nothing to give back)
        _conditionally(
            self._table.update_item,
            Key={"pk": quota_key},
            UpdateExpression="ADD used :minus_one",
            ConditionExpression="used > :zero",
            ExpressionAttributeValues={":minus_one": -1, ":zero": 0},
        )

    def _wait_for_slot(self, deadline: Deadline, *, before_start: Callable[[], None] | None = None) -> float:
        """The time (epoch seconds) this call may start, once it has come. `before_start` runs
        `LOOK_AGAIN_SECONDS` before a slot that is further away than that.

        A call that is late for its slot by more than half the margin (the slot's write, the
        wake-up or `before_start` took that long) does not start on it: a later call may already
        be placed a window after it. It takes a new slot, no sooner than the late write took
        (it is not late for it the same way); the slot it leaves stays taken (a window unused,
        never one too full)."""
        lead = 0.0  # how long this call's last reservation took to write, when it came too late
        for _ in range(_MAX_SLOT_RETRIES):
            item = self._get(RATE_KEY) or {}
            version = int(item.get("version", 0))
            slots = sorted(float(s) for s in item.get("slots", []))[-self._capacity :]
            now = self._clock()
            earliest = now + lead
            slot = earliest if len(slots) < self._capacity else max(earliest, slots[0] + self._window)
            if slot - now > deadline.remaining_seconds():
                raise UpstreamOutOfTime("no time left to wait for the fleet's rate limit", code="OUT_OF_TIME")
            kept = [*slots[1:], slot] if len(slots) >= self._capacity else [*slots, slot]
            reserved = _conditionally(
                self._table.put_item,
                Item={"pk": RATE_KEY, "slots": [_decimal(s) for s in kept], "version": version + 1},
                ConditionExpression="attribute_not_exists(pk) OR version = :version",
                ExpressionAttributeValues={":version": version},
            )
            if not reserved:
                continue  # another instance took a slot meanwhile: look again
            written = self._clock()  # the sleeps are until the slot: the write took some time
            if before_start is not None and slot - written > LOOK_AGAIN_SECONDS:
                self._sleep(slot - LOOK_AGAIN_SECONDS - written)
                before_start()
            ahead = slot - self._clock()
            if ahead > 0:
                self._sleep(ahead)
            late = self._clock() - slot
            if late <= self._late_start:
                return slot
            self._on_event("late_for_slot")
            lead = written - now
        raise UpstreamOutOfTime("the fleet's rate limit is contended beyond reason", code="OUT_OF_TIME")

    # -- the breaker's bookkeeping ----------------------------------------------------------
    def _record_success(self, probe: _Probe | None) -> None:
        cleared = _conditionally(
            self._table.update_item,
            Key={"pk": BREAKER_KEY},
            UpdateExpression="SET #state = :closed, failures = :zero REMOVE probe_token, probe_until, open_until",
            ConditionExpression="failures > :zero OR #state = :open",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":closed": "closed", ":zero": 0, ":open": "open"},
        )
        if cleared and probe is not None and probe.after_open:  # (not cleared: already closed and clean)
            self._on_event("closed")

    def _record_failure(self, probe: _Probe | None, *, transient: bool, rate_limited: bool) -> float | None:
        if not transient:
            self._record_success(probe)  # the upstream answered (4015, 5030, 5021...): it is up
            return None
        response = self._table.update_item(
            Key={"pk": BREAKER_KEY},
            UpdateExpression="ADD failures :one",
            ExpressionAttributeValues={":one": 1},
            ReturnValues="ALL_NEW",
        )
        failures = int(response["Attributes"].get("failures", 0))
        reopens = probe is not None and probe.after_open
        if not reopens and not rate_limited and failures < self._settings.breaker_threshold:
            self._release(probe)  # still suspect: the next call probes
            return None
        now = self._clock()
        self._table.update_item(
            Key={"pk": BREAKER_KEY},
            UpdateExpression="SET #state = :open, open_until = :until, opened_at = :now REMOVE probe_token, probe_until",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={
                ":open": "open",
                ":until": _decimal(now + self._settings.breaker_cooldown_seconds),
                ":now": _decimal(now),
            },
        )
        self._on_event("opened")
        return now + self._settings.breaker_cooldown_seconds

    # -- reading ----------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """What an operator wants to see: breaker, today's quota use, the rate's last slots."""
        breaker = self._get(BREAKER_KEY) or {}
        day = datetime.fromtimestamp(self._clock(), CHINA_STANDARD_TIME).date().isoformat()
        quota = self._get(f"{QUOTA_KEY_PREFIX}{day}") or {}
        return {
            "breaker": str(breaker.get("state", "closed")),
            "breaker_open_until": _iso(breaker.get("open_until")),
            "consecutive_failures": int(breaker.get("failures", 0)),
            "quota_day": day,
            "quota_used": int(quota.get("used", 0)),
            "daily_quota": self._settings.daily_quota,
        }

    def _get(self, key: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"pk": key}, ConsistentRead=True).get("Item")
        return dict(item) if item else None


@dataclass(frozen=True)
class _Probe:
    token: str
    after_open: bool  # the probe of an open breaker (its failure opens it again), not of a suspect one


@dataclass
class _Permit:
    guard: FleetGuard
    probe: _Probe | None
    slot: float  # when the call was allowed to start (epoch seconds)

    def succeeded(self) -> None:
        self.guard._record_success(self.probe)

    def failed(self, *, transient: bool, rate_limited: bool) -> float | None:
        return self.guard._record_failure(self.probe, transient=transient, rate_limited=rate_limited)

    @property
    def is_probe(self) -> bool:
        return self.probe is not None


def _decimal(value: float) -> Decimal:
    return Decimal(str(round(value, 3)))


def _iso(epoch: Any) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(float(epoch), UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _conditionally(write: Callable[..., Any], **request: Any) -> bool:
    """Makes a conditional write: True when it was made, False when its condition did not hold."""
    try:
        write(**request)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        return False
    return True
