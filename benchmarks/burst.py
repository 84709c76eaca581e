"""The burst benchmark of `make bench` (SPEC §9): many uploads at once through the intake queue,
read by several concurrent consumers, against an upstream that enforces 2 req/s, a daily quota
that runs out mid-way and an outage; then the same uploads on the direct S3 -> Lambda path.

What plays what (everything on 127.0.0.1):
- AWS: moto's server in this process (aws.emulated_aws). Moto's threaded server answers requests
  concurrently without a lock, so two conditional writes can both succeed; here every request to
  it is applied under one lock (`serialised_moto`), as DynamoDB and SQS apply each request
  atomically. S3 -> SQS notifications are moto's own.
- Lambda's SQS event source mapping: `consumers` threads, each with its own pipeline (its own
  boto3 session, clients, key cache and guard, as separate instances have), each a QueueConsumer
  of the intake queue (receive a batch, call the handler, delete what it did not report failed).
- Lambda's asynchronous invocation (direct path): `consumers` instances taking S3 events from
  Lambda's internal queue; an invocation that raises is retried twice (after 60 s and 120 s,
  scaled as the plan says), then its event goes to the failure queue: not completed.
- The upstream: UpstreamEmulator(max_rps=2), one per path, answering 429 above the rate, and
  answering 5020 to every image during `outage(seconds)`, started after `outage_after_calls`.
  It counts a call when its handler thread has read the request, body included: on this loaded
  machine that was up to 0.16 s after the call left (p99 ~30 ms), however punctual the slot.
  The function's guard runs with the default margin for that (UPSTREAM_RATE_MARGIN_SECONDS,
  0.2 s), as deployed.

Time, and how it is scaled:
- Every clock is real. The quota's day is simulated: when the quota is first found spent (the
  guard's "quota_exhausted" event) a night of `night_seconds` begins, and at its end the day's
  counter is deleted from the control table, as a new day in China Standard Time starts a new
  counter. The deferred uploads' items say `retry_after` = the real next midnight CST (hours
  away), as in production; their messages, which the function delays until then (at most 12 h),
  come back at the simulated midnight instead: a wrapper of the pipeline's intake queue shortens
  those delays, and only those.
- On the direct path there is no night: Lambda's retries (minutes) fall inside the same day, as
  they would in production unless the quota ran out minutes before midnight.
- The rest is unscaled in the full run (the outage lasts 60 s, Lambda retries after 60 s and
  120 s, a FAILED upload's message comes back after the function's own 30 s backoff) except the
  breaker's cool-down, a few seconds (UPSTREAM_BREAKER_COOLDOWN_SECONDS) so that the outage sees
  several probes. The quick run (the test suite's) has fewer uploads and a smaller quota, a 5 s
  outage, Lambda's retries after 5 s and 10 s (1/12), a 3 s night, and divides the FAILED
  backoff by `delay_divisor`.
- Both paths run at the same time, each with its own stack, control table and upstream (2 req/s
  each): they share the machine and moto's lock, not a limit.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import math
import statistics
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3

from vehicle_license_intake.api_key import ApiKeyProvider
from vehicle_license_intake.app import AWS_CONFIG, build_pipeline
from vehicle_license_intake.config import Settings
from vehicle_license_intake.events import IntakeMessage, Upload
from vehicle_license_intake.observability import logger as function_logger
from vehicle_license_intake.outcomes import Status
from vehicle_license_intake.pipeline import Pipeline, observe_attempt, observe_guard
from vehicle_license_intake.ports import Claim, IntakeQueue
from vehicle_license_intake.results import ResultsTable
from vehicle_license_intake.upstream.client import AttemptRecord, UpstreamClient
from vehicle_license_intake.upstream.guard import (
    CHINA_STANDARD_TIME,
    QUOTA_KEY_PREFIX,
    FleetGuard,
    GuardSettings,
)
from vehicle_license_tools import aws, stack
from vehicle_license_tools.delivery import LocalContext, QueueConsumer, s3_event, s3_record
from vehicle_license_tools.emulator import GroundTruthRecognizer, UpstreamEmulator

RowValues = tuple[str, str, str, str, str, str]
FINAL = {Status.SUCCEEDED, Status.UNRECOGNIZED, Status.REJECTED}
MAX_RPS = 2


@dataclass(frozen=True)
class Plan:
    uploads: int
    consumers: int
    quota: int  # upstream calls per (simulated) day
    outage_after_calls: int  # the outage starts when the upstream has answered this many calls
    outage_seconds: float
    cooldown_seconds: float  # the breaker's (UPSTREAM_BREAKER_COOLDOWN_SECONDS)
    night_seconds: float  # real seconds from "quota spent" to midnight CST (queue path)
    delay_divisor: float  # every delay the function asks of the queue is divided by this
    lambda_retry_seconds: tuple[float, float]  # Lambda's two retries of a failed async invocation
    image_bytes: int
    timeout_seconds: float  # per path: whatever is not final by then counts as lost


FULL = Plan(
    uploads=1000,
    consumers=4,
    quota=600,
    outage_after_calls=200,
    outage_seconds=60,
    cooldown_seconds=10,
    night_seconds=30,
    delay_divisor=1,
    lambda_retry_seconds=(60, 120),
    image_bytes=4000,
    timeout_seconds=1800,
)
QUICK = Plan(
    uploads=40,
    consumers=4,
    quota=25,
    outage_after_calls=6,
    outage_seconds=5,
    cooldown_seconds=2,
    night_seconds=3,
    delay_divisor=10,
    lambda_retry_seconds=(5, 10),
    image_bytes=2000,
    timeout_seconds=90,
)


# -- the emulated AWS, serialised ---------------------------------------------------------------
@contextlib.contextmanager
def serialised_moto() -> Iterator[None]:
    """Every request to moto's server (in this process) applied under one lock: each DynamoDB
    conditional write and each SQS receive is then atomic, as in AWS. Consumers poll with
    WaitTimeSeconds=0, so no request holds the lock while it waits."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original = DomainDispatcherApplication.__call__
    lock = threading.Lock()

    def call(self: DomainDispatcherApplication, environ: dict[str, Any], start_response: Any) -> Any:
        with lock:
            return original(self, environ, start_response)

    DomainDispatcherApplication.__call__ = call  # type: ignore[method-assign]
    try:
        yield
    finally:
        DomainDispatcherApplication.__call__ = original  # type: ignore[method-assign]


