"""The records function's Lambda entry point: observability decorators, then one call."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vehicle_license_intake.observability import logger, metrics
from vehicle_license_records.app import build_records
from vehicle_license_records.records import VehicleRecords

_records: VehicleRecords | None = None


def records() -> VehicleRecords:
    global _records
    if _records is None:
        _records = build_records()
    return _records


def reset() -> None:
    """Forget the configured service: the next invocation reads the environment again."""
    global _records
    _records = None


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return records().handle_batch(event)
