"""The vehicle-license OCR endpoint: `errors` (one class per outcome), `contract` (codes and
documents), `rate_limit`, and `client` (the HTTP calls)."""

from vehicle_license_intake.upstream.client import AttemptRecord, UpstreamClient
from vehicle_license_intake.upstream.errors import UpstreamError, UpstreamRejectedImage

__all__ = ["AttemptRecord", "UpstreamClient", "UpstreamError", "UpstreamRejectedImage"]