# -- what the run observes ------------------------------------------------------------------------
@dataclass
class Deferral:
    real: float  # time.monotonic() when it was deferred
    epoch: float  # time.time() then
    retry_after: float  # epoch seconds
    reason: str


@dataclass
class Observed:
    """What every instance's results table and guard reported, keyed by image URI."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    first_claim: dict[str, tuple[float, float]] = field(default_factory=dict)  # (monotonic, epoch)
    deferrals: dict[str, list[Deferral]] = field(default_factory=lambda: defaultdict(list))
    finished: dict[str, tuple[Status, float]] = field(default_factory=dict)  # last status, real
    failed_on_the_way: Counter[str] = field(default_factory=Counter)
    guard_events: Counter[str] = field(default_factory=Counter)
    nights: list[float] = field(default_factory=list)  # when each began (monotonic)
    queue_delays: Counter[int] = field(default_factory=Counter)  # seconds asked -> times
    last: dict[str, str] = field(default_factory=dict)  # the latest of "deferred", a status
    calls: Counter[str] = field(default_factory=Counter)  # the function's calls, by kind
    local: threading.local = field(default_factory=threading.local)  # this instance's probe
    # Each call's answer and each opening of the breaker, in the order the function saw them
    # (monotonic, "ok" / "rate" / "failed" / "failed probe" / "opened"): why each failed call was made.
    timeline: list[tuple[float, str]] = field(default_factory=list)

    def attempt(self, record: AttemptRecord) -> None:
        """The function's own account of each upstream call (on_attempt): which were probes
        (an upload's first call or its retry, while the breaker was suspect or after its
        cool-down), or calls admitted while the breaker was clear."""
        observe_attempt(record)
        probe = getattr(self.local, "probe_next", False)
        self.local.probe_next = False
        if record.outcome == "ok":
            kind, answer = "recognised", "ok"
        elif probe:
            kind, answer = "failed probe", "failed probe"
        else:
            kind = "failed first call" if record.attempt == 1 else "failed retry"
            answer = "rate" if record.outcome == "429" else "failed"
        with self.lock:
            self.calls[kind] += 1
            self.timeline.append((time.monotonic(), answer))

    def failed_calls(self) -> tuple[Counter[str], int]:
        """Every failed call that was not a probe, by why it was made: the breaker was clear (the
        one call that finds an outage out), or it was already suspect or open (the call was on its
        way before the failure that made it so was answered, or on the direct path, where nothing
        is held), or the upstream answered 429 (above its rate); and how many times the breaker
        opened from closed. A success clears the breaker; any failure makes it suspect; the guard
        says when it opens."""
        reasons: Counter[str] = Counter()
        state, openings = "clear", 0
        with self.lock:
            timeline = sorted(self.timeline)
        for _, what in timeline:
            if what == "opened":
                openings += state != "open"
                state = "open"
            elif what == "ok":
                state = "clear"
            elif what == "rate":
                reasons["answered 429"] += 1
            elif what == "failed":
                reasons["breaker clear" if state == "clear" else "breaker already suspect or open"] += 1
                state = "open" if state == "open" else "suspect"
            elif what == "failed probe" and state == "clear":
                state = "suspect"
        return reasons, openings

    def probing(self) -> None:
        """The guard made this instance's next call the breaker's probe."""
        self.local.probe_next = True

    def claimed(self, uri: str) -> None:
        with self.lock:
            self.first_claim.setdefault(uri, (time.monotonic(), time.time()))
            self.last[uri] = "claimed"

    def deferred(self, uri: str, retry_after: float, reason: str) -> None:
        with self.lock:
            self.deferrals[uri].append(Deferral(time.monotonic(), time.time(), retry_after, reason))
            self.last[uri] = f"deferred:{reason}"

    def finish(self, uri: str, status: Status) -> None:
        with self.lock:
            self.finished[uri] = (status, time.monotonic())
            self.last[uri] = str(status)
            if status is Status.FAILED:
                self.failed_on_the_way[uri] += 1


class ObservedResults(ResultsTable):
    """The function's results table, reporting claims, deferrals and outcomes to `Observed`."""

    def __init__(self, table: Any, observed: Observed, *, retention_days: int) -> None:
        super().__init__(table, retention_days=retention_days)
        self._observed = observed

    def claim_upload(self, upload: Upload, owner: str, lease_seconds: float) -> Claim:
        self._observed.claimed(upload.image_uri)
        return super().claim_upload(upload, owner, lease_seconds)

    def defer_upload(self, upload: Upload, claim: Claim, *, retry_after: float, reason: str) -> bool:
        done = super().defer_upload(upload, claim, retry_after=retry_after, reason=reason)
        if done:
            self._observed.deferred(upload.image_uri, retry_after, reason)
        return done

    def finish_upload(self, upload: Upload, claim: Claim, status: Status, *args: Any, **kwargs: Any) -> bool:
        done = bool(super().finish_upload(upload, claim, status, *args, **kwargs))
        if done:
            self._observed.finish(upload.image_uri, status)
        return done


