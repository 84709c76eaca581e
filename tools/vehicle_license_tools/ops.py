"""Operating a deployed stack: its resources found by stack name from its CloudFormation outputs,
and what an operator asks of them (the `vehicle-license-intake` commands status, upload, stats,
reprocess, vehicle; redrive is in `redrive.py`).

Nothing here prints: each operation returns plain data, and `cli.py` shows it (text or JSON).
Personal data (owner, address) is masked unless the caller asks for it.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
)

from vehicle_license_intake.domain import vehicle as vehicle_rules
from vehicle_license_intake.domain.fields import mask_personal
from vehicle_license_intake.events import REPROCESS_TOKEN_FIELD, Upload, parse_record
from vehicle_license_intake.outcomes import FINAL_STATUSES, Status
from vehicle_license_intake.results import ReprocessRequest, ResultsTable, plain
from vehicle_license_intake.upstream.guard import FleetGuard, GuardSettings
from vehicle_license_records.store import VehicleTable, upload_key

DEFAULT_STACK = "vehicle-license-intake"
STACK_VARIABLE = "VLI_STACK"
PERSONAL_FIELDS = ("owner", "address")
# The item's attributes that say who holds it now: never shown (they mean nothing to an operator).
_INTERNAL = ("claim_token", "claim_owner", "lease_expires_at", "pending_outcome", "event_pending", "identity")
# How long a peeked message stays hidden before it is handed back (a peek hands it back at once).
PEEK_VISIBILITY_SECONDS = 30
WAITED_STATUSES = frozenset({*FINAL_STATUSES, Status.DEFERRED})


class OperationError(Exception):
    """What an operator did not get, said plainly (the CLI prints it and exits 1)."""


class StackNotFound(OperationError):
    pass


class UploadNotFound(OperationError):
    pass


class AwsUnreachable(OperationError):
    pass


class VehicleNotFound(OperationError):
    pass


@dataclass(frozen=True)
class StackOutputs:
    """The stack's CloudFormation outputs (template.yaml, Outputs)."""

    name: str
    outputs: Mapping[str, str]

    def __getitem__(self, key: str) -> str:
        try:
            return self.outputs[key]
        except KeyError:
            raise OperationError(
                f"stack {self.name} has no output {key}: is it this project's stack?"
            ) from None

    @property
    def bucket(self) -> str:
        return self["UploadBucketName"]

    @property
    def prefix(self) -> str:
        return self.outputs.get("UploadPrefix", "")

    @property
    def intake_queue_url(self) -> str | None:
        """The queue a replay goes to; None on the direct S3 -> Lambda path."""
        if self.outputs.get("IntakePath", "queue") != "queue":
            return None
        return self.outputs.get("IntakeQueueUrl") or None

    def queue_url(self, output: str) -> str | None:
        return self.outputs.get(output) or None


class Aws:
    """The clients of one account and region (an endpoint URL for a local stack)."""

    def __init__(self, *, region: str | None = None, endpoint_url: str | None = None) -> None:
        self.session = boto3.session.Session(region_name=region)
        self.endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}

    @property
    def where(self) -> str:
        region = self.session.region_name or "(no region)"
        return f"{region} at {self.endpoint_url}" if self.endpoint_url else region

    def client(self, service: str) -> Any:
        if service not in self._clients:
            try:
                self._clients[service] = self.session.client(service, endpoint_url=self.endpoint_url)
            except ValueError as error:  # botocore: "Invalid endpoint: ..."
                raise OperationError(f"not an endpoint URL: {self.endpoint_url!r} ({error})") from None
        return self._clients[service]

    def table(self, name: str) -> Any:
        return self.session.resource("dynamodb", endpoint_url=self.endpoint_url).Table(name)


def find_stack(aws: Aws, name: str) -> StackOutputs:
    try:
        stacks = aws.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ValidationError":
            raise StackNotFound(
                f"no stack named {name!r} in {aws.where}: deploy it, or name yours with --stack "
                f"(or {STACK_VARIABLE})"
            ) from None
        raise
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    return StackOutputs(name, outputs)


