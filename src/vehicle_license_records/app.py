"""Wiring: the settings, the AWS clients and the records service, built once per instance."""

from __future__ import annotations

import boto3

from vehicle_license_intake.notifications import EventBridgePublisher
from vehicle_license_records.config import RecordsSettings
from vehicle_license_records.records import VehicleRecords
from vehicle_license_records.store import ResultsReader, VehicleTable


def build_records(settings: RecordsSettings | None = None) -> VehicleRecords:
    settings = settings or RecordsSettings.from_env()
    session = boto3.session.Session()
    dynamodb = session.resource("dynamodb")
    publisher = (
        EventBridgePublisher(session.client("events"), settings.event_bus_name)
        if settings.event_bus_name
        else None
    )
    return VehicleRecords(
        ResultsReader(dynamodb.Table(settings.results_table_name)),
        VehicleTable(dynamodb.Table(settings.vehicle_table_name), attempts=settings.record_write_attempts),
        publisher,
        retention_days=settings.result_retention_days,
    )
