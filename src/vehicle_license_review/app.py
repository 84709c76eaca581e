"""Wiring: the settings, the AWS clients and the desk, built once per instance."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import boto3
from botocore.config import Config

from vehicle_license_intake.notifications import EventBridgePublisher
from vehicle_license_records.store import VehicleTable
from vehicle_license_review.api import ReviewApi, origin
from vehicle_license_review.config import ReviewSettings
from vehicle_license_review.desk import ReviewDesk
from vehicle_license_review.store import ReviewTables


def build_api(settings: ReviewSettings | None = None, *, clock: Callable[[], float] = time.time) -> ReviewApi:
    settings = settings or ReviewSettings.from_env()
    session = boto3.session.Session()
    dynamodb = session.resource("dynamodb")
    tables = ReviewTables(
        session.client("dynamodb"),
        dynamodb.Table(settings.results_table_name),
        dynamodb.Table(settings.review_trail_table_name),
    )
    publisher = (
        EventBridgePublisher(session.client("events"), settings.event_bus_name)
        if settings.event_bus_name
        else None
    )
    desk = ReviewDesk(tables, publisher, claim_seconds=settings.review_claim_seconds, clock=clock)
    # Path-style URLs: every presigned image comes from the one S3 origin the page's CSP allows.
    s3 = session.client("s3", config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))

    def image_url(item: Mapping[str, Any]) -> str | None:
        if not item.get("bucket") or not item.get("object_key"):
            return None
        params = {"Bucket": item["bucket"], "Key": item["object_key"]}
        if item.get("version_id"):
            params["VersionId"] = item["version_id"]
        return str(
            s3.generate_presigned_url("get_object", Params=params, ExpiresIn=settings.image_url_seconds)
        )

    # The vehicle records the desk shows beside an upload (SPEC §12), read only.
    vehicles = (
        VehicleTable(dynamodb.Table(settings.vehicle_table_name)).find
        if settings.vehicle_table_name
        else None
    )
    return ReviewApi(
        settings, desk, image_url=image_url, s3_origin=origin(str(s3.meta.endpoint_url)), vehicles=vehicles
    )
