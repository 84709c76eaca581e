"""What the vehicle-record tests do with the deployed stack: uploads of one page or both, read by
the real intake handler, whose events the stack's rule puts into the vehicle events queue, read
as the records function's event source mapping reads it (delivery.QueueConsumer) by the real
records handler."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from conftest import LICENSE, Intake, jpeg
from vehicle_license_intake.domain.fields import LICENSE_FIELDS, MAIN_PAGE_FIELDS, SECONDARY_PAGE_FIELDS
from vehicle_license_intake.results import plain
from vehicle_license_records import handler as records_handler
from vehicle_license_tools.delivery import BatchResult, QueueConsumer

PLATE = LICENSE["plate_number"]


def main_page(**changes: str) -> dict[str, str]:
    """The 20 values of an upload of the main page only (the others read as empty)."""
    return {
        name: changes.get(name, LICENSE[name]) if name in MAIN_PAGE_FIELDS else "" for name in LICENSE_FIELDS
    }


def secondary_page(**changes: str) -> dict[str, str]:
    return {
        name: changes.get(name, LICENSE[name]) if name in SECONDARY_PAGE_FIELDS else ""
        for name in LICENSE_FIELDS
    }


def both_pages(**changes: str) -> dict[str, str]:
    return {name: changes.get(name, LICENSE[name]) for name in LICENSE_FIELDS}


@dataclass
class Vehicles:
    intake: Intake

    def configure(self) -> None:
        """This process becomes the records function too (its environment from the template)."""
        for name, value in self.intake.stack.records_function_environment.items():
            if name.startswith(("RESULTS_", "VEHICLE_", "EVENT_BUS")):
                self.intake.monkeypatch.setenv(name, value)
        records_handler.reset()

    @property
    def consumer(self) -> QueueConsumer:
        return QueueConsumer.for_vehicle_events(
            self.intake.stack, self.intake.session.client("sqs"), records_handler.lambda_handler
        )

    def upload(self, key: str, values: dict[str, str], label: str | None = None) -> None:
        """Upload an image the upstream reads as these values; the intake handler processes it."""
        body = jpeg(label or key)
        self.intake.recognizer.add(body, values)
        self.intake.upload(key, body)

    def deliver(self) -> list[BatchResult]:
        """Every event waiting in the vehicle events queue, to the records handler."""
        results = self.consumer.drain()
        assert all(r.error is None and r.failures == 0 for r in results), results
        return results

    def take_messages(self) -> list[str]:
        """The bodies of the events waiting in the vehicle events queue, taken out of it."""
        sqs, url = self.intake.session.client("sqs"), self.intake.stack.vehicle_events_queue_url
        bodies: list[str] = []
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
            "Messages", []
        ):
            bodies.extend(str(m["Body"]) for m in batch)
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
            )
        return bodies

    def send(self, *bodies: str) -> None:
        """Events into the vehicle events queue, as the rule puts them (again)."""
        sqs, url = self.intake.session.client("sqs"), self.intake.stack.vehicle_events_queue_url
        for body in bodies:
            sqs.send_message(QueueUrl=url, MessageBody=body)

    def item(self, key: str) -> dict[str, Any] | None:
        table = self.intake.session.resource("dynamodb").Table(self.intake.stack.vehicle_table)
        found = table.get_item(Key={"plate": key}, ConsistentRead=True).get("Item")
        return plain(found) if found else None

    def record(self, plate: str = PLATE) -> dict[str, Any]:
        found = self.item(plate)
        assert found is not None, f"no record for {plate}"
        return found

    def uri(self, key: str) -> str:
        return f"s3://{self.intake.stack.bucket}/{key}"


def complete_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["detail-type"] == "Vehicle Record Complete"]


def no_personal_data(event: dict[str, Any]) -> None:
    text = json.dumps(event, ensure_ascii=False)
    for name in ("plate_number", "vin", "owner", "address", "document_id", "engine_number"):
        assert LICENSE[name] not in text, name
