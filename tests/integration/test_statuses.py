"""SPEC §4: every status, through the real handler, on the deployed template."""

from __future__ import annotations

import json

import pytest

from conftest import API_KEY, LICENSE, Intake, bmp, jpeg, png
from vehicle_license_tools.emulator import Reply

# Every guarantee on both paths (SPEC §9): S3 -> Lambda, and S3 -> intake queue -> Lambda.
pytestmark = pytest.mark.parametrize("intake", ["direct", "queue"], indirect=True)


def test_recognised_upload_is_stored_as_succeeded_with_license_and_normalized_values(intake: Intake) -> None:
    image = intake.recognizable(jpeg("ok"))
    record = intake.upload("uploads/car.jpg", image)

    item = intake.item("uploads/car.jpg")
    assert item is not None
    assert item["status"] == "SUCCEEDED"
    assert item["license"] == LICENSE
    assert item["normalized"]["plate_number"] == "沪A12345"
    assert item["normalized"]["vin_check_digit_valid"] is True
    assert item["normalized"]["total_mass_kg"] == 1945
    assert item["review_reasons"] == [] and item["needs_review"] is False
    assert item["attempts"] == 1
    assert item["request_id"].startswith("req_")
    assert item["version_id"] == record["s3"]["object"]["versionId"]
    assert item["sequencer"] == record["s3"]["object"]["sequencer"]
    assert item["etag"] == record["s3"]["object"]["eTag"] and item["size"] == len(image)
    assert item["bucket"] == intake.stack.bucket and item["object_key"] == "uploads/car.jpg"
    assert item["event_time"].endswith("Z") and item["processed_at"].endswith("Z")
    assert "claim_token" not in item and "pending_outcome" not in item
    assert intake.upstream.calls_for(image) == 1
    assert intake.dead_letters() == []


def test_missing_upstream_keys_are_stored_as_empty_strings(intake: Intake) -> None:
    image = jpeg("partial")
    intake.upstream.script(image, Reply(data={"plate_number": "沪A12345", "extra": "ignored"}))
    intake.upload("uploads/partial.jpg", image)

    item = intake.item("uploads/partial.jpg")
    assert item is not None and item["status"] == "SUCCEEDED"
    assert set(item["license"]) == set(LICENSE) and item["license"]["owner"] == ""
    assert "MISSING:owner" in item["review_reasons"] and item["needs_review"] is True


def test_unrecognisable_image_5021_is_unrecognized_with_one_dead_letter(intake: Intake) -> None:
    image = jpeg("street photo")  # the recognizer knows nothing of it: 5021
    record = intake.upload("uploads/street.jpg", image)

    item = intake.item("uploads/street.jpg")
    assert item is not None and item["status"] == "UNRECOGNIZED"
    assert item["error"]["source"] == "upstream"
    assert item["error"]["code"] == 5021 and item["error"]["status"] == "UPSTREAM_INVALID"
    assert intake.upstream.calls_for(image) == 1, "5021 is never retried"
    (message,) = intake.dead_letters()
    assert message["body"]["status"] == "UNRECOGNIZED"
    assert message["body"]["s3_record"] == record
    assert message["attributes"]["error_code"]["StringValue"] == "5021"


def test_upstream_4000_for_image_data_is_unrecognized_and_not_retried(intake: Intake) -> None:
    image = jpeg("bad data")
    intake.upstream.script(image, Reply.error(4000, http_status=400))
    intake.upload("uploads/bad-data.jpg", image)

    item = intake.item("uploads/bad-data.jpg")
    assert item is not None and item["status"] == "UNRECOGNIZED" and item["error"]["code"] == 4000
    assert intake.upstream.calls_for(image) == 1
    assert [m["body"]["error"]["code"] for m in intake.dead_letters()] == [4000]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "EMPTY_OBJECT"),
        (b"just some text, named like a photo\n", "UNSUPPORTED_FORMAT"),
        (b"GIF89a" + b"\x00" * 64, "UNSUPPORTED_FORMAT"),
        (b"%PDF-1.7\n" + b"\x00" * 64, "UNSUPPORTED_FORMAT"),
    ],
    ids=["empty", "text", "gif", "pdf"],
)
def test_object_failing_local_checks_is_rejected_without_upstream_call(
    intake: Intake, body: bytes, code: str
) -> None:
    intake.upload("uploads/photo.jpg", body)

    item = intake.item("uploads/photo.jpg")
    assert item is not None and item["status"] == "REJECTED"
    assert item["error"] == {
        "source": "local",
        "code": code,
        "status": "REJECTED",
        "message": item["error"]["message"],
    }
    assert "attempts" not in item
    assert intake.upstream.calls == []
    (message,) = intake.dead_letters()
    assert (
        message["body"]["status"] == "REJECTED" and message["attributes"]["error_code"]["StringValue"] == code
    )