def friendly_errors(error: Exception, aws: Aws) -> OperationError | None:
    """An SDK error an operator can act on, said plainly; None for anything else."""
    if isinstance(error, NoRegionError):
        return OperationError("no AWS region: pass --region or set AWS_DEFAULT_REGION")
    if isinstance(error, NoCredentialsError):
        return OperationError("no AWS credentials found (environment, profile or role)")
    if isinstance(error, EndpointConnectionError):
        return AwsUnreachable(f"cannot reach AWS in {aws.where}: {error}")
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        operation = getattr(error, "operation_name", "a request")
        return OperationError(f"AWS refused {operation} in {aws.where}: {code}")
    if isinstance(error, BotoCoreError):
        return OperationError(f"AWS SDK error in {aws.where}: {error}")
    return None


def masked(value: Any, show_personal_data: bool) -> Any:
    """The license maps of an item with owner and address masked (unless asked for)."""
    if show_personal_data:
        return value
    if isinstance(value, Mapping):
        return {
            k: (mask_personal(v) if k in PERSONAL_FIELDS and isinstance(v, str) else masked(v, False))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [masked(v, False) for v in value]
    return value


@dataclass
class UploadResult:
    file: str
    image_uri: str
    version_id: str | None
    etag: str
    item: dict[str, Any] | None = None
    waited: bool = False

    @property
    def status(self) -> str:
        if self.item is None:
            return "TIMED_OUT" if self.waited else "UPLOADED"
        return str(self.item.get("status"))


class Operations:
    """One deployed stack, as its operator sees it."""

    def __init__(
        self,
        aws: Aws,
        stack_name: str,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.aws = aws
        self.stack = find_stack(aws, stack_name)
        self.results = ResultsTable(aws.table(self.stack["ResultsTableName"]))
        self._clock = clock
        self._sleep = sleep

    # -- where an upload is -----------------------------------------------------------------
    def image_uri(self, key_or_uri: str) -> str:
        """`s3://bucket/key` as given, or a key of the upload bucket (the upload prefix may be
        left out); the one with an item or an object, else the key as given."""
        if key_or_uri.startswith("s3://"):
            return key_or_uri
        bucket, prefix = self.stack.bucket, self.stack.prefix
        candidates = [key_or_uri]
        if prefix and not key_or_uri.startswith(prefix):
            candidates.append(prefix + key_or_uri)
        for key in candidates:
            if self.results.get(f"s3://{bucket}/{key}") or self._object_versions(bucket, key):
                return f"s3://{bucket}/{key}"
        return f"s3://{bucket}/{candidates[0]}"

    def item(self, image_uri: str) -> dict[str, Any] | None:
        stored = self.results.get(image_uri)
        return plain(stored) if stored else None

    def status(self, key_or_uri: str, *, show_personal_data: bool = False) -> dict[str, Any]:
        """The item, its review state, and where the upload is: queues and S3 versions."""
        image_uri = self.image_uri(key_or_uri)
        bucket, key = split_uri(image_uri)
        item = self.item(image_uri)
        versions = self._object_versions(bucket, key)
        if item is None and not versions:
            raise UploadNotFound(f"no item and no object for {image_uri}: not uploaded, or another key?")
        shown = {k: v for k, v in (item or {}).items() if k not in _INTERNAL} if item else None
        queues = {
            label: [m for m in self.peek(url) if image_uri in message_uris(m, kind)]
            for label, output, kind in (
                ("dead-letter queue", "DeadLetterQueueUrl", "dead-letters"),
                ("failure queue", "FailureQueueUrl", "failures"),
                ("parking queue", "ParkingQueueUrl", "parking"),
            )
            if (url := self.stack.queue_url(output))
        }
        return {
            "image_uri": image_uri,
            "item": masked(shown, show_personal_data),
            "queues": {label: [_queue_summary(m) for m in found] for label, found in queues.items()},
            "versions": versions,
            "item_version_is_latest": bool(
                item and versions and versions[0].get("version_id") == item.get("version_id")
            ),
        }

    def _object_versions(self, bucket: str, key: str) -> list[dict[str, Any]]:
        s3 = self.aws.client("s3")
        found: list[dict[str, Any]] = []
        try:
            pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key)
            for page in pages:
                for version in page.get("Versions", []):
                    if version["Key"] == key:
                        found.append(
                            {
                                "version_id": version.get("VersionId"),
                                "size": version.get("Size"),
                                "etag": str(version.get("ETag", "")).strip('"'),
                                "last_modified": version["LastModified"].isoformat(),
                                "latest": bool(version.get("IsLatest")),
                            }
                        )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NoSuchBucket":
                raise
        found.sort(key=lambda v: (not v["latest"], v["last_modified"]), reverse=False)
        return found

    def peek(self, queue_url: str) -> list[dict[str, Any]]:
        """Every message of the queue, left in it (hidden briefly, then handed back at once)."""
        sqs = self.aws.client("sqs")
        messages: list[dict[str, Any]] = []
        try:
            while True:
                batch = sqs.receive_message(
                    QueueUrl=queue_url,
                    MaxNumberOfMessages=10,
                    MessageAttributeNames=["All"],
                    AttributeNames=["All"],
                    VisibilityTimeout=PEEK_VISIBILITY_SECONDS,
                ).get("Messages", [])
                if not batch:
                    return messages
                messages.extend(batch)
        finally:
            hand_back(sqs, queue_url, messages)

    # -- counts -------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counts by status, needing review, deferred (a full table scan: fine for now, slow on a
        large table), and the upstream guard's state (breaker, quota used today)."""
        table = self.aws.table(self.stack["ResultsTableName"])
        statuses: Counter[str] = Counter()
        reviews: Counter[str] = Counter()
        needs_review = items = 0
        scan: dict[str, Any] = {
            "ProjectionExpression": "#s, needs_review, #r",
            "ExpressionAttributeNames": {"#s": "status", "#r": "review"},
        }
        while True:
            page = table.scan(**scan)
            for item in page.get("Items", []):
                items += 1
                statuses[str(item.get("status"))] += 1
                needs_review += bool(item.get("needs_review"))
                review = item.get("review")
                if isinstance(review, Mapping) and review.get("status"):
                    reviews[str(review["status"])] += 1
            if "LastEvaluatedKey" not in page:
                break
            scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return {
            "items": items,
            "by_status": dict(sorted(statuses.items())),
            "needs_review": needs_review,
            "deferred": statuses.get(Status.DEFERRED, 0),
            "review": dict(sorted(reviews.items())),
            "counted_by": "table scan",
            "guard": self.guard_state(),
        }

    def guard_state(self) -> dict[str, Any] | None:
        control = self.stack.outputs.get("ControlTableName")
        if not control:
            return None
        environment = self._function_environment()
        settings = GuardSettings(
            max_rps=float(environment.get("UPSTREAM_MAX_RPS") or 2),
            daily_quota=int(environment.get("UPSTREAM_DAILY_QUOTA") or 0),
        )
        return FleetGuard(self.aws.table(control), settings).state()

    def _function_environment(self) -> dict[str, str]:
        function = self.stack.outputs.get("FunctionName")
        if not function:
            return {}
        try:
            configuration = self.aws.client("lambda").get_function_configuration(FunctionName=function)
        except ClientError:  # not allowed to read it: the quota shows as unknown (0)
            return {}
        return {k: str(v) for k, v in configuration.get("Environment", {}).get("Variables", {}).items()}

    # -- vehicle records (SPEC §12) -----------------------------------------------------------------
    def vehicles(self) -> VehicleTable:
        return VehicleTable(self.aws.table(self.stack["VehicleTableName"]))

    def vehicle(self, plate_vin_or_uri: str, *, show_personal_data: bool = False) -> list[dict[str, Any]]:
        """The vehicle records of a plate (the record's key), of a VIN (index ByVin) or of an
        upload (`s3://…`, or a key: the record its values are in); never a scan."""
        table = self.vehicles()
        records: list[dict[str, Any]] = []
        if _names_an_upload(plate_vin_or_uri):
            pointer = table.get(upload_key(self.image_uri(plate_vin_or_uri)))
            found = table.get(str(pointer["record"])) if pointer and pointer.get("record") else None
            records = [found] if found else []
        else:
            records = table.find(plate_vin_or_uri)
        if not records:
            raise VehicleNotFound(
                f"no vehicle record for {plate_vin_or_uri}: no page with that plate or VIN yet"
            )
        return [shown_vehicle(r, show_personal_data) for r in records]

    def vehicles_waiting(self, *, limit: int = 100) -> dict[str, list[dict[str, Any]]]:
        """The records that wait (index Waiting): for their secondary page, their main page, or
        (a page whose plate could not be read) for a plate."""
        table = self.vehicles()
        return {
            waiting_for: [_waiting_entry(r) for r in table.waiting(waiting_for, limit=limit)]
            for waiting_for in (vehicle_rules.SECONDARY, vehicle_rules.MAIN, vehicle_rules.WAITING_FOR_PLATE)
        }

    # -- uploads ------------------------------------------------------------------------------
    def upload(
        self,
        files: Sequence[Path],
        *,
        wait: bool,
        timeout: float = 300.0,
        poll_seconds: float = 1.0,
        on_result: Callable[[UploadResult], None] | None = None,
    ) -> list[UploadResult]:
        """Put each file under the upload prefix; with `wait`, poll each item until its outcome
        (a final status, or DEFERRED) or the timeout."""
        missing = [str(p) for p in files if not p.is_file()]
        if missing:
            raise OperationError(f"not a file: {', '.join(missing)}")
        s3, bucket = self.aws.client("s3"), self.stack.bucket
        results: list[UploadResult] = []
        for path in files:
            key = f"{self.stack.prefix}{path.name}"
            response = s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
            result = UploadResult(
                path.name, f"s3://{bucket}/{key}", response.get("VersionId"), str(response["ETag"]).strip('"')
            )
            results.append(result)
            if not wait and on_result:
                on_result(result)
        if not wait:
            return results
        deadline = self._clock() + timeout
        waiting = list(results)
        while waiting:
            for result in list(waiting):
                item = self.item(result.image_uri)
                if item and _is_this_version(item, result) and item.get("status") in WAITED_STATUSES:
                    result.item, result.waited = item, True
                    waiting.remove(result)
                    if on_result:
                        on_result(result)
            if not waiting:
                break
            if self._clock() >= deadline:
                for result in waiting:
                    result.waited = True
                    if on_result:
                        on_result(result)
                break
            self._sleep(poll_seconds)
        return results

    # -- a new attempt on purpose -------------------------------------------------------------
    def reprocess(self, key_or_uri: str) -> dict[str, Any]:
        """One new attempt of the stored version, with a token of its own (random)."""
        image_uri = self.image_uri(key_or_uri)
        item = self.item(image_uri)
        if item is None:
            raise UploadNotFound(f"no item for {image_uri}: nothing to reprocess (upload it instead)")
        record = record_from_item(item)
        upload = parse_record(record)
        if not isinstance(upload, Upload):  # an item always describes an upload
            raise OperationError(f"the item for {image_uri} does not describe an upload ({upload.reason})")
        token = f"reprocess-{uuid.uuid4().hex}"
        written = self.results.request_reprocess(image_uri, upload.identity, token)
        if written is ReprocessRequest.BUSY:
            raise OperationError(f"{image_uri} is being processed right now: try again when it is done")
        if written is not ReprocessRequest.WRITTEN:
            raise OperationError(f"{image_uri} changed meanwhile ({written.value}): look at its status again")
        target = self.replay(record, token)
        return {
            "image_uri": image_uri,
            "previous_status": item.get("status"),
            "token": token,
            "sent_to": target,
        }

    def replay(self, record: Mapping[str, Any], token: str) -> str:
        """Send the record again, carrying the token: to the intake queue, or (direct path) an
        asynchronous invocation of the function. Where it went."""
        event = {"Records": [{**record, REPROCESS_TOKEN_FIELD: token}]}
        body = json.dumps(event, ensure_ascii=False)
        queue = self.stack.intake_queue_url
        if queue:
            self.aws.client("sqs").send_message(QueueUrl=queue, MessageBody=body)
            return "intake queue"
        self.aws.client("lambda").invoke(
            FunctionName=self.stack["FunctionName"], InvocationType="Event", Payload=body.encode()
        )
        return "function (asynchronous invocation)"


