"""`vehicle-license-intake demo`: the real pipeline, end to end, on an embedded AWS.

template.yaml is deployed into moto (served on 127.0.0.1), the upstream is a contract emulator on
127.0.0.1, the sample images are uploaded to the stack's bucket and their S3 notifications are
delivered to the real handler, with the function's environment as the template defines it. The
outcome events reach the vehicle records function through the stack's rule and queue, which
joins the two sample pages into one vehicle record (SPEC §12); a consumer's rule on the bus
receives its `Vehicle Record Complete`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import unquote_plus

from vehicle_license_intake.domain.fields import mask_personal
from vehicle_license_intake.results import plain
from vehicle_license_records.store import VehicleTable, upload_key
from vehicle_license_tools import aws, stack
from vehicle_license_tools.delivery import BatchResult, LiveIntake, QueueConsumer
from vehicle_license_tools.emulator import GroundTruthRecognizer, LicenseReader, UpstreamEmulator
from vehicle_license_tools.resources import DEMO_API_KEY
from vehicle_license_tools.resources import SAMPLES as DEFAULT_SAMPLES

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass
class DemoReport:
    uploads: list[dict[str, Any]]
    dead_letters: list[dict[str, Any]]
    upstream_calls: int
    redelivery: dict[str, Any] | None
    answered_by: str
    seconds: float
    # SPEC §12: the vehicle records the uploads made (as the CLI shows them), and the
    # `Vehicle Record Complete` events a consumer of the bus received.
    vehicles: list[dict[str, Any]] = field(default_factory=list)
    complete_events: list[dict[str, Any]] = field(default_factory=list)


def choose_recognizer(samples: Path) -> LicenseReader:
    """The offline recognizer when it is installed (`[recognizer]` extra); otherwise a lookup of
    the samples' ground truth, which says so in every answer."""
    try:
        from vehicle_license_recognizer import LocalRecognizer
    except ImportError:
        return GroundTruthRecognizer.from_directory(samples)
    recognizer: LicenseReader = LocalRecognizer()
    return recognizer