def test_object_over_max_image_bytes_is_rejected_too_large(intake: Intake) -> None:
    intake.configure(MAX_IMAGE_BYTES="4096")
    intake.upload("uploads/huge.jpg", intake.recognizable(jpeg("huge", size=8192)))

    item = intake.item("uploads/huge.jpg")
    assert item is not None and item["status"] == "REJECTED" and item["error"]["code"] == "TOO_LARGE"
    assert intake.upstream.calls == []


@pytest.mark.parametrize("make", [png, bmp], ids=["png", "bmp"])
def test_png_and_bmp_are_accepted_whatever_the_extension(intake: Intake, make: object) -> None:
    image = intake.recognizable(make("accepted"))  # type: ignore[operator]
    intake.upload("uploads/scan.jpeg", image)

    item = intake.item("uploads/scan.jpeg")
    assert item is not None and item["status"] == "SUCCEEDED"


def test_deleted_object_version_is_rejected_object_missing(intake: Intake) -> None:
    image = intake.recognizable(jpeg("deleted"))
    record = intake.put("uploads/gone.jpg", image)
    intake.s3.delete_object(
        Bucket=intake.stack.bucket, Key="uploads/gone.jpg", VersionId=record["s3"]["object"]["versionId"]
    )
    intake.invoke(record)

    item = intake.item("uploads/gone.jpg")
    assert item is not None and item["status"] == "REJECTED" and item["error"]["code"] == "OBJECT_MISSING"
    assert intake.upstream.calls == []


def test_event_names_the_exact_version_that_is_sent(intake: Intake) -> None:
    first = intake.recognizable(jpeg("first version"), plate_number="沪A11111")
    record = intake.put("uploads/versioned.jpg", first)
    intake.put("uploads/versioned.jpg", intake.recognizable(jpeg("second version"), plate_number="沪A22222"))
    intake.invoke(record)  # the first version's event arrives after the second upload

    item = intake.item("uploads/versioned.jpg")
    assert item is not None and item["license"]["plate_number"] == "沪A11111"
    assert intake.upstream.calls_for(first) == 1


def test_persistent_transient_failure_is_failed_and_the_invocation_raises(intake: Intake) -> None:
    image = jpeg("down")
    intake.upstream.script(image, *[Reply.error(5020)] * 5)
    record = intake.put("uploads/down.jpg", image)

    with pytest.raises(Exception, match="records failed"):
        intake.invoke(record)

    item = intake.item("uploads/down.jpg")
    assert item is not None and item["status"] == "FAILED"
    assert item["error"]["code"] == 5020 and item["error"]["status"] == "UPSTREAM_ERROR"
    assert item["attempts"] == 3 == intake.upstream.calls_for(image), "OCR_MAX_ATTEMPTS bounds the calls"
    assert intake.dead_letters() == []


@pytest.mark.parametrize("code", [5030, 4015, 4999])
def test_non_transient_upstream_errors_fail_without_dead_letter(intake: Intake, code: int) -> None:
    image = jpeg(f"error {code}")
    intake.upstream.script(image, *[Reply.error(code)] * 3)

    with pytest.raises(Exception, match="records failed"):
        intake.upload("uploads/err.jpg", image)

    item = intake.item("uploads/err.jpg")
    assert item is not None and item["status"] == "FAILED" and item["error"]["code"] == code
    expected_calls = 2 if code == 4015 else 1  # a 4015 re-reads the key and tries once more
    assert intake.upstream.calls_for(image) == expected_calls
    assert intake.dead_letters() == []


def test_the_key_is_sent_in_both_header_forms(intake: Intake) -> None:
    intake.upload("uploads/car.jpg", intake.recognizable(jpeg("headers")))

    (call,) = intake.upstream.calls
    assert call.auth_forms == ("authorization", "x-api-key")
    assert call.input_type == "base64" and call.code == 0
    assert API_KEY  # the emulator accepted exactly this key


def test_questionable_license_is_stored_with_review_reasons_and_counted(
    intake: Intake, capsys: pytest.CaptureFixture[str]
) -> None:
    image = intake.recognizable(
        jpeg("questionable"),
        vin="LSVWY418OKN246094",  # an O read for a 0
        inspection_record="检验有效期至2024年06月沪A(01)",
        use_character="非运营",
        total_mass="1,945kg",
    )
    intake.upload("uploads/check-me.jpg", image)

    item = intake.item("uploads/check-me.jpg")
    assert item is not None and item["status"] == "SUCCEEDED" and item["needs_review"] is True
    assert item["review_reasons"] == ["VIN_FORMAT", "INSPECTION_EXPIRED", "USE_CHARACTER_UNKNOWN"]
    assert item["license"]["vin"] == "LSVWY418OKN246094", "the raw value is never changed"
    assert item["normalized"]["vin_suggestion"] == "LSVWY4180KN246094"
    assert (
        item["normalized"]["total_mass_kg"] == 1945
        and item["normalized"]["inspection_valid_until"] == "2024-06"
    )
    emitted = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')
    ]
    assert any(metric.get("UploadsNeedingReview") == [1.0] for metric in emitted), emitted
