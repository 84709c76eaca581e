"""The operations CLI (`vehicle-license-intake status|upload|redrive|reprocess|stats`) against the
template deployed into a moto server, reached by `--endpoint-url`; the function runs in-process,
fed by the intake queue (tests/ops_stack.py)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest

from conftest import OWNER, jpeg
from ops_stack import LiveStack, live_stack, use_stack
from vehicle_license_intake import handler
from vehicle_license_intake.pipeline import RecordsFailed
from vehicle_license_tools import aws, cli
from vehicle_license_tools.delivery import LiveIntake, LocalContext
from vehicle_license_tools.emulator import Reply

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def deployed() -> Iterator[LiveStack]:
    with live_stack() as live:
        yield live


@pytest.fixture
def live(deployed: LiveStack, monkeypatch: pytest.MonkeyPatch) -> LiveStack:
    return use_stack(deployed, monkeypatch)


def unrecognized(live: LiveStack, *keys: str) -> dict[str, bytes]:
    """Uploads the upstream answers 5021 for, processed: each in the dead-letter queue."""
    bodies = {key: jpeg(key) for key in keys}
    for key, body in bodies.items():
        live.put(key, body)
    live.drain()
    return bodies


# -- clear errors ------------------------------------------------------------------------------
def test_an_unknown_stack_is_said_plainly(live: LiveStack) -> None:
    run = live.cli("stats", "--stack", "no-such-stack")

    assert run.code == 1
    assert "no stack named 'no-such-stack'" in run.err
    assert "--stack" in run.err
    assert run.out == ""


def test_status_of_an_unknown_key_is_said_plainly(live: LiveStack) -> None:
    run = live.cli("status", "never-uploaded.jpg")

    assert run.code == 1
    assert "no item and no object for" in run.err
    assert "never-uploaded.jpg" in run.err


def test_reprocess_of_an_unknown_key_is_said_plainly(live: LiveStack) -> None:
    run = live.cli("reprocess", "never-uploaded.jpg")

    assert run.code == 1
    assert "nothing to reprocess" in run.err


def test_upload_of_a_missing_file_is_said_plainly(live: LiveStack, tmp_path: Path) -> None:
    run = live.cli("upload", str(tmp_path / "nope.jpg"))

    assert run.code == 1
    assert "not a file" in run.err


def test_redrive_with_nothing_to_redrive_says_so(live: LiveStack) -> None:
    run = live.cli("redrive", "--from", "dead-letters")

    assert run.code == 0
    assert "nothing to redrive: the dead-letter queue are empty" in run.out.replace("queue is", "queue are")


# -- upload --wait and status ------------------------------------------------------------------
def test_upload_wait_prints_each_outcome(live: LiveStack, tmp_path: Path) -> None:
    clean = tmp_path / "clean.jpg"
    clean.write_bytes(live.recognizable("upload-clean"))
    unreadable = tmp_path / "unreadable.jpg"
    unreadable.write_bytes(jpeg("upload-unreadable"))

    with LiveIntake(live.consumer()):
        run = live.cli("upload", str(clean), str(unreadable), "--wait", "--timeout", "120")

    assert run.code == 0, run.err
    lines = {line.split()[0]: line for line in run.out.splitlines()}
    assert f"{live.uri('clean.jpg')}  SUCCEEDED  clean" in lines["clean.jpg"]
    assert "UNRECOGNIZED  5021" in lines["unreadable.jpg"]


def test_upload_without_wait_only_uploads(live: LiveStack, tmp_path: Path) -> None:
    image = tmp_path / "later.jpg"
    image.write_bytes(jpeg("upload-later"))

    run = live.cli("upload", str(image))

    assert run.code == 0
    assert f"later.jpg  {live.uri('later.jpg')}  UPLOADED" in run.out
    assert live.item("later.jpg") is None


def test_status_shows_the_item_masked_and_where_the_upload_is(live: LiveStack) -> None:
    live.put("seen.jpg", live.recognizable("status-seen", plate_number="沪B54321"))
    live.drain()

    run = live.cli("status", "seen.jpg")

    assert run.code == 0, run.err
    assert run.out.splitlines()[0] == live.uri("seen.jpg")
    assert "status        SUCCEEDED (recognized by upstream)" in run.out
    assert "attempts      1" in run.out
    assert "plate 沪B54321" in run.out
    assert OWNER not in run.out  # masked: 王**
    assert "owner 王**" in run.out
    assert "dead-letter queue  no" in run.out
    assert "S3 versions   1" in run.out
    assert "the item's version is the latest" in run.out


def test_status_shows_personal_data_only_when_asked(live: LiveStack) -> None:
    live.put("personal.jpg", live.recognizable("status-personal"))
    live.drain()

    masked = live.cli("--json", "status", "personal.jpg").json()
    shown = live.cli("--json", "status", "personal.jpg", "--show-personal-data").json()

    assert masked["item"]["normalized"]["owner"] == "王**"
    assert masked["item"]["license"]["owner"] == "王**"
    assert OWNER not in json.dumps(masked, ensure_ascii=False)
    assert shown["item"]["normalized"]["owner"] == OWNER
    assert "claim_token" not in shown["item"]


def test_status_finds_a_dead_lettered_upload_in_the_dead_letter_queue(live: LiveStack) -> None:
    unrecognized(live, "lost.jpg")

    run = live.cli("status", live.uri("lost.jpg"))

    assert "status        UNRECOGNIZED" in run.out
    assert "error         5021 UPSTREAM_INVALID" in run.out
    assert "dead-letter queue  UNRECOGNIZED 5021 UPSTREAM_INVALID since" in run.out
    # Peeking leaves the message where it was, visible.
    assert live.cli("--json", "status", "lost.jpg").json()["queues"]["dead-letter queue"]


def test_status_of_an_object_not_processed_yet(live: LiveStack) -> None:
    live.put("waiting.jpg", jpeg("status-waiting"))

    run = live.cli("status", "waiting.jpg")

    assert run.code == 0
    assert "no item: not processed yet" in run.out


# -- stats -------------------------------------------------------------------------------------
def test_stats_counts_statuses_needs_review_and_the_guard(live: LiveStack) -> None:
    live.put("a.jpg", live.recognizable("stats-a"))
    live.put("b.jpg", live.recognizable("stats-b", vin="LSVWY4180KN246095"))  # check digit wrong
    unrecognized(live, "c.jpg")

    stats = live.cli("--json", "stats").json()
    text = live.cli("stats").out

    assert stats["by_status"] == {"SUCCEEDED": 2, "UNRECOGNIZED": 1}
    assert stats["items"] == 3
    assert stats["needs_review"] == 1
    assert stats["deferred"] == 0
    assert stats["guard"]["breaker"] == "closed"
    assert "by status     SUCCEEDED 2   UNRECOGNIZED 1" in text
    assert "a full table scan" in text
    assert "quota today   not counted (no daily quota)" in text


def test_stats_shows_the_quota_used_today(live: LiveStack, monkeypatch: pytest.MonkeyPatch) -> None:
    lambda_ = live.client("lambda")
    environment = dict(live.stack.function_environment, UPSTREAM_DAILY_QUOTA="50")
    lambda_.update_function_configuration(
        FunctionName=live.stack.function_name, Environment={"Variables": environment}
    )
    monkeypatch.setenv("UPSTREAM_DAILY_QUOTA", "50")
    handler.reset()
    try:
        live.put("q1.jpg", live.recognizable("stats-q1"))
        unrecognized(live, "q2.jpg")

        stats = live.cli("--json", "stats").json()
        text = live.cli("stats").out
    finally:
        lambda_.update_function_configuration(
            FunctionName=live.stack.function_name,
            Environment={"Variables": dict(live.stack.function_environment)},
        )

    assert stats["guard"]["quota_used"] == 2
    assert stats["guard"]["daily_quota"] == 50
    assert "quota today   2 of 50 upstream calls" in text


# -- redrive -----------------------------------------------------------------------------------
def test_a_redriven_5021_the_upstream_now_recognises_ends_succeeded_with_one_more_call(
    live: LiveStack,
) -> None:
    body = unrecognized(live, "retry.jpg")["retry.jpg"]
    live.recognizer.add(body, {"plate_number": "沪A12345"})  # the upstream learnt to read it

    run = live.cli("redrive", "--from", "dead-letters")
    live.drain()

    assert run.code == 0, run.err
    assert f"[1/1] replayed  {live.uri('retry.jpg')}" in run.out
    assert "1 message(s): 1 replayed (1 message(s) deleted)" in run.out
    item = live.item("retry.jpg")
    assert item is not None
    assert item["status"] == "SUCCEEDED"
    assert item["attempts"] == 2
    assert live.upstream.calls_for(body) == 2
    assert live.queue_size(live.stack.dead_letter_queue_url) == 0


def test_redriving_the_same_dead_letter_twice_pays_once(live: LiveStack) -> None:
    body = unrecognized(live, "twice.jpg")["twice.jpg"]
    sqs, dead_letters = live.client("sqs"), live.stack.dead_letter_queue_url
    message = sqs.receive_message(QueueUrl=dead_letters)["Messages"][0]
    # The same dead letter twice in the queue (SQS delivers at least once).
    sqs.send_message(QueueUrl=dead_letters, MessageBody=message["Body"])
    sqs.change_message_visibility(
        QueueUrl=dead_letters, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )

    first = live.cli("redrive", "--from", "dead-letters")
    live.drain()

    assert first.code == 0, first.err
    assert "2 message(s): 2 replayed (2 message(s) deleted)" in first.out
    assert live.upstream.calls_for(body) == 2  # the upload, and one replay for both copies
    # Unrecognised again: one new dead letter, a new message that a later redrive replays once.
    assert live.queue_size(dead_letters) == 1
    second = live.cli("redrive", "--from", "dead-letters")
    live.drain()
    assert "1 message(s): 1 replayed" in second.out
    assert live.upstream.calls_for(body) == 3
    third = live.cli("redrive", "--from", "dead-letters", "--max", "0")
    assert third.code == 0


def test_redrive_dry_run_changes_nothing(live: LiveStack) -> None:
    bodies = unrecognized(live, "dry-1.jpg", "dry-2.jpg")

    run = live.cli("redrive", "--from", "dead-letters", "--dry-run")
    again = live.cli("--json", "redrive", "--from", "dead-letters", "--dry-run").json()

    assert run.code == 0
    assert [line.split("  ")[0][6:] for line in run.out.splitlines()[:2]] == ["would replay"] * 2
    assert "dry run, nothing changed" in run.out
    assert [m["outcome"] for m in again["messages"]] == ["would replay", "would replay"]
    assert live.queue_size(live.stack.dead_letter_queue_url) == 2
    assert live.queue_size(live.stack.intake_queue_url or "") == 0
    assert all("reprocess_token" not in (live.item(k) or {}) for k in bodies)


def test_redrive_max_replays_at_most_n_messages(live: LiveStack) -> None:
    unrecognized(live, "max-1.jpg", "max-2.jpg", "max-3.jpg")

    run = live.cli("--json", "redrive", "--from", "dead-letters", "--max", "2").json()

    assert [m["outcome"] for m in run["messages"]] == ["replayed", "replayed"]
    assert live.queue_size(live.stack.dead_letter_queue_url) == 1
    assert live.queue_size(live.stack.intake_queue_url or "") == 2


def test_redrive_from_failures_replays_parked_and_on_failure_messages(
    live: LiveStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    parked = live.recognizable("failures-parked")
    failed = live.recognizable("failures-failed")
    sqs = live.client("sqs")
    live.put("parked.jpg", parked)
    live.put("failed.jpg", failed)
    events: dict[str, dict[str, Any]] = {}
    while len(events) < 2:  # their notifications, taken off the intake queue
        for message in sqs.receive_message(QueueUrl=live.stack.intake_queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            event = json.loads(message["Body"])
            if "Records" in event:
                events[unquote_plus(event["Records"][0]["s3"]["object"]["key"]).split("/")[-1]] = event
            sqs.delete_message(QueueUrl=live.stack.intake_queue_url, ReceiptHandle=message["ReceiptHandle"])
    # The upstream failed them (5020, one attempt each): their items say FAILED.
    monkeypatch.setenv("OCR_MAX_ATTEMPTS", "1")
    handler.reset()
    for image, name in ((parked, "parked.jpg"), (failed, "failed.jpg")):
        live.upstream.script(image, Reply.error(5020))
        with pytest.raises(RecordsFailed):
            handler.lambda_handler(events[name], LocalContext())
        assert (live.item(name) or {}).get("status") == "FAILED"
    monkeypatch.setenv("OCR_MAX_ATTEMPTS", live.stack.function_environment["OCR_MAX_ATTEMPTS"])
    handler.reset()
    # What the parking queue and Lambda's on-failure destination would hold for them.
    sqs.send_message(QueueUrl=live.stack.parking_queue_url, MessageBody=json.dumps(events["parked.jpg"]))
    on_failure = {
        "version": "1.0",
        "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": events["failed.jpg"],
        "responsePayload": {"errorType": "RecordsFailed"},
    }
    sqs.send_message(QueueUrl=live.stack.failure_queue_url, MessageBody=json.dumps(on_failure))

    run = live.cli("redrive", "--from", "failures")
    live.drain()

    assert run.code == 0, run.err
    assert "2 message(s): 2 replayed" in run.out
    assert (live.item("parked.jpg") or {}).get("status") == "SUCCEEDED"
    assert (live.item("failed.jpg") or {}).get("status") == "SUCCEEDED"
    assert live.upstream.calls_for(parked) == 2
    assert live.upstream.calls_for(failed) == 2
    assert live.queue_size(live.stack.failure_queue_url) == 0
    assert live.queue_size(live.stack.parking_queue_url) == 0


class CtrlCOnLine:
    """A terminal where the operator presses Ctrl-C as the n-th progress line appears."""

    def __init__(self, n: int) -> None:
        self.n, self.lines = n, 0

    def write(self, text: str) -> int:
        if text.startswith("[") and "replayed" in text:
            self.lines += 1
            if self.lines == self.n:
                raise KeyboardInterrupt
        return len(text)

    def flush(self) -> None:
        pass


def test_an_interrupted_redrive_loses_nothing_and_a_rerun_finishes_it(live: LiveStack) -> None:
    """Ctrl-C as the CLI prints its 3rd progress line: exit 130, the messages it had not finished
    are back in the queue at once; run again, it replays the rest, each upload once."""
    bodies = unrecognized(live, *(f"ctrl-c-{n}.jpg" for n in range(8)))
    for body in bodies.values():
        live.recognizer.add(body, {"plate_number": "沪A12345"})

    err = io.StringIO()
    with pytest.MonkeyPatch.context() as terminal, contextlib.redirect_stderr(err):
        terminal.setattr(sys, "stdout", CtrlCOnLine(3))
        code = cli.main(
            ["--endpoint-url", live.endpoint, "--stack", live.stack.name, "redrive", "--from", "dead-letters"]
        )

    assert code == 130
    assert "interrupted: nothing is lost" in err.getvalue()
    assert live.queue_size(live.stack.dead_letter_queue_url) == 5  # three done, five back, visible
    rerun = live.cli("redrive", "--from", "dead-letters")
    live.drain()

    assert rerun.code == 0
    assert "5 message(s): 5 replayed" in rerun.out
    assert live.queue_size(live.stack.dead_letter_queue_url) == 0
    for key, body in bodies.items():
        assert (live.item(key) or {}).get("status") == "SUCCEEDED", key
        assert live.upstream.calls_for(body) == 2, key


# -- reprocess ---------------------------------------------------------------------------------
def test_reprocess_makes_exactly_one_new_call(live: LiveStack) -> None:
    body = live.recognizable("reprocess-once")
    live.put("again.jpg", body)
    live.drain()

    run = live.cli("reprocess", "again.jpg")
    live.drain()
    live.drain()

    assert run.code == 0, run.err
    assert f"{live.uri('again.jpg')}: was SUCCEEDED; a new attempt is on its way (intake queue)" in run.out
    assert live.upstream.calls_for(body) == 2
    item = live.item("again.jpg")
    assert item is not None
    assert item["status"] == "SUCCEEDED"
    assert item["attempts"] == 2
    assert len(item["reprocess_tokens_used"]) == 1


def test_reprocess_twice_makes_two_new_calls(live: LiveStack) -> None:
    body = live.recognizable("reprocess-twice")
    live.put("twice-again.jpg", body)
    live.drain()

    live.cli("reprocess", "twice-again.jpg")
    live.drain()
    live.cli("reprocess", "twice-again.jpg")
    live.drain()

    assert live.upstream.calls_for(body) == 3


# -- with the AWS CLI ----------------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("aws") is None, reason="no AWS CLI on this machine")
def test_an_upload_made_with_the_aws_cli_is_seen_by_status(live: LiveStack, tmp_path: Path) -> None:
    image = tmp_path / "by-aws-cli.jpg"
    image.write_bytes(live.recognizable("aws-cli"))
    target = f"s3://{live.stack.bucket}/{live.stack.upload_prefix}by-aws-cli.jpg"
    environment = {**os.environ, **aws.FAKE_CREDENTIALS}
    environment.pop("AWS_PROFILE", None)

    copied = subprocess.run(
        ["aws", "--endpoint-url", live.endpoint, "s3", "cp", str(image), target, "--only-show-errors"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert copied.returncode == 0, copied.stderr
    live.drain()
    run = live.cli("status", target)

    assert "status        SUCCEEDED" in run.out
    assert "S3 versions   1" in run.out