def sample_images(samples: Path) -> list[Path]:
    return sorted(p for p in samples.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


@contextmanager
def restored_environment() -> Iterator[None]:
    """The demo sets the function's environment in this process; leave it as it was found."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def quiet_function(verbose: bool) -> None:
    """Unless `verbose`, the function's JSON logs and EMF metrics stay out of what is printed."""
    if not verbose:
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")  # no X-Ray daemon here


def run_demo(
    images: Sequence[Path],
    *,
    samples: Path = DEFAULT_SAMPLES,
    show_personal_data: bool = False,
    keep: bool = False,
    verbose: bool = False,
    out: TextIO = sys.stdout,
    wait_forever: Callable[[], None] | None = None,
    recognizer: LicenseReader | None = None,
) -> DemoReport:
    """`recognizer` answers behind the emulated upstream (default: `choose_recognizer`)."""
    with restored_environment():
        chosen = recognizer or choose_recognizer(samples)
        return _run(images, chosen, show_personal_data, keep, verbose, out, wait_forever)


def _run(
    images: Sequence[Path],
    recognizer: LicenseReader,
    show_personal_data: bool,
    keep: bool,
    verbose: bool,
    out: TextIO,
    wait_forever: Callable[[], None] | None,
) -> DemoReport:
    started = time.perf_counter()

    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    quiet_function(verbose)

    with aws.emulated_aws() as endpoint, UpstreamEmulator(recognizer, [DEMO_API_KEY]) as upstream:
        session = aws.session()
        say(f"vehicle-license-intake demo: the real pipeline on an embedded AWS (moto at {endpoint})")
        deployed = stack.deploy_with_upstream(
            session, stack_name="vli-demo", upstream_url=upstream.url, api_key=DEMO_API_KEY
        )
        say(
            f"  template.yaml deployed as stack {deployed.name}: bucket {deployed.bucket}, table {deployed.table}"
        )
        say(
            f"  filled in what moto's CloudFormation ignores: {len(deployed.filled)} resources "
            f"({', '.join(sorted({f.split()[0].split('::')[1] for f in deployed.filled}))})"
        )
        say(f"  upstream: contract emulator at {upstream.url}")
        say(f"  answered by: {recognizer.name}")
        if isinstance(recognizer, GroundTruthRecognizer):
            say(
                "    (not OCR: it answers the shipped samples from their ground-truth JSON and 5021 for any other image)"
            )

        from vehicle_license_intake import handler
        from vehicle_license_records import handler as records_handler

        consumer_queue = _vehicle_consumer(session, deployed)

        # The offline recognizer on this machine's CPU answers in seconds, and in many more on a
        # loaded machine: the function waits for it as long as its own timeout allows, not the
        # 15 s meant for the cloud endpoint.
        offline = not isinstance(recognizer, GroundTruthRecognizer)
        stack.use_function_environment(deployed, **({"OCR_TIMEOUT_SECONDS": "60"} if offline else {}))
        s3, sqs = session.client("s3"), session.client("sqs")
        intake = QueueConsumer.for_stack(deployed, sqs, handler.lambda_handler)
        keys = [f"{deployed.upload_prefix}{image.name}" for image in images]
        for image, key in zip(images, keys, strict=True):
            s3.put_object(Bucket=deployed.bucket, Key=key, Body=image.read_bytes())
        # S3 (moto) has put one notification per upload into the intake queue; the function
        # reads them as Lambda's event source mapping would.
        batches = intake.drain()
        bodies = [body for batch in batches for body in batch.bodies if '"Records"' in body]

        redelivery = None
        if bodies:
            calls_before = len(upstream.calls)
            sqs.send_message(QueueUrl=intake.queue_url, MessageBody=bodies[0])  # S3 delivers at least once
            again = intake.drain()
            redelivered_key = json.loads(bodies[0])["Records"][0]["s3"]["object"]["key"]
            redelivery = {
                "key": unquote_plus(redelivered_key),
                "outcomes": {"outcomes": again[0].result["outcomes"]} if again and again[0].result else None,
                "error": again[0].error if again else None,
                "calls_before": calls_before,
                "calls_after": len(upstream.calls),
            }

        # The outcome events went through the stack's rule into the vehicle events queue; the
        # records function reads it as its event source mapping would.
        use_records_environment(deployed)
        records = QueueConsumer.for_vehicle_events(deployed, sqs, records_handler.lambda_handler)
        records.drain()

        table = session.resource("dynamodb").Table(deployed.table)
        uploads = []
        for image, key in zip(images, keys, strict=True):
            item = table.get_item(Key={"image_uri": f"s3://{deployed.bucket}/{key}"}).get("Item")
            uploads.append(
                {
                    "file": image.name,
                    "delivered": True,
                    "error": next((repr(b.error) for b in batches if b.error), None),
                    "item": plain(item) if item else None,
                }
            )
        dead_letters = aws.read_queue(session.client("sqs"), deployed.dead_letter_queue_url)
        vehicles = vehicle_records(session, deployed, keys, show_personal_data)
        complete = [m["body"] for m in aws.read_queue(sqs, consumer_queue, delete=True)]
        report = DemoReport(
            uploads,
            dead_letters,
            len(upstream.calls),
            redelivery,
            recognizer.name,
            time.perf_counter() - started,
            vehicles,
            complete,
        )
        print_report(report, say, show_personal_data)
        if keep:
            _keep_running(deployed, endpoint, intake, say, wait_forever, records)
    return report


CONSUMER_RULE = "vli-demo-vehicle-record-consumer"


def _vehicle_consumer(session: Any, deployed: stack.LocalStack) -> str:
    """A downstream system's rule on the stack's bus: `Vehicle Record Complete` into its queue."""
    sqs, events = session.client("sqs"), session.client("events")
    url = str(sqs.create_queue(QueueName=CONSUMER_RULE)["QueueUrl"])
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name=CONSUMER_RULE,
        EventBusName=deployed.event_bus,
        EventPattern=json.dumps(
            {"source": ["vehicle-license-intake"], "detail-type": ["Vehicle Record Complete"]}
        ),
    )
    events.put_targets(
        Rule=CONSUMER_RULE, EventBusName=deployed.event_bus, Targets=[{"Id": "consumer", "Arn": arn}]
    )
    return url


def use_records_environment(deployed: stack.LocalStack) -> None:
    """This process becomes the records function too: its tables and bus from the template."""
    from vehicle_license_records import handler as records_handler

    for name, value in deployed.records_function_environment.items():
        if not name.startswith("POWERTOOLS_"):
            os.environ[name] = value
    records_handler.reset()


def vehicle_records(
    session: Any, deployed: stack.LocalStack, keys: Sequence[str], show_personal_data: bool
) -> list[dict[str, Any]]:
    """The records the uploads' values are in, once each, as the operations CLI shows them."""
    from vehicle_license_tools.ops import shown_vehicle

    table = VehicleTable(session.resource("dynamodb").Table(deployed.vehicle_table))
    found: dict[str, dict[str, Any]] = {}
    for key in keys:
        pointer = table.get(upload_key(f"s3://{deployed.bucket}/{key}"))
        record_key = str((pointer or {}).get("record") or "")
        if record_key and record_key not in found and (record := table.get(record_key)):
            found[record_key] = shown_vehicle(record, show_personal_data)
    return list(found.values())


