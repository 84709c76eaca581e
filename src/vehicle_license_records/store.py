"""DynamoDB for vehicle records: the results item read as it is now, and the vehicle table
written optimistically (each record carries a `version`; a write is conditional on the version
read, and a lost race reads again and merges again), so two pages arriving at once lose nothing.

The vehicle table (partition key `plate`) holds three kinds of items:
    <normalised plate>        a vehicle record (domain/vehicle.py)
    unmatched#<image_uri>     a page whose plate could not be read, waiting
    upload#<image_uri>        which record an upload's values are in (so a corrected plate or a
                              rejection takes them out of the record they were in)
Index `ByVin` (`vin`) finds a record by its VIN; the sparse index `Waiting` (`waiting_for`,
`plate`) holds only the records that wait: one page (`main`/`secondary`: the page missing) or no
plate (`plate`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from vehicle_license_intake.domain.vehicle import lookup_keys, same_content
from vehicle_license_intake.results import plain

VIN_INDEX = "ByVin"
WAITING_INDEX = "Waiting"
UPLOAD_PREFIX = "upload#"


class RecordContention(Exception):
    """A record changed under every attempt to write it: the message comes back later."""


class VehicleTable:
    def __init__(self, table: Any, *, attempts: int = 8) -> None:
        self._table = table
        self._attempts = attempts

    def get(self, key: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"plate": key}, ConsistentRead=True).get("Item")
        return plain(item) if item else None

    def update(
        self, key: str, change: Callable[[dict[str, Any] | None], dict[str, Any] | None]
    ) -> dict[str, Any] | None:
        """Read the item, apply `change` (None: leave it), write it if its version is still the
        one read; again on a lost race. The item as stored afterwards."""
        for _ in range(self._attempts):
            stored = self.get(key)
            changed = change(stored)
            if changed is None or (stored is not None and same_content(stored, changed)):
                return stored
            version = int((stored or {}).get("version") or 0)
            item = {**changed, "plate": key, "version": version + 1}
            try:
                if stored is None:
                    self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(plate)")
                else:
                    self._table.put_item(
                        Item=item,
                        ConditionExpression="#v = :v",
                        ExpressionAttributeNames={"#v": "version"},
                        ExpressionAttributeValues={":v": version},
                    )
                return item
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
        raise RecordContention(f"record changed under {self._attempts} attempts to write it")

    def mark_complete_published(self, key: str, event_id: str) -> bool:
        """Flip `complete_published` for this event (once; a newer version of the record keeps
        the flag). False when another invocation flipped it first."""
        try:
            self._table.update_item(
                Key={"plate": key},
                UpdateExpression="SET #p = :t, #v = #v + :one",
                ConditionExpression="#e = :e AND #p = :f",
                ExpressionAttributeNames={
                    "#p": "complete_published",
                    "#e": "complete_event_id",
                    "#v": "version",
                },
                ExpressionAttributeValues={":t": True, ":f": False, ":e": event_id, ":one": 1},
            )
            return True
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return False

    def find(self, plate_or_vin: str) -> list[dict[str, Any]]:
        """The record of a plate (its key), or else the records of a VIN (index ByVin)."""
        plate, vin = lookup_keys(plate_or_vin)
        found = self.get(plate) if plate else None
        if found is not None:
            return [found]
        return self.by_vin(vin) if vin else []

    def by_vin(self, vin: str) -> list[dict[str, Any]]:
        return list(self._query(IndexName=VIN_INDEX, KeyConditionExpression=Key("vin").eq(vin)))

    def waiting(self, waiting_for: str, limit: int = 1000) -> list[dict[str, Any]]:
        """The records that wait for this (`main`, `secondary` or `plate`), by plate."""
        found: list[dict[str, Any]] = []
        for item in self._query(
            IndexName=WAITING_INDEX, KeyConditionExpression=Key("waiting_for").eq(waiting_for)
        ):
            found.append(item)
            if len(found) >= limit:
                break
        return found

    def _query(self, **request: Any) -> Iterator[dict[str, Any]]:
        while True:
            page = self._table.query(**request)
            yield from (plain(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class ResultsReader:
    """The results table, read only: the upload as stored now."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def get(self, image_uri: str) -> Mapping[str, Any] | None:
        item = self._table.get_item(Key={"image_uri": image_uri}, ConsistentRead=True).get("Item")
        return plain(item) if item else None


def upload_key(image_uri: str) -> str:
    return f"{UPLOAD_PREFIX}{image_uri}"
