"""The one Logger, Metrics and Tracer of the package (Powertools), created once.

Log lines name the upload (image_uri, sequencer, status, upstream request_id, attempt);
they never carry the API key or any field value of a license.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "vehicle-license-intake"
NAMESPACE = "VehicleLicenseIntake"


class Untraced:
    """Stands in for Tracer when POWERTOOLS_TRACE_DISABLED is true: the X-Ray SDK is then never
    imported (it builds two botocore clients at import, about 100 ms of every cold start)."""

    def capture_lambda_handler(self, lambda_handler: Any = None, **_: Any) -> Callable[..., Any]:
        if lambda_handler is not None:
            return lambda_handler  # type: ignore[no-any-return]
        return lambda handler: handler


def tracing_enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() not in (
        "1",
        "true",
        "yes",
        "on",
    )


logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer: Tracer | Untraced = Tracer(service=SERVICE) if tracing_enabled() else Untraced()