class ScaledQueue:
    """The pipeline's intake queue, counting the delays the function asks of it, and scaling two:
    an upload deferred by the spent quota comes back at the simulated midnight (`Night`) instead
    of the real one, hours away; the backoff of an upload that just ended FAILED (30 s, doubling)
    is divided by `divisor` (the quick run). A breaker's deferral is kept as asked."""

    def __init__(self, inner: IntakeQueue, divisor: float, observed: Observed, night: Night) -> None:
        self._inner = inner
        self._divisor = divisor
        self._observed = observed
        self._night = night

    def delay(self, message: IntakeMessage, seconds: int) -> None:
        with self._observed.lock:
            self._observed.queue_delays[seconds] += 1
            uris = [item.image_uri for item in message.items if isinstance(item, Upload)]
            last = {self._observed.last.get(uri) for uri in uris}
        if "deferred:quota" in last and self._night.midnight is not None:
            seconds = max(1, math.ceil(self._night.midnight - time.monotonic()))
        elif str(Status.FAILED) in last and self._divisor != 1:
            seconds = max(1, round(seconds / self._divisor))
        self._inner.delay(message, seconds)


class Night:
    """The guard's events, counted. When `enabled`, the quota found spent (the guard's
    "quota_exhausted") begins a night of `seconds`, at the end of which midnight is simulated:
    the day's counter is deleted from the control table, as a new day in China Standard Time
    starts a new one. `midnight` is the last night's end (time.monotonic)."""

    def __init__(self, observed: Observed, control_table: str, seconds: float, *, enabled: bool) -> None:
        self._observed = observed
        self._control_table = control_table
        self._seconds = seconds
        self._enabled = enabled
        self._lock = threading.Lock()
        self._dark = False
        self.midnight: float | None = None

    def on_guard_event(self, event: str) -> None:
        observe_guard(event)
        if event == "probe":
            self._observed.probing()
        with self._observed.lock:
            self._observed.guard_events[event] += 1
            if event == "opened":
                self._observed.timeline.append((time.monotonic(), event))
        if event != "quota_exhausted" or not self._enabled:
            return
        with self._lock:
            if self._dark:
                return
            self._dark = True
            now = time.monotonic()
            self.midnight = now + self._seconds
            with self._observed.lock:
                self._observed.nights.append(now)
        threading.Thread(target=self._at_midnight, name="night", daemon=True).start()

    def _at_midnight(self) -> None:
        table = aws.session().resource("dynamodb").Table(self._control_table)
        time.sleep(max(0.0, (self.midnight or 0.0) - time.monotonic()))
        day = datetime.now(CHINA_STANDARD_TIME).date().isoformat()
        table.delete_item(Key={"pk": f"{QUOTA_KEY_PREFIX}{day}"})
        with self._lock:
            self._dark = False


