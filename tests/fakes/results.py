"""An in-memory ResultsRepository with the claim semantics of the DynamoDB adapter
(vehicle_license_intake.results.ResultsTable): one item per object key; a new object version
claims unless the stored event is newer; the same version is taken again only after FAILED or
DEFERRED, an expired lease or by its own owner, or by a replay holding the reprocess token written
onto the item (which it spends); every later write only while the claim token is ours."""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from fakes.journal import Faults, Journal
from vehicle_license_intake.events import Upload
from vehicle_license_intake.outcomes import FINAL_STATUSES, ErrorInfo, PendingOutcome, Status
from vehicle_license_intake.ports import Claim, ClaimState


class InMemoryResults:
    def __init__(self, journal: Journal | None = None, clock: Callable[[], float] = time.time) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.journal = journal or Journal()
        self.faults = Faults()
        self._clock = clock

    def item(self, upload: Upload) -> dict[str, Any] | None:
        """The stored item, as a copy."""
        stored = self.items.get(upload.image_uri)
        return copy.deepcopy(stored) if stored is not None else None

    # -- the port ---------------------------------------------------------------------------
    def claim_upload(self, upload: Upload, owner: str, lease_seconds: float) -> Claim:
        self._called("claim_upload")
        now, token = self._clock(), uuid.uuid4().hex
        stored = self.items.get(upload.image_uri)
        if stored is None or (stored["identity"] != upload.identity and _is_newer(upload, stored)):
            self.items[upload.image_uri] = {
                **_object_attributes(upload),
                "status": Status.PROCESSING,
                "claim_token": token,
                "claim_owner": owner,
                "lease_expires_at": int(now + lease_seconds),
            }
            if upload.reprocess_token:
                self.items[upload.image_uri]["reprocess_tokens_used"] = [upload.reprocess_token]
            return Claim(ClaimState.CLAIMED, token)
        status = stored["status"]
        if stored["identity"] != upload.identity:
            return Claim(ClaimState.STALE, stored_status=status)
        lease_over = stored.get("lease_expires_at", 0) < int(now)
        reprocess = upload.reprocess_token is not None and (
            status != Status.PROCESSING and stored.get("reprocess_token") == upload.reprocess_token
        )
        if (
            reprocess
            or status in (Status.FAILED, Status.DEFERRED)
            or (status == Status.PROCESSING and (lease_over or stored.get("claim_owner") == owner))
        ):
            if upload.reprocess_token:
                spent = stored.setdefault("reprocess_tokens_used", [])
                spent.append(upload.reprocess_token)
                stored.pop("reprocess_token", None)
            stored.update(
                status=Status.PROCESSING,
                claim_token=token,
                claim_owner=owner,
                lease_expires_at=int(now + lease_seconds),
            )
            pending = stored.get("pending_outcome")
            return Claim(
                ClaimState.CLAIMED,
                token,
                PendingOutcome.from_item(pending) if pending else None,
                prior_attempts=int(stored.get("attempts") or 0),
            )
        if status in FINAL_STATUSES:
            unpublished = copy.deepcopy(stored) if stored.get("event_pending") else None
            return Claim(ClaimState.DUPLICATE, stored_status=status, unpublished=unpublished)
        return Claim(ClaimState.IN_PROGRESS, stored_status=status)

    def record_pending_outcome(self, upload: Upload, claim: Claim, outcome: PendingOutcome) -> bool:
        self._called("record_pending_outcome")
        return self._update_if_ours(upload, claim, pending_outcome=outcome.as_item())

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
        self._called("finish_upload")
        if not self._is_ours(upload, claim):
            return False
        item = {**_object_attributes(upload), **copy.deepcopy(dict(attributes)), "status": status}
        _keep_spent_tokens(self.items[upload.image_uri], item)
        if event_pending:
            item["event_pending"] = True
        if attempts or claim.prior_attempts:
            item["attempts"] = claim.prior_attempts + attempts
        self.items[upload.image_uri] = item
        return True

    def record_failure(self, upload: Upload, claim: Claim, error: ErrorInfo) -> bool:
        self._called("record_failure")
        return self._update_if_ours(upload, claim, status=Status.FAILED, error=error.as_item())

    def release_claim(self, upload: Upload, claim: Claim) -> bool:
        self._called("release_claim")
        return self._update_if_ours(upload, claim, lease_expires_at=0)

    def defer_upload(self, upload: Upload, claim: Claim, *, retry_after: float, reason: str) -> bool:
        self._called("defer_upload")
        if not self._is_ours(upload, claim):
            return False
        item = {**_object_attributes(upload), "status": Status.DEFERRED, "retry_after": retry_after}
        item["deferred_reason"] = reason
        _keep_spent_tokens(self.items[upload.image_uri], item)
        if claim.prior_attempts:
            item["attempts"] = claim.prior_attempts
        self.items[upload.image_uri] = item
        return True

    def mark_event_published(self, upload: Upload) -> None:
        self._called("mark_event_published")
        stored = self.items.get(upload.image_uri)
        if stored is not None and stored["identity"] == upload.identity:
            stored.pop("event_pending", None)

    def request_reprocess(self, image_uri: str, identity: str, token: str) -> bool:
        """What the operations CLI writes (ResultsTable.request_reprocess): True when written."""
        stored = self.items.get(image_uri)
        if (
            stored is None
            or stored["identity"] != identity
            or token in stored.get("reprocess_tokens_used", [])
        ):
            return False
        if stored["status"] == Status.PROCESSING and stored.get("lease_expires_at", 0) >= int(self._clock()):
            return False
        stored["reprocess_token"] = token
        return True

    # -- the rules --------------------------------------------------------------------------
    def _called(self, method: str) -> None:
        self.journal.note(f"results.{method}")
        self.faults.raise_if_planned(method)

    def _is_ours(self, upload: Upload, claim: Claim) -> bool:
        stored = self.items.get(upload.image_uri)
        return stored is not None and claim.token is not None and stored.get("claim_token") == claim.token

    def _update_if_ours(self, upload: Upload, claim: Claim, **changes: Any) -> bool:
        if not self._is_ours(upload, claim):
            return False
        self.items[upload.image_uri].update(copy.deepcopy(changes))
        return True


def _keep_spent_tokens(stored: Mapping[str, Any], item: dict[str, Any]) -> None:
    """An outcome replaces the item and keeps the reprocess tokens already spent."""
    if stored.get("reprocess_tokens_used"):
        item["reprocess_tokens_used"] = list(dict.fromkeys(stored["reprocess_tokens_used"]))


def _is_newer(upload: Upload, stored: Mapping[str, Any]) -> bool:
    """A different version of the key may replace the stored one unless it is an older event."""
    if upload.sequencer_order is None:
        return True
    stored_order = stored.get("sequencer_order")
    return stored_order is None or stored_order < upload.sequencer_order


def _object_attributes(upload: Upload) -> dict[str, Any]:
    item: dict[str, Any] = {
        "image_uri": upload.image_uri,
        "bucket": upload.bucket,
        "object_key": upload.key,
        "etag": upload.etag,
        "size": upload.size,
        "identity": upload.identity,
        "event_time": upload.event_time,
    }
    if upload.version_id:
        item["version_id"] = upload.version_id
    if upload.sequencer:
        item["sequencer"] = upload.sequencer
        item["sequencer_order"] = upload.sequencer_order
    return item
