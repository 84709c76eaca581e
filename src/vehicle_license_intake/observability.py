"""The one Logger, Metrics and Tracer of the package (Powertools), created once.

Log lines name the upload (image_uri, sequencer, status, upstream request_id, attempt);
they never carry the API key or any field value of a license.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "vehicle-license-intake"
NAMESPACE = "VehicleLicenseIntake"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)
