"""The one Logger, Metrics and Tracer of the package (Powertools), created once.

Log lines name the upload (image_uri, sequencer, status, upstream request_id, attempt);
they never carry the API key or any field value of a license.

The service name and the metrics namespace come from POWERTOOLS_SERVICE_NAME and
POWERTOOLS_METRICS_NAMESPACE (the template sets both), with the package's names as defaults.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

DEFAULT_SERVICE = "vehicle-license-intake"
DEFAULT_NAMESPACE = "VehicleLicenseIntake"
XRAY_SDK = "aws_xray_sdk"


class Untraced:
    """Stands in for Tracer when tracing is disabled (POWERTOOLS_TRACE_DISABLED) or the X-Ray SDK
    is not installed (the zip ships without it: it would bundle a second botocore). The function
    then runs inside Lambda's own trace segment, without subsegments, and the X-Ray SDK is never
    imported (it builds two botocore clients at import, about 100 ms of every cold start)."""

    def capture_lambda_handler(self, lambda_handler: Any = None, **_: Any) -> Callable[..., Any]:
        if lambda_handler is not None:
            return lambda_handler  # type: ignore[no-any-return]
        return lambda handler: handler


def setting(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def tracing_enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() not in (
        "1",
        "true",
        "yes",
        "on",
    )


def xray_sdk_installed() -> bool:
    """Whether the X-Ray SDK (the `tracing` extra) can be imported, without importing it."""
    return importlib.util.find_spec(XRAY_SDK) is not None


SERVICE = setting("POWERTOOLS_SERVICE_NAME", DEFAULT_SERVICE)
NAMESPACE = setting("POWERTOOLS_METRICS_NAMESPACE", DEFAULT_NAMESPACE)

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer: Tracer | Untraced = (
    Tracer(service=SERVICE) if tracing_enabled() and xray_sdk_installed() else Untraced()
)
