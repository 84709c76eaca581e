"""Wiring: from Settings to a Pipeline with its AWS clients, key provider and recognizer."""

from __future__ import annotations

import boto3
from botocore.config import Config

from vehicle_license_intake.api_key import ApiKeyProvider
from vehicle_license_intake.config import ConfigError, Settings
from vehicle_license_intake.dead_letters import DeadLetterQueue
from vehicle_license_intake.objects import ObjectStore
from vehicle_license_intake.pipeline import Pipeline, observe_attempt
from vehicle_license_intake.ports import Recognizer
from vehicle_license_intake.results import ResultsTable
from vehicle_license_intake.upstream.client import UpstreamClient
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
    table = session.resource("dynamodb", config=AWS_CONFIG).Table(settings.results_table_name)
    return Pipeline(
        objects=ObjectStore(s3, settings.max_image_bytes),
        results=ResultsTable(table, retention_days=settings.result_retention_days),
        dead_letters=DeadLetterQueue(sqs, settings.dead_letter_queue_url),
        recognizer=build_recognizer(settings, session),
        input_type=settings.ocr_input_type,
    )


def build_recognizer(settings: Settings, session: boto3.session.Session) -> Recognizer:
    if settings.ocr_provider == "local":
        return _local_recognizer()
    api_key = ApiKeyProvider(
        settings.api_key_secret_id,
        settings.secret_max_age_seconds,
        session.client("secretsmanager", config=AWS_CONFIG),
    )
    return UpstreamClient(
        settings.ocr_endpoint_url,
        api_key,
        read_timeout=settings.ocr_timeout_seconds,
        connect_timeout=settings.ocr_connect_timeout_seconds,
        max_attempts=settings.ocr_max_attempts,
        rate_limiter=RateLimiter(settings.ocr_max_rps),
        on_attempt=observe_attempt,
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
