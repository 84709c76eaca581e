"""The review API's Lambda entry point: observability decorators, then one call into the API."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vehicle_license_intake.observability import logger, metrics
from vehicle_license_review.api import ReviewApi
from vehicle_license_review.app import build_api

_api: ReviewApi | None = None


def api() -> ReviewApi:
    global _api
    if _api is None:
        _api = build_api()
    return _api


def reset() -> None:
    """Forget the configured API: the next request reads the environment again."""
    global _api
    _api = None


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return api().handle(event)
