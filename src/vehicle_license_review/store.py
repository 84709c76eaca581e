"""The review's data access (SPEC §11): the ReviewQueue index of the results table, the review
state on each item, and the audit trail table. Every change of the review state is written in
one transaction with its audit entry, under a condition that makes the lease hold: the trail
records every action that happened and nothing that did not."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from vehicle_license_intake.domain.review import QueueKind, ReviewStatus
from vehicle_license_intake.results import plain

REVIEW_INDEX = "ReviewQueue"
_INDEX_KEYS = ("image_uri", "review_queue", "review_since")
_EVENT_PENDING = "review_event_pending"


class ReviewConflict(Exception):
    """The condition of a review write failed: `item` is the upload as it is now (None: gone)."""

    def __init__(self, item: dict[str, Any] | None) -> None:
        super().__init__("the upload's review changed")
        self.item = item


@dataclass
class QueuePage:
    items: list[dict[str, Any]]
    cursor: str | None
    counts: dict[str, int] = field(default_factory=dict)


class ReviewTables:
    """The DynamoDB adapter: `results` and `trail` are boto3 Table resources, `client` the
    low-level client of the same account (for transactions)."""

    def __init__(self, client: Any, results: Any, trail: Any) -> None:
        self._client = client
        self._results = results
        self._trail = trail
        self._serializer = TypeSerializer()

    # -- reading --------------------------------------------------------------------------
    def get(self, image_uri: str) -> dict[str, Any] | None:
        item = self._results.get_item(Key={"image_uri": image_uri}, ConsistentRead=True).get("Item")
        return plain(item) if item else None

    def count(self, kind: QueueKind) -> int:
        total, start = 0, None
        while True:
            query: dict[str, Any] = {
                "IndexName": REVIEW_INDEX,
                "KeyConditionExpression": Key("review_queue").eq(kind.value),
                "Select": "COUNT",
            }
            if start:
                query["ExclusiveStartKey"] = start
            response = self._results.query(**query)
            total += int(response.get("Count", 0))
            start = response.get("LastEvaluatedKey")
            if not start:
                return total

    def queue(
        self, kinds: list[QueueKind], *, reason: str | None, limit: int, cursor: str | None
    ) -> QueuePage:
        """The oldest `limit` uploads of the given kinds (merged by the time they began waiting);
        the cursor continues each kind where this page stopped."""
        starts: dict[str, Any] = _decode_cursor(cursor)
        candidates: list[tuple[str, dict[str, Any]]] = []
        exhausted: set[str] = set()
        for kind in kinds:
            items, done = self._oldest(kind, reason, limit, starts.get(kind.value))
            candidates.extend((kind.value, item) for item in items)
            if done:
                exhausted.add(kind.value)
        candidates.sort(key=lambda pair: (str(pair[1]["review_since"]), str(pair[1]["image_uri"])))
        page = candidates[:limit]
        next_starts = dict(starts)
        for kind_value, item in page:
            next_starts[kind_value] = {name: item[name] for name in _INDEX_KEYS}
        more = len(candidates) > limit or any(k.value not in exhausted for k in kinds)
        # A kind left untouched by this page keeps its start; one fully consumed and exhausted
        # has nothing more.
        return QueuePage([plain(item) for _, item in page], _encode_cursor(next_starts) if more else None)

    def _oldest(
        self, kind: QueueKind, reason: str | None, limit: int, start: Mapping[str, Any] | None
    ) -> tuple[list[dict[str, Any]], bool]:
        """Up to `limit` items of one kind, oldest first, and whether the kind has no more."""
        found: list[dict[str, Any]] = []
        while len(found) < limit:
            query: dict[str, Any] = {
                "IndexName": REVIEW_INDEX,
                "KeyConditionExpression": Key("review_queue").eq(kind.value),
                "ScanIndexForward": True,
                "Limit": limit,
            }
            if reason:
                query["FilterExpression"] = Attr("review_reasons").contains(reason)
            if start:
                query["ExclusiveStartKey"] = dict(start)
            response = self._results.query(**query)
            found.extend(response.get("Items", []))
            start = response.get("LastEvaluatedKey")
            if not start:
                return found[:limit], len(found) <= limit
        return found[:limit], False

    def trail(self, image_uri: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        start = None
        while True:
            query: dict[str, Any] = {"KeyConditionExpression": Key("image_uri").eq(image_uri)}
            if start:
                query["ExclusiveStartKey"] = start
            response = self._trail.query(**query)
            entries.extend(plain(e) for e in response.get("Items", []))
            start = response.get("LastEvaluatedKey")
            if not start:
                return entries

    # -- writing --------------------------------------------------------------------------
    def change_review(
        self,
        image_uri: str,
        *,
        update: str,
        condition: str,
        names: Mapping[str, str],
        values: Mapping[str, Any],
        entry: Mapping[str, Any],
    ) -> dict[str, Any]:
        """Apply one review change and append its audit entry, both or neither. ReviewConflict
        when the condition fails (the upload as it is now is attached)."""
        serialize = self._serializer.serialize
        trail_item = {**entry, "image_uri": image_uri, "entry": f"{entry['at']}#{uuid.uuid4().hex[:8]}"}
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._results.name,
                            "Key": {"image_uri": serialize(image_uri)},
                            "UpdateExpression": update,
                            "ConditionExpression": condition,
                            "ExpressionAttributeNames": dict(names),
                            "ExpressionAttributeValues": {k: serialize(v) for k, v in values.items()},
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._trail.name,
                            "Item": {k: serialize(v) for k, v in trail_item.items()},
                            "ConditionExpression": "attribute_not_exists(#entry)",
                            "ExpressionAttributeNames": {"#entry": "entry"},
                        }
                    },
                ]
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                raise ReviewConflict(self.get(image_uri)) from None
            raise
        item = self.get(image_uri)
        if item is None:  # removed in between (retention): the change was made all the same
            raise ReviewConflict(None)
        return item

    def mark_event_published(self, image_uri: str, identity: str) -> None:
        try:
            self._results.update_item(
                Key={"image_uri": image_uri},
                UpdateExpression="REMOVE #pending",
                ConditionExpression="#identity = :identity AND attribute_exists(#pending)",
                ExpressionAttributeNames={"#pending": _EVENT_PENDING, "#identity": "identity"},
                ExpressionAttributeValues={":identity": identity},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise


def event_pending_attribute() -> str:
    return _EVENT_PENDING


def awaiting(status: ReviewStatus | str) -> bool:
    return str(status) in (ReviewStatus.PENDING, ReviewStatus.IN_REVIEW)


def _encode_cursor(starts: Mapping[str, Any]) -> str:
    raw = json.dumps(plain(dict(starts)), separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class InvalidCursor(ValueError):
    pass


def _decode_cursor(cursor: str | None) -> dict[str, Any]:
    if not cursor:
        return {}
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        starts = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidCursor("cursor is not one this API gave") from None
    if not isinstance(starts, dict) or not all(
        k in QueueKind.__members__ and isinstance(v, dict) and set(v) == set(_INDEX_KEYS)
        for k, v in starts.items()
    ):
        raise InvalidCursor("cursor is not one this API gave")
    return starts