def shown_vehicle(record: Mapping[str, Any], show_personal_data: bool) -> dict[str, Any]:
    """A vehicle record as the CLI shows it: each value once, with its upload and page; owner
    and address masked unless asked for."""
    view = vehicle_rules.record_view(record)
    if not show_personal_data:
        for name in PERSONAL_FIELDS:
            if name in view["fields"]:
                view["fields"][name]["value"] = mask_personal(str(view["fields"][name]["value"]))
    return view


def _names_an_upload(text: str) -> bool:
    return text.startswith("s3://") or "/" in text or text.lower().endswith((".jpg", ".jpeg", ".png", ".bmp"))


def _waiting_entry(record: Mapping[str, Any]) -> dict[str, Any]:
    key = str(record["plate"])
    return {
        "plate": None if key.startswith(vehicle_rules.UNMATCHED_PREFIX) else key,
        "pages": {page: slot["image_uri"] for page, slot in (record.get("pages") or {}).items()},
        "review_reasons": list(record.get("review_reasons") or []),
        "since": record.get("updated_at"),
    }


def record_from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """The S3 record of the item's object version (the same identity: sequencer, or version
    and eTag), as S3 would write it."""
    from vehicle_license_tools.delivery import s3_record

    record = s3_record(
        str(item["bucket"]),
        str(item["object_key"]),
        size=int(item.get("size") or 0),
        etag=str(item.get("etag") or ""),
        version_id=item.get("version_id"),
        sequencer=item.get("sequencer") or "0",
    )
    if not item.get("sequencer"):
        del record["s3"]["object"]["sequencer"]
    if item.get("event_time"):
        record["eventTime"] = item["event_time"]
    return record


