"""The offline demo (the README's `make demo`) runs the real pipeline and reports it honestly."""

from __future__ import annotations

import io
import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from vehicle_license_tools import aws
from vehicle_license_tools.demo import DemoReport, run_demo, sample_images
from vehicle_license_tools.emulator import GroundTruthRecognizer
from vehicle_license_tools.resources import SAMPLES as DEFAULT_SAMPLES


@pytest.fixture
def demo_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("POWERTOOLS_LOG_LEVEL", "POWERTOOLS_METRICS_DISABLED"):
        monkeypatch.setenv(name, "WARNING" if name.endswith("LEVEL") else "true")


SAMPLE_STATUSES = {
    "main-page.jpg": "SUCCEEDED",
    "secondary-page.jpg": "SUCCEEDED",
    "我的行驶证 新能源 两页.jpg": "SUCCEEDED",
    "street-photo.jpg": "UNRECOGNIZED",
    "not-an-image.jpg": "REJECTED",
}


def statuses(report: DemoReport) -> dict[str, str | None]:
    return {u["file"]: (u["item"] or {}).get("status") for u in report.uploads}


def test_demo_processes_every_sample_end_to_end(demo_env: None) -> None:
    """With the ground-truth lookup behind the emulator, every field is known exactly."""
    out = io.StringIO()
    lookup = GroundTruthRecognizer.from_directory(DEFAULT_SAMPLES)
    report = run_demo(sample_images(DEFAULT_SAMPLES), out=out, recognizer=lookup)

    assert statuses(report) == SAMPLE_STATUSES
    dead = sorted((m["body"]["object_key"], m["body"]["status"]) for m in report.dead_letters)
    assert dead == [("uploads/not-an-image.jpg", "REJECTED"), ("uploads/street-photo.jpg", "UNRECOGNIZED")]
    assert report.upstream_calls == 4, "every image but the non-image was sent once"
    assert (
        report.redelivery is not None
        and report.redelivery["calls_after"] == report.redelivery["calls_before"]
    )
    text = out.getvalue()
    assert "answered by: ground-truth lookup (no OCR)" in text
    assert "(no second call)" in text
    assert "沪B7K29Q" in text and "LSVAU2188N2184637" in text
    assert "李明远" not in text and "李**" in text, "personal data masked by default"
    truth = json.loads((DEFAULT_SAMPLES / "main-page.json").read_text(encoding="utf-8"))["fields"]
    main = next(u for u in report.uploads if u["file"] == "main-page.jpg")["item"]
    assert main["license"] == truth
    assert_the_two_sample_pages_make_one_complete_record(report, text)


def assert_the_two_sample_pages_make_one_complete_record(report: DemoReport, text: str) -> None:
    """SPEC §12: the sample pages share plate 沪B7K29Q; joined, each value says its upload."""
    record = next(r for r in report.vehicles if r["plate"] == "沪B7K29Q")
    assert record["complete"] is True and record["review_reasons"] == []
    pages = {page: slot["image_uri"].rsplit("/", 1)[-1] for page, slot in record["pages"].items()}
    assert pages == {"main": "main-page.jpg", "secondary": "secondary-page.jpg"}
    assert record["fields"]["vin"]["image_uri"].endswith("/main-page.jpg")
    assert record["fields"]["total_mass"]["image_uri"].endswith("/secondary-page.jpg")
    assert record["fields"]["owner"]["value"] == "李**", "personal data masked in the record too"
    complete = [e for e in report.complete_events if e["detail"]["vehicle_id"] == record["vehicle_id"]]
    assert len(complete) == 1 and "沪B7K29Q" not in json.dumps(complete[0], ensure_ascii=False)
    assert "沪B7K29Q  complete" in text and "(secondary page: secondary-page.jpg)" in text
    assert "Vehicle Record Complete received by a consumer of the bus" in text


def test_demo_reads_the_samples_with_the_offline_recognizer_when_installed(demo_env: None) -> None:
    pytest.importorskip("rapidocr")
    out = io.StringIO()
    report = run_demo(sample_images(DEFAULT_SAMPLES), out=out)

    assert "answered by: offline recognizer (RapidOCR, on this machine)" in out.getvalue()
    assert statuses(report) == SAMPLE_STATUSES
    truth = json.loads((DEFAULT_SAMPLES / "main-page.json").read_text(encoding="utf-8"))["fields"]
    main = next(u for u in report.uploads if u["file"] == "main-page.jpg")["item"]
    assert main["license"] == truth and main["recognized_by"] == "upstream"
    assert_the_two_sample_pages_make_one_complete_record(report, out.getvalue())


