"""The Lambda entry point: observability decorators, then one call into the pipeline."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from vehicle_license_intake.app import build_pipeline
from vehicle_license_intake.config import ConfigError, Settings
from vehicle_license_intake.observability import logger, metrics, tracer
from vehicle_license_intake.pipeline import Pipeline

_pipeline: Pipeline | None = None


def pipeline() -> Pipeline:
    """Configuration is parsed once, on the first invocation of the instance (ConfigError names
    the variable); the clients and the key cache then live as long as the instance."""
    global _pipeline
    if _pipeline is None:
        _pipeline = build_pipeline(Settings.from_env())
    return _pipeline


def reset() -> None:
    """Forget the configured pipeline: the next invocation reads the environment again."""
    global _pipeline
    _pipeline = None


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        configured = pipeline()
    except ConfigError:
        metrics.add_metric(name="ConfigurationErrors", unit=MetricUnit.Count, value=1)
        raise
    return configured.handle_event(event, context)
