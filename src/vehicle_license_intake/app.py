"""Wiring: from Settings to a Pipeline with its AWS clients, key provider and recognizer."""

from __future__ import annotations

import boto3
from botocore.config import Config

from vehicle_license_intake.api_key import ApiKeyProvider
from vehicle_license_intake.config import ConfigError, Settings
from vehicle_license_intake.dead_letters import DeadLetterQueue
from vehicle_license_intake.fallback import FallbackRecognizer
from vehicle_license_intake.intake_queue import SqsIntakeQueue
from vehicle_license_intake.notifications import EventBridgePublisher
from vehicle_license_intake.objects import ObjectStore
from vehicle_license_intake.pipeline import Pipeline, observe_attempt, observe_guard
from vehicle_license_intake.ports import Recognizer
from vehicle_license_intake.results import ResultsTable
from vehicle_license_intake.upstream.client import UpstreamClient
from vehicle_license_intake.upstream.guard import FleetGuard, GuardSettings, LocalGuard, UpstreamGuard
from vehicle_license_intake.upstream.rate_limit import RateLimiter

# SDK retries for throttling and 5xx of AWS itself; the upstream has its own retry loop.
AWS_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=3,
    read_timeout=10,
    user_agent_extra="vehicle-license-intake",
)


def build_pipeline(settings: Settings, session: boto3.session.Session | None = None) -> Pipeline:
    """Every client is created once here; boto3 honours AWS_ENDPOINT_URL for emulators."""
    session = session or boto3.session.Session()
    s3 = session.client("s3", config=AWS_CONFIG)
    sqs = session.client("sqs", config=AWS_CONFIG)
    dynamodb = session.resource("dynamodb", config=AWS_CONFIG)
    events = (
        EventBridgePublisher(session.client("events", config=AWS_CONFIG), settings.event_bus_name)
        if settings.event_bus_name
        else None
    )
    return Pipeline(
        objects=ObjectStore(s3, settings.max_image_bytes),
        results=ResultsTable(
            dynamodb.Table(settings.results_table_name), retention_days=settings.result_retention_days
        ),
        dead_letters=DeadLetterQueue(sqs, settings.dead_letter_queue_url),
        recognizer=build_recognizer(settings, session),
        input_type=settings.ocr_input_type,
        events=events,
        intake_queue=SqsIntakeQueue(sqs),
    )


def build_recognizer(settings: Settings, session: boto3.session.Session) -> Recognizer:
    if settings.ocr_provider == "local":
        return _local_recognizer()
    api_key = ApiKeyProvider(
        settings.api_key_secret_id,
        settings.secret_max_age_seconds,
        session.client("secretsmanager", config=AWS_CONFIG),
    )
    upstream = UpstreamClient(
        settings.ocr_endpoint_url,
        api_key,
        read_timeout=settings.ocr_timeout_seconds,
        connect_timeout=settings.ocr_connect_timeout_seconds,
        max_attempts=settings.ocr_max_attempts,
        guard=build_guard(settings, session),
        on_attempt=observe_attempt,
    )
    if settings.ocr_fallback == "local":
        return FallbackRecognizer(upstream, _local_recognizer())
    return upstream


def build_guard(settings: Settings, session: boto3.session.Session) -> UpstreamGuard:
    """Shared by the fleet through the control table (SPEC §9), or this instance's limiter."""
    if not settings.control_table_name:
        return LocalGuard(
            RateLimiter(settings.ocr_max_rps, margin_seconds=settings.upstream_rate_margin_seconds)
        )
    table = session.resource("dynamodb", config=AWS_CONFIG).Table(settings.control_table_name)
    return FleetGuard(
        table,
        GuardSettings(
            max_rps=settings.upstream_max_rps,
            daily_quota=settings.upstream_daily_quota,
            breaker_threshold=settings.upstream_breaker_threshold,
            breaker_cooldown_seconds=settings.upstream_breaker_cooldown_seconds,
            margin_seconds=settings.upstream_rate_margin_seconds,
        ),
        on_event=observe_guard,
    )


def _local_recognizer() -> Recognizer:
    """The offline recognizer, or a ConfigError at start-up naming what to install: without its
    packages every image would fail (and be retried, and paid for in time) one by one."""
    install = "pip install 'vehicle-license-intake[recognizer]' (or deploy Dockerfile.recognizer)"
    try:
        from vehicle_license_recognizer import LocalRecognizer, missing_dependencies
    except ImportError:
        raise ConfigError(
            f"OCR_PROVIDER is 'local' but the offline recognizer is not installed: {install}"
        ) from None
    missing = missing_dependencies()
    if missing:
        raise ConfigError(
            f"OCR_PROVIDER is 'local' but the offline recognizer's packages are missing "
            f"({', '.join(missing)}): {install}"
        )
    recognizer: Recognizer = LocalRecognizer()
    return recognizer