def instance(settings: Settings, observed: Observed, night: Night, divisor: float) -> Pipeline:
    """One function instance: the pipeline `build_pipeline` wires, with what the run observes
    added (the guard's events, each upstream call, the results table) and the queue's delays
    scaled. build_pipeline has no hooks for these: its recognizer and guard are built again here
    from the same settings, with the same public constructors."""
    session = aws.session()
    base = build_pipeline(settings, session)
    dynamodb = session.resource("dynamodb", config=AWS_CONFIG)
    guard = FleetGuard(
        dynamodb.Table(settings.control_table_name),
        GuardSettings(
            max_rps=settings.upstream_max_rps,
            daily_quota=settings.upstream_daily_quota,
            breaker_threshold=settings.upstream_breaker_threshold,
            breaker_cooldown_seconds=settings.upstream_breaker_cooldown_seconds,
            margin_seconds=settings.upstream_rate_margin_seconds,
        ),
        on_event=night.on_guard_event,
    )
    upstream = UpstreamClient(
        settings.ocr_endpoint_url,
        ApiKeyProvider(
            settings.api_key_secret_id,
            settings.secret_max_age_seconds,
            session.client("secretsmanager", config=AWS_CONFIG),
        ),
        read_timeout=settings.ocr_timeout_seconds,
        connect_timeout=settings.ocr_connect_timeout_seconds,
        max_attempts=settings.ocr_max_attempts,
        guard=guard,
        on_attempt=observed.attempt,
    )
    assert base.intake_queue is not None
    return Pipeline(
        objects=base.objects,
        results=ObservedResults(
            dynamodb.Table(settings.results_table_name),
            observed,
            retention_days=settings.result_retention_days,
        ),
        dead_letters=base.dead_letters,
        recognizer=upstream,
        input_type=base.input_type,
        events=base.events,
        intake_queue=ScaledQueue(base.intake_queue, divisor, observed, night),
    )


@contextlib.contextmanager
def captured_warnings() -> Iterator[dict[str, Counter[str]]]:
    """The function's WARNING and ERROR log lines during the block, counted by message, by the
    name of the thread that logged them up to its first "-" (they are kept off stdout)."""
    seen: dict[str, Counter[str]] = defaultdict(Counter)

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen[(record.threadName or "").split("-")[0]][f"{record.levelname}: {record.getMessage()}"] += 1

    stdlib = logging.getLogger(function_logger.name)
    saved = stdlib.level, [(h, h.level) for h in stdlib.handlers]
    collect = Collect(logging.WARNING)
    for handler, _ in saved[1]:
        handler.setLevel(logging.CRITICAL + 1)
    stdlib.addHandler(collect)
    stdlib.setLevel(logging.WARNING)
    try:
        yield seen
    finally:
        stdlib.removeHandler(collect)
        stdlib.setLevel(saved[0])
        for handler, level in saved[1]:
            handler.setLevel(level)


# -- the run ------------------------------------------------------------------------------------
@dataclass
class PathResult:
    path: str
    wall_seconds: float
    statuses: Counter[str]
    lost: list[str]
    calls: int
    calls_ok: int
    calls_by_code: Counter[int]
    over_limit: int
    busiest_second: int
    observed: Observed
    warnings: Counter[str]
    failure_queue: list[str] = field(default_factory=list)
    outage_started_at: float | None = None  # seconds after the start
    upload_seconds: float = 0.0
    ended_seconds: float = 0.0  # the queue empty, or the last event done or in the failure queue
    over_limit_detail: str = ""  # when the first 429 came, and how long after the 2 calls before it
    margin_seconds: float = 0.0  # UPSTREAM_RATE_MARGIN_SECONDS
    breaker_threshold: int = 0  # UPSTREAM_BREAKER_THRESHOLD