def print_report(report: DemoReport, say: Callable[..., None], show_personal_data: bool) -> None:
    say()
    say("Uploads")
    for upload in report.uploads:
        item = upload["item"] or {}
        status = item.get("status") or (
            "not delivered (outside the notification's prefix)" if not upload["delivered"] else "-"
        )
        say(f"  {upload['file']}")
        normalized = item.get("normalized") or {}
        if status == "SUCCEEDED":
            owner, address = normalized.get("owner") or "", normalized.get("address") or ""
            if not show_personal_data:
                owner, address = mask_personal(owner), mask_personal(address)
            say(
                f"    status {status}   plate {normalized.get('plate_number') or '-'} ({normalized.get('plate_kind') or '-'})"
                f"   VIN {normalized.get('vin') or '-'}   upstream calls {item.get('attempts', 0)}"
            )
            say(f"    owner {owner or '-'}   address {address or '-'}")
            reasons = item.get("review_reasons") or []
            say(f"    review reasons: {', '.join(reasons) if reasons else 'none (clean)'}")
        else:
            error = item.get("error") or {}
            detail = (
                f"{error.get('code')} {error.get('status')}: {error.get('message')}"
                if error
                else upload["error"] or ""
            )
            say(f"    status {status}   {detail}")
    if report.redelivery:
        r = report.redelivery
        extra = " (no second call)" if r["calls_after"] == r["calls_before"] else ""
        say()
        say(
            f"Redelivery of the same S3 event for {r['key']}: {r['outcomes']}; upstream calls "
            f"{r['calls_before']} -> {r['calls_after']}{extra}"
        )
    if report.vehicles:
        print_vehicles(report, say)
    say()
    say(f"Dead-letter queue: {len(report.dead_letters)} message(s)")
    for message in report.dead_letters:
        body = message["body"]
        say(
            f"  {body['object_key']}: {body['status']} {body['error']['code']} ({body['error']['status']}); "
            f"error_code attribute {message['attributes'].get('error_code', {}).get('StringValue')}"
        )
    say()
    say(f"Upstream calls made: {report.upstream_calls}   answered by: {report.answered_by}")
    say(f"Done in {report.seconds:.1f} s.")


def print_vehicles(report: DemoReport, say: Callable[..., None]) -> None:
    """Each vehicle record: in full when its pages came from different uploads (which value from
    which upload), in one line when one photo showed both pages."""
    from vehicle_license_tools.ops_cli import vehicle_lines

    say()
    say("Vehicle records (the pages of a license joined by plate)")
    for record in report.vehicles:
        sources = {slot["image_uri"] for slot in record["pages"].values()}
        if len(sources) > 1 or not record["complete"]:
            for line in vehicle_lines(record, indent="  "):
                say(line)
            continue
        (source,) = sources
        reasons = ", ".join(record["review_reasons"]) or "none"
        say(f"  {record['plate']}  complete: both pages in one photo, {source.rsplit('/', 1)[-1]}")
        say(f"    review reasons  {reasons}")
    for event in report.complete_events:
        detail = event["detail"]
        say(
            f"  Vehicle Record Complete received by a consumer of the bus: vehicle_id {detail['vehicle_id']}, "
            f"main page {detail['main_page']['image_uri'].rsplit('/', 1)[-1]}, "
            f"secondary page {detail['secondary_page']['image_uri'].rsplit('/', 1)[-1]} "
            f"(no plate, VIN or other value in it)"
        )


def _keep_running(
    deployed: stack.LocalStack,
    endpoint: str,
    intake: QueueConsumer,
    say: Callable[..., None],
    wait_forever: Callable[[], None] | None,
    records: QueueConsumer | None = None,
) -> None:
    say()
    say("The emulated AWS keeps running until Ctrl-C, and the function reads its intake queue:")
    say("an upload made now with any S3 client is processed as in AWS. In another shell:")
    say(f"  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION={aws.REGION}")
    for command in local_commands(deployed, endpoint):
        say(f"  {command}")
    say(
        f"  resources: bucket {deployed.bucket}, table {deployed.table}, intake queue {deployed.intake_queue_url},"
        f" dead-letter queue {deployed.dead_letter_queue_url}, parking queue {deployed.parking_queue_url},"
        f" failure queue {deployed.failure_queue_url}, event bus {deployed.event_bus}, secret {deployed.secret_id},"
        f" vehicle table {deployed.vehicle_table}"
    )

    def report(batch: BatchResult) -> None:
        outcomes = (
            (batch.result or {}).get("outcomes", {}) if batch.error is None else {"error": repr(batch.error)}
        )
        say(f"  intake: {batch.messages} message(s) -> {outcomes}")

    with LiveIntake(intake, on_batch=report), LiveIntake(records) if records else contextlib.nullcontext():
        if wait_forever is not None:
            wait_forever()
            return
        try:
            signal.pause()
        except KeyboardInterrupt:
            say("stopped")


def local_commands(deployed: stack.LocalStack, endpoint: str) -> list[str]:
    """Commands that reach the emulated AWS with AWS CLI v1 and v2 alike (--endpoint-url)."""
    at = f"--endpoint-url {endpoint}"
    return [
        f"aws {at} s3 cp my-license.jpg s3://{deployed.bucket}/{deployed.upload_prefix}my-license.jpg",
        f"aws {at} dynamodb scan --table-name {deployed.table}",
        f"aws {at} sqs receive-message --queue-url {deployed.dead_letter_queue_url} --message-attribute-names All --visibility-timeout 0",
        f"vehicle-license-intake --endpoint-url {endpoint} --stack {deployed.name} stats",
        f"vehicle-license-intake --endpoint-url {endpoint} --stack {deployed.name} vehicle --waiting",
    ]
