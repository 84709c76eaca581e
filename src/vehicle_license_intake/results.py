"""The results table (SPEC §4) and the conditional writes that make SPEC §6 hold.

One item per object key. An upload is *claimed* before the upstream is called and *finished*
only while the claim is still ours, so that duplicates cost nothing, two concurrent deliveries
make one call, an older event never overwrites a newer one, and a crashed claim expires.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError, ParamValidationError

from vehicle_license_intake.domain.review import ReviewStatus, queue_kind
from vehicle_license_intake.events import Upload
from vehicle_license_intake.outcomes import (
    FINAL_STATUSES,
    ErrorInfo,
    OutcomeNotStorable,
    PendingOutcome,
    Status,
)
from vehicle_license_intake.ports import Claim, ClaimState

# The item's attributes that belong to the claim, not to the outcome (never read outside here).
_TOKEN, _OWNER, _LEASE, _PENDING = "claim_token", "claim_owner", "lease_expires_at", "pending_outcome"
# Set with a final outcome whose event is still to be published (SPEC §10 outbox).
_EVENT_PENDING = "event_pending"
# A new attempt of a final version asked for on purpose (operations CLI: redrive, reprocess):
# the token written onto the item, and the tokens already spent (a replay pays once).
_REPROCESS, _REPROCESS_USED = "reprocess_token", "reprocess_tokens_used"

# Raised by boto3 before a request is sent, for values DynamoDB cannot hold: an unsupported type
# (TypeError), a number beyond 38 digits (decimal's ArithmeticError), a lone surrogate
# (UnicodeError), a parameter outside the API's bounds (ParamValidationError).
_UNSERIALISABLE = (TypeError, ArithmeticError, UnicodeError, ParamValidationError)


def utc_now_iso(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ReprocessRequest(StrEnum):
    """What `ResultsTable.request_reprocess` found."""

    WRITTEN = "written"  # the replay carrying the token will be attempted again
    ALREADY_SPENT = "already_spent"  # a replay with this token was attempted already
    BUSY = "busy"  # a live claim holds the item: try again later
    OTHER_VERSION = "other_version"  # the item is about another version of the key now
    NO_ITEM = "no_item"  # nothing stored for the key (expired, or never processed)


class ResultsTable:
    """The DynamoDB adapter of the ResultsRepository port (ports.py)."""

    def __init__(
        self,
        table: Any,
        *,
        retention_days: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table = table
        self._retention_days = retention_days
        self._clock = clock
        # The spent reprocess tokens of the items we hold a claim on, by claim token: an outcome
        # replaces the whole item and must keep them.
        self._spent_tokens: dict[str, list[str]] = {}

    def get(self, image_uri: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"image_uri": image_uri}, ConsistentRead=True).get("Item")
        return dict(item) if item else None

    # -- claim ----------------------------------------------------------------------------
    def claim_upload(self, upload: Upload, owner: str, lease_seconds: float) -> Claim:
        """Take this object version for processing, unless it is done, busy or outdated."""
        now = self._clock()
        token = uuid.uuid4().hex
        try:
            self._claim_new_version(upload, owner, token, now, lease_seconds)
            if upload.reprocess_token:
                self._spent_tokens[token] = [upload.reprocess_token]
            return Claim(ClaimState.CLAIMED, token)
        except ClientError as error:
            stored = _conditional_failure_item(error)
        if stored is None:
            stored = self.get(upload.image_uri) or {}
        if stored.get("identity") != upload.identity:
            return Claim(ClaimState.STALE, stored_status=stored.get("status"))
        try:
            attributes = plain(self._retake_same_version(upload, owner, token, now, lease_seconds))
            if attributes.get(_REPROCESS_USED):
                self._spent_tokens[token] = list(dict.fromkeys(attributes[_REPROCESS_USED]))
            pending = attributes.get(_PENDING)
            return Claim(
                ClaimState.CLAIMED,
                token,
                PendingOutcome.from_item(pending) if pending else None,
                prior_attempts=int(attributes.get("attempts") or 0),
            )
        except ClientError as error:
            stored = _conditional_failure_item(error) or self.get(upload.image_uri) or {}
        status = stored.get("status")
        if stored.get("identity") != upload.identity:
            return Claim(ClaimState.STALE, stored_status=status)
        if status in FINAL_STATUSES:
            unpublished = plain(stored) if stored.get(_EVENT_PENDING) else None
            return Claim(ClaimState.DUPLICATE, stored_status=status, unpublished=unpublished)
        return Claim(ClaimState.IN_PROGRESS, stored_status=status)

    def _claim_new_version(
        self, upload: Upload, owner: str, token: str, now: float, lease_seconds: float
    ) -> None:
        item = {
            **self._object_attributes(upload, now),
            "status": Status.PROCESSING,
            _TOKEN: token,
            _OWNER: owner,
            _LEASE: int(now + lease_seconds),
        }
        if upload.reprocess_token:
            item[_REPROCESS_USED] = [upload.reprocess_token]
        values: dict[str, Any] = {":identity": upload.identity}
        names = {"#uri": "image_uri", "#identity": "identity"}
        if upload.sequencer_order:
            newer = "attribute_not_exists(#order) OR #order < :order"
            values[":order"] = upload.sequencer_order
            names["#order"] = "sequencer_order"
        else:
            newer = "#identity <> :identity"
        self._table.put_item(
            Item=item,
            ConditionExpression=f"attribute_not_exists(#uri) OR (#identity <> :identity AND ({newer}))",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    def _object_attributes(self, upload: Upload, now: float) -> dict[str, Any]:
        """What every item holds about its object version, whatever its status."""
        item: dict[str, Any] = {
            "image_uri": upload.image_uri,
            "bucket": upload.bucket,
            "object_key": upload.key,
            "etag": upload.etag,
            "size": upload.size,
            "identity": upload.identity,
            "event_time": upload.event_time,
            "processed_at": utc_now_iso(now),
        }
        if upload.version_id:
            item["version_id"] = upload.version_id
        if upload.sequencer:
            item["sequencer"] = upload.sequencer
            item["sequencer_order"] = upload.sequencer_order
        if self._retention_days:
            item["expires_at"] = int(now + self._retention_days * 86400)
        return item

    def _retake_same_version(
        self, upload: Upload, owner: str, token: str, now: float, lease_seconds: float
    ) -> dict[str, Any]:
        """Same version again: allowed after FAILED or DEFERRED, an expired lease, or our own
        earlier try; and, whatever the status but a live claim, to a replay holding the reprocess
        token written onto the item, which it spends."""
        update = (
            "SET #status = :processing, #token = :token, #owner = :owner, #lease = :lease, #processed = :now"
        )
        retake = "#status IN (:failed, :deferred) OR (#status = :processing AND (#lease < :epoch OR #owner = :owner))"
        names = {
            "#status": "status",
            "#token": _TOKEN,
            "#owner": _OWNER,
            "#lease": _LEASE,
            "#processed": "processed_at",
            "#identity": "identity",
        }
        values: dict[str, Any] = {
            ":processing": Status.PROCESSING,
            ":failed": Status.FAILED,
            ":deferred": Status.DEFERRED,
            ":token": token,
            ":owner": owner,
            ":lease": int(now + lease_seconds),
            ":now": utc_now_iso(now),
            ":epoch": int(now),
            ":identity": upload.identity,
        }
        if upload.reprocess_token:
            update += ", #spent = list_append(if_not_exists(#spent, :none), :spending) REMOVE #reprocess"
            retake += " OR (#status <> :processing AND #reprocess = :reprocess)"
            names.update({"#spent": _REPROCESS_USED, "#reprocess": _REPROCESS})
            values.update(
                {":none": [], ":spending": [upload.reprocess_token], ":reprocess": upload.reprocess_token}
            )
        response = self._table.update_item(
            Key={"image_uri": upload.image_uri},
            UpdateExpression=update,
            ConditionExpression=f"#identity = :identity AND ({retake})",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        return dict(response.get("Attributes") or {})

    def request_reprocess(self, image_uri: str, identity: str, token: str) -> ReprocessRequest:
        """Allow one more attempt of this object version, final or not, to the replay that
        carries `token` (SPEC §6 keeps a final version from being worked on again otherwise).
        Written only when the stored version is this one, the token was never spent and no live
        claim holds the item; writing the same token again is harmless."""
        try:
            self._table.update_item(
                Key={"image_uri": image_uri},
                UpdateExpression="SET #reprocess = :reprocess",
                ConditionExpression=(
                    "#identity = :identity AND NOT contains(#spent, :reprocess) AND "
                    "(#status <> :processing OR #lease < :epoch)"
                ),
                ExpressionAttributeNames={
                    "#reprocess": _REPROCESS,
                    "#spent": _REPROCESS_USED,
                    "#identity": "identity",
                    "#status": "status",
                    "#lease": _LEASE,
                },
                ExpressionAttributeValues={
                    ":reprocess": token,
                    ":identity": identity,
                    ":processing": Status.PROCESSING,
                    ":epoch": int(self._clock()),
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return ReprocessRequest.WRITTEN
        except ClientError as error:
            stored = _conditional_failure_item(error)
        if stored is None:
            stored = self.get(image_uri)
        if not stored:
            return ReprocessRequest.NO_ITEM
        if stored.get("identity") != identity:
            return ReprocessRequest.OTHER_VERSION
        if token in (stored.get(_REPROCESS_USED) or []):
            return ReprocessRequest.ALREADY_SPENT
        return ReprocessRequest.BUSY

    # -- progress and outcome -------------------------------------------------------------
    def record_pending_outcome(self, upload: Upload, claim: Claim, outcome: PendingOutcome) -> bool:
        """Remember a decided outcome before its side effect (the dead letter) is sent."""
        return self._update_if_ours(
            upload, claim, "SET #pending = :pending", {":pending": outcome.as_item()}, {"#pending": _PENDING}
        )

    def finish_upload(
        self,
        upload: Upload,
        claim: Claim,
        status: Status,
        attributes: Mapping[str, Any],
        *,
        attempts: int = 0,
        event_pending: bool = False,
    ) -> bool:
        """Replace the item with its outcome, if the claim is still ours. False: a newer event
        (or another invocation after our lease expired) took the item. `event_pending`: the
        outcome's event is published next; until `mark_event_published`, a duplicate delivery
        publishes it again (at least once, SPEC §10)."""
        item = {**self._object_attributes(upload, self._clock()), **attributes, "status": status}
        kind = queue_kind(status, bool(attributes.get("needs_review")))
        if kind is not None:
            # It waits for a human (SPEC §11): a fresh review, found through the ReviewQueue index.
            item["review"] = {"status": ReviewStatus.PENDING.value}
            item["review_queue"] = kind.value
            item["review_since"] = item["processed_at"]
        if event_pending:
            item[_EVENT_PENDING] = True
        if attempts or claim.prior_attempts:
            item["attempts"] = claim.prior_attempts + attempts
        return self._replace_if_ours(claim, item)

    def record_failure(self, upload: Upload, claim: Claim, error: ErrorInfo) -> bool:
        """After an AWS error: the item says FAILED, keeping an outcome already decided (a 5021
        whose dead letter could not be sent), so the retry of the event finishes it without a
        second upstream call. False: the claim is no longer ours."""
        return self._update_if_ours(
            upload,
            claim,
            "SET #status = :failed, #error = :error, #processed = :now",
            {":failed": Status.FAILED, ":error": error.as_item(), ":now": utc_now_iso(self._clock())},
            {"#status": "status", "#error": "error", "#processed": "processed_at"},
        )

    def defer_upload(self, upload: Upload, claim: Claim, *, retry_after: float, reason: str) -> bool:
        """DEFERRED until `retry_after` (SPEC §9): the upstream's quota is spent or its breaker
        open. No attempt is counted; the same version is taken again when its message is back."""
        item = {
            **self._object_attributes(upload, self._clock()),
            "status": Status.DEFERRED,
            "retry_after": utc_now_iso(retry_after),
            "deferred_reason": reason,
        }
        if claim.prior_attempts:
            item["attempts"] = claim.prior_attempts
        return self._replace_if_ours(claim, item)

    def _replace_if_ours(self, claim: Claim, item: dict[str, Any]) -> bool:
        """Put the whole item (an outcome, or DEFERRED) while the claim is ours, carrying the
        reprocess tokens already spent on this version. False: the claim is no longer ours."""
        spent = self._spent_tokens.get(claim.token or "")
        if spent:
            item[_REPROCESS_USED] = spent
        try:
            with _refusals_as_not_storable("PutItem"):
                self._table.put_item(
                    Item=item,
                    ConditionExpression="#claim_token = :claim_token",
                    ExpressionAttributeNames={"#claim_token": _TOKEN},
                    ExpressionAttributeValues={":claim_token": claim.token},
                )
        except ClientError as error:
            if _is_conditional_failure(error):
                return False
            raise
        self._spent_tokens.pop(claim.token or "", None)
        return True

    def mark_event_published(self, upload: Upload) -> None:
        try:
            self._table.update_item(
                Key={"image_uri": upload.image_uri},
                UpdateExpression="REMOVE #pending",
                ConditionExpression="#identity = :identity AND attribute_exists(#pending)",
                ExpressionAttributeNames={"#pending": _EVENT_PENDING, "#identity": "identity"},
                ExpressionAttributeValues={":identity": upload.identity},
            )
        except ClientError as error:
            if not _is_conditional_failure(error):
                raise  # a newer event replaced the item, or another delivery marked it: fine

    def release_claim(self, upload: Upload, claim: Claim) -> bool:
        """Give the claim up early (the invocation is about to raise), so a retry may take it."""
        self._spent_tokens.pop(claim.token or "", None)
        return self._update_if_ours(upload, claim, "SET #lease = :zero", {":zero": 0}, {"#lease": _LEASE})

    def _update_if_ours(
        self,
        upload: Upload,
        claim: Claim,
        expression: str,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
    ) -> bool:
        try:
            with _refusals_as_not_storable("UpdateItem"):
                self._table.update_item(
                    Key={"image_uri": upload.image_uri},
                    UpdateExpression=expression,
                    ConditionExpression="#claim_token = :claim_token",
                    ExpressionAttributeNames={**(names or {}), "#claim_token": _TOKEN},
                    ExpressionAttributeValues={**values, ":claim_token": claim.token},
                )
        except ClientError as error:
            if _is_conditional_failure(error):
                return False
            raise
        return True


def plain(value: Any) -> Any:
    """DynamoDB's Decimals back to int (or float), recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [plain(v) for v in value]
    return value


@contextmanager
def _refusals_as_not_storable(operation: str) -> Iterator[None]:
    """An outcome write the table refuses for its values is OutcomeNotStorable (never retried as
    it is); a conditional failure or any other AWS error passes through."""
    try:
        yield
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ValidationException":
            raise OutcomeNotStorable(f"{operation} refused: ValidationException") from None
        raise
    except _UNSERIALISABLE as error:
        # Not chained: boto3's message quotes the value, which may be personal data.
        raise OutcomeNotStorable(f"{operation} refused: {type(error).__name__}") from None


def _is_conditional_failure(error: ClientError) -> bool:
    return bool(error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


def _conditional_failure_item(error: ClientError) -> dict[str, Any] | None:
    """The item as it was when our condition failed; re-raise anything that is not that."""
    if not _is_conditional_failure(error):
        raise error
    raw = error.response.get("Item")
    if not raw:
        return None
    deserializer = TypeDeserializer()
    return {name: deserializer.deserialize(value) for name, value in raw.items()}