def image(label: str, size: int) -> bytes:
    seed = label.encode()
    return b"\xff\xd8\xff\xe0" + (seed * (size // len(seed) + 1))[: size - 4]


class Burst:
    def __init__(self, plan: Plan, fields: dict[str, Any], api_key: str) -> None:
        self.plan = plan
        self.fields = fields
        self.api_key = api_key
        self.recognizer = GroundTruthRecognizer()
        self._local = threading.local()
        self._deploying = threading.Lock()  # stack.deploy checks, then creates, the shared secret

    @property
    def session(self) -> boto3.session.Session:
        """One SDK session per thread (a session is not thread-safe; its clients are)."""
        if not hasattr(self._local, "session"):
            self._local.session = aws.session()
        session: boto3.session.Session = self._local.session
        return session

    def deploy(self, name: str, upstream: UpstreamEmulator, intake_path: str) -> stack.LocalStack:
        with self._deploying:
            deployed = stack.deploy_with_upstream(
                self.session,
                stack_name=name,
                upstream_url=upstream.url,
                api_key=self.api_key,
                parameters={
                    "IntakePath": intake_path,
                    "UpstreamDailyQuota": str(self.plan.quota),
                    "UpstreamMaxRps": str(MAX_RPS),
                    "MaxConcurrency": str(max(2, self.plan.consumers)),
                },
            )
        deployed.function_environment.update(
            UPSTREAM_BREAKER_COOLDOWN_SECONDS=str(self.plan.cooldown_seconds),
            POWERTOOLS_LOG_LEVEL="WARNING",
        )
        return deployed

    def images(self, path: str) -> list[tuple[str, bytes]]:
        uploads = []
        for i in range(self.plan.uploads):
            body = image(f"burst {path} {i}", self.plan.image_bytes)
            self.recognizer.add(body, self.fields)
            uploads.append((f"uploads/burst-{i:04d}.jpg", body))
        return uploads

    def watch_for_outage(
        self, upstream: UpstreamEmulator, stop: threading.Event, started: float
    ) -> list[float]:
        """Starts the outage once the upstream has answered `outage_after_calls`; when it did."""
        when: list[float] = []

        def run() -> None:
            while not stop.wait(0.05):
                if len(upstream.calls) >= self.plan.outage_after_calls:
                    upstream.outage(self.plan.outage_seconds)
                    when.append(time.monotonic() - started)
                    return

        threading.Thread(target=run, name="outage", daemon=True).start()
        return when

    # -- the intake queue ---------------------------------------------------------------------
    def queue_path(self) -> PathResult:
        plan = self.plan
        with UpstreamEmulator(self.recognizer, [self.api_key], max_rps=MAX_RPS) as upstream:
            deployed = self.deploy("bench-burst-queue", upstream, "queue")
            url = deployed.intake_queue_url
            assert url is not None
            settings = Settings.from_env(deployed.function_environment)
            observed = Observed()
            night = Night(observed, deployed.control_table, plan.night_seconds, enabled=True)
            batch_size = int((deployed.event_source or {}).get("batch_size", 5))
            consumers = [
                QueueConsumer(
                    self.session.client("sqs"),
                    url,
                    instance(settings, observed, night, plan.delay_divisor).handle_event,
                    batch_size=batch_size,
                )
                for _ in range(plan.consumers)
            ]
            uploads = self.images("queue")
            s3, sqs = self.session.client("s3"), self.session.client("sqs")
            stop = threading.Event()
            errors: Counter[str] = Counter()
            warnings: Counter[str] = Counter()
            started = time.monotonic()
            outage_at = self.watch_for_outage(upstream, stop, started)
            threads = [
                threading.Thread(target=consume, args=(c, stop, errors), name=f"consumer-{n}", daemon=True)
                for n, c in enumerate(consumers)
            ]
            for thread in threads:
                thread.start()
            for key, body in uploads:  # S3 notifies the intake queue itself (moto)
                s3.put_object(Bucket=deployed.bucket, Key=key, Body=body)
            uploaded = time.monotonic() - started
            deadline = started + plan.timeout_seconds
            while time.monotonic() < deadline and queued(sqs, url) > 0:
                time.sleep(0.5)
            ended = time.monotonic() - started
            stop.set()
            for thread in threads:
                thread.join(timeout=plan.timeout_seconds)
            for error, count in errors.items():
                warnings[f"consumer: {error}"] += count
            parked = queued(sqs, deployed.parking_queue_url)
            if parked:
                warnings[f"messages in the parking queue: {parked}"] += 1
            result = self.result(
                "intake queue", deployed, upstream, observed, warnings, started, outage_at, uploaded
            )
            result.ended_seconds = ended
            return result

    # -- the direct path ----------------------------------------------------------------------
    def direct_path(self) -> PathResult:
        plan = self.plan
        with UpstreamEmulator(self.recognizer, [self.api_key], max_rps=MAX_RPS) as upstream:
            deployed = self.deploy("bench-burst-direct", upstream, "direct")
            settings = Settings.from_env(deployed.function_environment)
            observed = Observed()
            night = Night(observed, deployed.control_table, 0, enabled=False)
            pipelines = [instance(settings, observed, night, 1) for _ in range(plan.consumers)]
            uploads = self.images("direct")
            s3 = self.session.client("s3")
            invoker = AsyncInvoker(plan.lambda_retry_seconds)
            stop = threading.Event()
            warnings: Counter[str] = Counter()
            started = time.monotonic()
            outage_at = self.watch_for_outage(upstream, stop, started)
            threads = [
                threading.Thread(target=invoker.work, args=(p,), name=f"instance-{n}", daemon=True)
                for n, p in enumerate(pipelines)
            ]
            for thread in threads:
                thread.start()
            for key, body in uploads:  # S3 invokes the function asynchronously
                response = s3.put_object(Bucket=deployed.bucket, Key=key, Body=body)
                record = s3_record(
                    deployed.bucket,
                    key,
                    size=len(body),
                    etag=response["ETag"],
                    version_id=response.get("VersionId"),
                )
                invoker.submit(key, s3_event(record))
            uploaded = time.monotonic() - started
            invoker.close()
            for thread in threads:
                thread.join(timeout=plan.timeout_seconds)
            ended = time.monotonic() - started
            stop.set()
            for error, count in invoker.errors.items():
                warnings[f"invocation raised: {error}"] += count
            result = self.result(
                "direct", deployed, upstream, observed, warnings, started, outage_at, uploaded
            )
            result.failure_queue = invoker.failure_queue
            result.ended_seconds = ended
            return result

    def result(
        self,
        path: str,
        deployed: stack.LocalStack,
        upstream: UpstreamEmulator,
        observed: Observed,
        warnings: Counter[str],
        started: float,
        outage_at: list[float],
        uploaded: float,
    ) -> PathResult:
        items = scan(self.session.resource("dynamodb").Table(deployed.table))
        uris = [f"s3://{deployed.bucket}/uploads/burst-{i:04d}.jpg" for i in range(self.plan.uploads)]
        statuses = Counter(str(items.get(uri, {}).get("status", "missing")) for uri in uris)
        lost = [uri for uri in uris if items.get(uri, {}).get("status") not in FINAL]
        done = [t for status, t in observed.finished.values() if status in FINAL]
        calls = sorted(upstream.calls, key=lambda c: c.at)
        detail = ""
        for index, call in enumerate(calls):
            if call.http_status == 429 or call.code == 429:
                accepted = [c.at for c in calls[:index] if c.http_status != 429 and c.code != 429]
                detail = (
                    f" (the first {call.at - started:.1f} s after the start, "
                    f"{call.at - accepted[-MAX_RPS]:.3f} s after the call {MAX_RPS} before it)"
                    if len(accepted) >= MAX_RPS
                    else ""
                )
                break
        settings = Settings.from_env(deployed.function_environment)
        return PathResult(
            path=path,
            wall_seconds=(max(done) - started) if done else float("nan"),
            statuses=statuses,
            lost=lost,
            calls=len(calls),
            calls_ok=sum(1 for c in calls if c.code == 0),
            calls_by_code=Counter(c.code for c in calls),
            over_limit=sum(1 for c in calls if c.code == 429 or c.http_status == 429),
            busiest_second=upstream.max_calls_in_any_second(),
            observed=observed,
            warnings=warnings,
            outage_started_at=outage_at[0] if outage_at else None,
            upload_seconds=uploaded,
            over_limit_detail=detail,
            margin_seconds=settings.upstream_rate_margin_seconds,
            breaker_threshold=settings.upstream_breaker_threshold,
        )


def consume(consumer: QueueConsumer, stop: threading.Event, errors: Counter[str]) -> None:
    """One instance reading the intake queue as the event source mapping does, until `stop`."""
    while not stop.is_set():
        try:
            batch = consumer.poll_once(wait_seconds=0)
        except Exception as error:  # counted and reported
            errors[f"{type(error).__name__}: {error}"] += 1
            stop.wait(0.5)
            continue
        if batch is None:
            stop.wait(0.2)
        elif batch.error is not None:
            errors[f"{type(batch.error).__name__}: {batch.error}"] += 1


class AsyncInvoker:
    """Lambda's asynchronous invocation of the function for S3 events: an internal queue, the
    instances that take from it, two retries of an invocation that raised, then the failure
    queue (the event's upload is not completed)."""

    def __init__(self, retry_seconds: tuple[float, float]) -> None:
        self._retry_seconds = retry_seconds
        self._due: list[tuple[float, int, str, dict[str, Any], LocalContext, int]] = []
        self._sequence = itertools.count()
        self._condition = threading.Condition()
        self._open = True
        self._running = 0
        self.failure_queue: list[str] = []
        self.errors: Counter[str] = Counter()

    def submit(self, key: str, event: dict[str, Any]) -> None:
        self._push(time.monotonic(), key, event, LocalContext(), 0)

    def close(self) -> None:
        with self._condition:
            self._open = False
            self._condition.notify_all()

    def _push(self, due: float, key: str, event: dict[str, Any], context: LocalContext, retries: int) -> None:
        with self._condition:
            heapq.heappush(self._due, (due, next(self._sequence), key, event, context, retries))
            self._condition.notify_all()

    def _take(self) -> tuple[str, dict[str, Any], LocalContext, int] | None:
        with self._condition:
            while True:
                now = time.monotonic()
                if self._due and self._due[0][0] <= now:
                    _, _, key, event, context, retries = heapq.heappop(self._due)
                    self._running += 1
                    return key, event, context, retries
                if not self._due and not self._open and self._running == 0:
                    self._condition.notify_all()
                    return None
                self._condition.wait(timeout=(self._due[0][0] - now) if self._due else 0.5)

    def work(self, pipeline: Pipeline) -> None:
        while (taken := self._take()) is not None:
            key, event, context, retries = taken
            try:
                pipeline.handle_event(event, context)
            except Exception as error:  # a failed invocation, to Lambda
                with self._condition:
                    self.errors[type(error).__name__] += 1
                if retries < len(self._retry_seconds):
                    due = time.monotonic() + self._retry_seconds[retries]
                    self._push(due, key, event, context.retry(), retries + 1)
                else:
                    with self._condition:
                        self.failure_queue.append(key)
            finally:
                with self._condition:
                    self._running -= 1
                    self._condition.notify_all()


def queued(sqs: Any, url: str) -> int:
    """Messages in the queue, visible or not."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def scan(table: Any) -> dict[str, dict[str, Any]]:
    items: dict[str, dict[str, Any]] = {}
    kwargs: dict[str, Any] = {"ConsistentRead": True}
    while True:
        page = table.scan(**kwargs)
        items.update({str(item["image_uri"]): dict(item) for item in page.get("Items", [])})
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# -- the rows -----------------------------------------------------------------------------------
def rows(plan: Plan, queue: PathResult, direct: PathResult) -> list[RowValues]:
    out: list[RowValues] = []
    for result in (queue, direct):
        name = f"burst, {result.path}"
        night = plan.night_seconds if result.path == "intake queue" else 0.0
        # MAX_RPS calls per window of 1 s + the guard's margin
        minimum = plan.uploads * (1 + result.margin_seconds) / MAX_RPS + plan.outage_seconds + night
        probes = result.observed.guard_events["probe"]
        failed_calls = result.calls - result.calls_ok - result.over_limit
        outage = (
            f"outage from {result.outage_started_at:.0f} s"
            if result.outage_started_at is not None
            else "no outage (too few calls)"
        )
        out.append(
            (
                f"{name}: wall time ({plan.uploads} uploads, {plan.consumers} instances, "
                f"limit {MAX_RPS}/s, quota {plan.quota}/day, {plan.outage_seconds:.0f} s outage)",
                f"{result.wall_seconds:.0f} s to the last completed upload "
                f"(uploads put in {result.upload_seconds:.0f} s; {outage}; "
                f"{'queue empty' if result.path == 'intake queue' else 'last event done'} "
                f"at {result.ended_seconds:.0f} s)",
                f"{minimum:.0f} s: {plan.uploads} calls at {MAX_RPS} per {1 + result.margin_seconds:.2f} s "
                f"+ the outage" + (f" + the {night:.0f} s night" if night else ""),
                f"{result.wall_seconds / minimum:.2f}x",
                "report",
                "-",
            )
        )
        codes = ", ".join(f"{n} answered {code}" for code, n in sorted(result.calls_by_code.items()) if code)
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(result.observed.calls.items()))
        bound = plan.uploads + probes
        reasons, openings = result.observed.failed_calls()
        probes_ok = probes - result.observed.calls["failed probe"]
        why = ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items())) or "none"
        out.append(
            (
                f"  {name}: upstream calls",
                f"{result.calls} ({result.calls_ok} recognised; {codes or 'no errors'}); "
                f"{probes} breaker probes ({probes_ok} succeeded); as the function counts them: {kinds}; "
                f"the failed calls that were not probes, by the breaker's state when they were "
                f"answered: {why} (threshold {result.breaker_threshold} consecutive failures; "
                f"opened {openings}x from closed)",
                f"uploads + probes = {bound}",
                f"{result.calls / bound:.3f}x",
                "<= uploads + probes",
                "yes"
                if result.calls <= bound
                else f"no: {result.calls - bound} more ({failed_calls} failed, "
                f"{sum(reasons.values())} of them not probes; a probe that succeeded is also an "
                f"upload's call)",
            )
        )
        out.append(
            (
                f"  {name}: calls above the limit",
                f"{result.over_limit} answered 429{result.over_limit_detail}; "
                f"max {result.busiest_second} accepted in any 1 s; margin "
                f"{result.margin_seconds:.2f} s; {result.observed.guard_events['late_for_slot']} "
                f"times a call late for its slot took a new one",
                f"0; <= {MAX_RPS}",
                "-",
                "0",
                "yes" if result.over_limit == 0 and result.busiest_second <= MAX_RPS else "no",
            )
        )
        failed_end = result.statuses.get(str(Status.FAILED), 0)
        on_the_way = len(result.observed.failed_on_the_way)
        out.append(
            (
                f"  {name}: FAILED",
                f"{failed_end} at the end; {on_the_way} uploads FAILED on the way "
                + (
                    "(their messages came back)" if result.path == "intake queue" else "(Lambda retried them)"
                ),
                f"of {plan.uploads}",
                "-",
                "0 at the end",
                "yes" if failed_end == 0 else "no",
            )
        )
        where = (
            f"{len(result.failure_queue)} events in the failure queue"
            if result.path == "direct"
            else "not final when the queue was empty or at the time limit"
        )
        out.append(
            (
                f"  {name}: lost (not completed)",
                f"{len(result.lost)} ({where}); final statuses {dict(sorted(result.statuses.items()))}",
                f"of {plan.uploads}",
                "-",
                "0",
                "yes" if not result.lost else "no",
            )
        )
    out += deferred_rows(plan, queue)
    for result in (queue, direct):
        if result.warnings:
            top = "; ".join(f"{n}x {message[:90]}" for message, n in result.warnings.most_common(4))
            out.append((f"  burst, {result.path}: function warnings", top, "-", "-", "report", "-"))
    return out


def deferred_rows(plan: Plan, result: PathResult) -> list[RowValues]:
    observed = result.observed
    name = f"  burst, {result.path}"
    by_quota = {uri for uri, ds in observed.deferrals.items() if any(d.reason == "quota" for d in ds)}
    by_breaker = set(observed.deferrals) - by_quota
    total = sum(len(ds) for ds in observed.deferrals.values())
    nights = f"{len(observed.nights)} of {plan.night_seconds:.0f} s"
    per_upload = [len(ds) for ds in observed.deferrals.values()] or [0]
    immediate = observed.queue_delays.get(0, 0)
    out: list[RowValues] = [
        (
            f"{name}: deferred",
            f"{len(observed.deferrals)} uploads ({len(by_quota)} by the quota, {len(by_breaker)} by the "
            f"breaker only), {total} deferrals (max {max(per_upload)} for one upload; {immediate} "
            f"messages delayed 0 s); {observed.guard_events['opened']} breaker openings, "
            f"{observed.guard_events['probe']} probes; nights: {nights}",
            "-",
            "-",
            "report",
            "-",
        )
    ]
    for label, uris in (("quota", by_quota), ("breaker", by_breaker)):
        if not uris:
            continue
        promised, real = [], []
        for uri in uris:
            first_real, first_epoch = observed.first_claim[uri]
            _, finished = observed.finished.get(uri, (Status.DEFERRED, float("nan")))
            promised.append(observed.deferrals[uri][-1].retry_after - first_epoch)
            real.append(finished - first_real)
        out.append(
            (
                f"{name}: deferred waits, {label}",
                f"retry_after - first attempt: median {span(statistics.median(promised))}, max "
                f"{span(max(promised))}; completed after the first attempt: median "
                f"{statistics.median(real):.0f} s, max {max(real):.0f} s",
                (
                    f"retry_after: the real midnight CST; the night simulated in {plan.night_seconds:.0f} s"
                    if label == "quota"
                    else f"breaker cool-down {plan.cooldown_seconds:.0f} s"
                )
                + (f"; FAILED backoff / {plan.delay_divisor:.0f}" if plan.delay_divisor != 1 else ""),
                "-",
                "report",
                "-",
            )
        )
    return out


def span(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds:.0f} s"


def run(quick: bool, fields: dict[str, Any], api_key: str) -> list[RowValues]:
    """Both paths at the same time, each with its own stack, upstream (2 req/s each), control
    table and clock (inside aws.emulated_aws); the table's rows."""
    plan = QUICK if quick else FULL
    burst = Burst(plan, fields, api_key)
    results: dict[str, PathResult] = {}
    failures: list[BaseException] = []

    def path(run_path: Callable[[], PathResult]) -> None:
        try:
            result = run_path()
            results[result.path] = result
        except BaseException as error:
            failures.append(error)

    with serialised_moto(), captured_warnings() as warnings:
        threads = [
            threading.Thread(target=path, args=(burst.queue_path,), name="queue-path"),
            threading.Thread(target=path, args=(burst.direct_path,), name="direct-path"),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if failures:
        raise failures[0]
    queue, direct = results["intake queue"], results["direct"]
    queue.warnings.update(warnings["consumer"])
    direct.warnings.update(warnings["instance"])
    return rows(plan, queue, direct)