def test_demo_shows_personal_data_only_when_asked(demo_env: None) -> None:
    out = io.StringIO()
    run_demo([DEFAULT_SAMPLES / "main-page.jpg"], out=out, show_personal_data=True)
    assert "李明远" in out.getvalue()


def test_demo_runs_the_users_own_images(demo_env: None, tmp_path: Path) -> None:
    own = tmp_path / "my photo.png"
    own.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    shutil.copy(DEFAULT_SAMPLES / "main-page.jpg", tmp_path / "copy of main.jpg")

    report = run_demo([own, tmp_path / "copy of main.jpg"], out=io.StringIO())

    assert statuses(report) == {"my photo.png": "UNRECOGNIZED", "copy of main.jpg": "SUCCEEDED"}


def test_demo_keep_prints_how_to_reach_the_emulated_aws(demo_env: None) -> None:
    out = io.StringIO()
    run_demo([DEFAULT_SAMPLES / "not-an-image.jpg"], out=out, keep=True, wait_forever=lambda: None)
    text = out.getvalue()
    # --endpoint-url on every command: AWS CLI v1 ignores AWS_ENDPOINT_URL and would reach AWS
    assert "aws --endpoint-url http://127.0.0.1:" in text and "dynamodb scan --table-name" in text
    assert "AWS_ENDPOINT_URL=" not in text


def test_an_upload_made_while_the_demo_keeps_running_is_processed(demo_env: None) -> None:
    """--keep: the function reads the intake queue continuously, so an upload made with any S3
    client (here boto3, in the same way `aws s3 cp` would) reaches it as in AWS."""
    seen: dict[str, Any] = {}

    def upload_while_running() -> None:
        import boto3

        session = boto3.session.Session(region_name="us-east-1")
        s3 = session.client("s3")
        bucket = next(
            b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("vli-demo-uploads")
        )
        s3.put_object(
            Bucket=bucket, Key="uploads/later.jpg", Body=(DEFAULT_SAMPLES / "main-page.jpg").read_bytes()
        )
        table_name = next(
            t for t in session.client("dynamodb").list_tables()["TableNames"] if "ResultsTable" in t
        )
        table = session.resource("dynamodb").Table(table_name)
        for _ in range(300):  # up to 30 s: the recognizer reads the photo
            item = table.get_item(Key={"image_uri": f"s3://{bucket}/uploads/later.jpg"}).get("Item")
            if item and item["status"] != "PROCESSING":
                seen.update(item)
                return
            time.sleep(0.1)

    run_demo(
        [DEFAULT_SAMPLES / "not-an-image.jpg"],
        out=io.StringIO(),
        keep=True,
        wait_forever=upload_while_running,
    )

    assert seen.get("status") == "SUCCEEDED"
    assert seen["license"]["plate_number"] == "沪B7K29Q"


def test_url_input_type_sends_a_presigned_url_the_upstream_can_fetch(monkeypatch: pytest.MonkeyPatch) -> None:
    """With moto served on 127.0.0.1, the presigned GET URL is fetchable by the emulator."""
    from vehicle_license_intake import handler
    from vehicle_license_tools import stack
    from vehicle_license_tools.delivery import QueueConsumer
    from vehicle_license_tools.emulator import GroundTruthRecognizer, UpstreamEmulator

    image = (DEFAULT_SAMPLES / "main-page.jpg").read_bytes()
    with (
        aws.emulated_aws(),
        UpstreamEmulator(GroundTruthRecognizer.from_directory(DEFAULT_SAMPLES), ["k"]) as upstream,
    ):
        session = aws.session()
        deployed = stack.deploy_with_upstream(
            session,
            stack_name="vli-url",
            upstream_url=upstream.url,
            api_key="k",
            parameters={"OcrInputType": "url"},
        )
        for name, value in deployed.function_environment.items():
            monkeypatch.setenv(name, value)
        handler.reset()
        session.client("s3").put_object(Bucket=deployed.bucket, Key="uploads/u.jpg", Body=image)
        batches = QueueConsumer.for_stack(deployed, session.client("sqs"), handler.lambda_handler).drain()

        assert batches and all(b.error is None for b in batches)
        item = (
            session.resource("dynamodb")
            .Table(deployed.table)
            .get_item(Key={"image_uri": f"s3://{deployed.bucket}/uploads/u.jpg"})["Item"]
        )
        assert item["status"] == "SUCCEEDED" and item["license"]["plate_number"] == "沪B7K29Q"
        assert [c.input_type for c in upstream.calls] == ["url"]