def split_uri(image_uri: str) -> tuple[str, str]:
    bucket, _, key = image_uri.removeprefix("s3://").partition("/")
    return bucket, key


def records_of(body: Any, kind: str) -> list[Any]:
    """The S3 records a message holds: a dead letter's `s3_record`, an on-failure record's
    `requestPayload` (the original event), a parked intake message's S3 event."""
    if not isinstance(body, Mapping):
        return []
    if kind == "dead-letters":
        return [body["s3_record"]] if "s3_record" in body else []
    event = body.get("requestPayload", body) if kind == "failures" else body
    records = event.get("Records") if isinstance(event, Mapping) else None
    return list(records) if isinstance(records, list) else []


def message_uris(message: Mapping[str, Any], kind: str) -> set[str]:
    try:
        body = json.loads(message.get("Body") or "")
    except ValueError:
        return set()
    if kind == "dead-letters" and isinstance(body, Mapping) and body.get("image_uri"):
        return {str(body["image_uri"])}
    return {u.image_uri for u in map(parse_record, records_of(body, kind)) if isinstance(u, Upload)}


def hand_back(sqs: Any, queue_url: str, messages: Iterable[Mapping[str, Any]]) -> None:
    """Make received messages visible again at once."""
    handles = [m["ReceiptHandle"] for m in messages]
    for start in range(0, len(handles), 10):
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                for i, h in enumerate(handles[start : start + 10])
            ],
        )


def _queue_summary(message: Mapping[str, Any]) -> dict[str, Any]:
    try:
        body = json.loads(message.get("Body") or "")
    except ValueError:
        body = {}
    summary: dict[str, Any] = {"message_id": message.get("MessageId")}
    if isinstance(body, Mapping):
        for name in ("status", "failed_at"):
            if body.get(name):
                summary[name] = body[name]
        if isinstance(body.get("error"), Mapping):
            summary["error"] = {k: body["error"].get(k) for k in ("code", "status")}
        context = body.get("requestContext")
        if isinstance(context, Mapping):
            summary["condition"] = context.get("condition")
    return summary


def _is_this_version(item: Mapping[str, Any], upload: UploadResult) -> bool:
    if upload.version_id:
        return item.get("version_id") == upload.version_id
    return str(item.get("etag", "")).strip('"') == upload.etag


def default_stack_name() -> str:
    return os.environ.get(STACK_VARIABLE) or DEFAULT_STACK
