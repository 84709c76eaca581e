"""Redrive and reprocess: a replay asked for on purpose is attempted once more, never twice, and a
redrive interrupted anywhere loses nothing (tools/vehicle_license_tools/redrive.py, the reprocess
token of results.py). Against the template deployed into a moto server (tests/ops_stack.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from conftest import jpeg
from fakes.results import InMemoryResults
from ops_stack import LiveStack, live_stack, use_stack
from vehicle_license_intake.events import REPROCESS_TOKEN_FIELD, Upload, parse_record
from vehicle_license_intake.notifications import outcome_event
from vehicle_license_intake.outcomes import Status
from vehicle_license_intake.ports import ClaimState
from vehicle_license_intake.results import ReprocessRequest, ResultsTable
from vehicle_license_tools.delivery import s3_record
from vehicle_license_tools.ops import Aws, Operations
from vehicle_license_tools.redrive import MessageReport, Outcome, Redrive, RedriveReport

pytestmark = pytest.mark.slow
LEARNT = {"plate_number": "沪A12345"}


@pytest.fixture(scope="module")
def deployed() -> Iterator[LiveStack]:
    with live_stack() as live:
        yield live


@pytest.fixture
def live(deployed: LiveStack, monkeypatch: pytest.MonkeyPatch) -> LiveStack:
    return use_stack(deployed, monkeypatch)


def operations(live: LiveStack) -> Operations:
    return Operations(Aws(endpoint_url=live.endpoint), live.stack.name)


def dead_lettered(live: LiveStack, count: int, prefix: str) -> dict[str, bytes]:
    """`count` uploads the upstream could not read (5021), each with its dead letter; then the
    upstream learns to read them all."""
    bodies = {f"{prefix}-{n:02}.jpg": jpeg(f"{prefix}-{n}") for n in range(count)}
    for key, body in bodies.items():
        live.put(key, body)
    live.drain()
    for body in bodies.values():
        live.recognizer.add(body, LEARNT)
    assert live.queue_size(live.stack.dead_letter_queue_url) == count
    return bodies


def interrupt_at(stage: str, nth: int) -> Callable[[MessageReport, str], None]:
    """A progress callback that raises KeyboardInterrupt (Ctrl-C) at the nth message's stage."""
    seen = 0

    def progress(_entry: MessageReport, at: str) -> None:
        nonlocal seen
        if at == stage:
            seen += 1
            if seen == nth:
                raise KeyboardInterrupt

    return progress


def run(live: LiveStack, **options: Any) -> RedriveReport:
    return Redrive(operations(live), "dead-letters", **options).run()


# -- the interruption test -------------------------------------------------------------------
def test_a_redrive_interrupted_between_replay_and_delete_replays_every_upload_exactly_once(
    live: LiveStack,
) -> None:
    """Ctrl-C after the 5th replay was sent and before its message was deleted: the rerun sends
    that replay again (same token), every other message once; each upload is attempted once."""
    bodies = dead_lettered(live, 20, "interrupted")

    with pytest.raises(KeyboardInterrupt):
        run(live, progress=interrupt_at("replayed", 5))
    # Four messages were finished; the fifth and the rest are back in the queue, visible now.
    assert live.queue_size(live.stack.dead_letter_queue_url) == 16
    rerun = run(live)
    live.drain()

    assert [m.outcome for m in rerun.messages] == [Outcome.REPLAYED] * 16
    assert live.queue_size(live.stack.dead_letter_queue_url) == 0
    for key, body in bodies.items():
        item = live.item(key) or {}
        assert item.get("status") == "SUCCEEDED", key
        assert live.upstream.calls_for(body) == 2, key  # the upload, and exactly one replay
        assert len(item["reprocess_tokens_used"]) == 1, key


def test_a_rerun_after_the_replay_was_attempted_deletes_the_message_without_paying_again(
    live: LiveStack,
) -> None:
    bodies = dead_lettered(live, 6, "attempted")

    with pytest.raises(KeyboardInterrupt):
        run(live, progress=interrupt_at("replayed", 2))
    live.drain()  # the function attempts the replays sent so far, the second one included
    rerun = run(live)
    live.drain()

    outcomes = [m.outcome for m in rerun.messages]
    assert sorted(outcomes) == sorted([Outcome.ALREADY_REPLAYED] + [Outcome.REPLAYED] * 4)
    assert all(m.deleted for m in rerun.messages)
    assert live.queue_size(live.stack.dead_letter_queue_url) == 0
    assert [live.upstream.calls_for(body) for body in bodies.values()] == [2] * 6


def test_a_redrive_interrupted_after_a_delete_loses_nothing(live: LiveStack) -> None:
    bodies = dead_lettered(live, 5, "after-delete")

    with pytest.raises(KeyboardInterrupt):
        run(live, progress=interrupt_at("done", 3))
    rerun = run(live)
    live.drain()

    assert len(rerun.messages) == 2
    assert live.queue_size(live.stack.dead_letter_queue_url) == 0
    assert [live.upstream.calls_for(body) for body in bodies.values()] == [2] * 5


def test_a_message_whose_replay_cannot_be_sent_stays_in_its_queue(
    live: LiveStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    bodies = dead_lettered(live, 2, "not-sent")
    ops = operations(live)

    def refused(record: Any, token: str) -> str:
        raise ConnectionError("the intake queue is unreachable")

    monkeypatch.setattr(ops, "replay", refused)
    report = Redrive(ops, "dead-letters").run()

    assert [m.outcome for m in report.messages] == [Outcome.NOT_SENT] * 2
    assert not any(m.deleted for m in report.messages)
    assert live.queue_size(live.stack.dead_letter_queue_url) == 2
    # Sent by a later run, with the same tokens: attempted once.
    again = run(live)
    live.drain()
    assert [m.outcome for m in again.messages] == [Outcome.REPLAYED] * 2
    assert [live.upstream.calls_for(body) for body in bodies.values()] == [2, 2]


# -- the token, as the table keeps it ----------------------------------------------------------
def record_of(live: LiveStack, key: str, body: bytes) -> dict[str, Any]:
    response = live.put(key, body)
    return s3_record(
        live.stack.bucket,
        f"{live.stack.upload_prefix}{key}",
        size=len(body),
        etag=response["ETag"],
        version_id=response.get("VersionId"),
    )


def upload_of(record: dict[str, Any], token: str | None = None) -> Upload:
    parsed = parse_record({**record, REPROCESS_TOKEN_FIELD: token} if token else record)
    assert isinstance(parsed, Upload)
    return parsed


@pytest.fixture(params=["dynamodb", "in-memory fake"])
def table(request: pytest.FixtureRequest, live: LiveStack) -> Any:
    """The results table and its in-memory fake: the same token rules."""
    if request.param == "dynamodb":
        return ResultsTable(
            live.session.resource("dynamodb", endpoint_url=live.endpoint).Table(live.stack.table)
        )
    return InMemoryResults()


def written(table: Any, upload: Upload, token: str) -> bool:
    answer = table.request_reprocess(upload.image_uri, upload.identity, token)
    return answer in (True, ReprocessRequest.WRITTEN)


def finished(table: Any, upload: Upload, status: Status = Status.SUCCEEDED) -> None:
    claim = table.claim_upload(upload, owner="test", lease_seconds=60)
    assert claim.state is ClaimState.CLAIMED
    assert table.finish_upload(
        upload, claim, status, {"review_reasons": [], "needs_review": False}, attempts=1
    )


def test_a_final_item_is_taken_again_only_by_a_replay_with_the_written_token(
    live: LiveStack, table: Any
) -> None:
    record = record_of(live, "token.jpg", jpeg("token"))
    upload = upload_of(record)
    finished(table, upload)

    unwritten = table.claim_upload(upload_of(record, "redrive-never-written"), owner="x", lease_seconds=60)
    assert unwritten.state is ClaimState.DUPLICATE
    assert written(table, upload, "redrive-token-1")
    replay = upload_of(record, "redrive-token-1")
    claim = table.claim_upload(replay, owner="replay", lease_seconds=60)
    assert claim.state is ClaimState.CLAIMED
    assert claim.prior_attempts == 1
    # A second copy of the replay while the first holds the claim, then after it finished.
    assert table.claim_upload(replay, owner="copy", lease_seconds=60).state is ClaimState.IN_PROGRESS
    assert table.finish_upload(replay, claim, Status.SUCCEEDED, {}, attempts=1)
    assert table.claim_upload(replay, owner="copy", lease_seconds=60).state is ClaimState.DUPLICATE
    # The spent token cannot be written again; a new one can.
    assert not written(table, upload, "redrive-token-1")
    assert written(table, upload, "redrive-token-2")


def test_spent_tokens_outlive_a_failed_attempt_and_its_retry(live: LiveStack, table: Any) -> None:
    record = record_of(live, "token-failed.jpg", jpeg("token-failed"))
    upload = upload_of(record)
    finished(table, upload, Status.UNRECOGNIZED)
    assert written(table, upload, "reprocess-aaaaaaaa")
    replay = upload_of(record, "reprocess-aaaaaaaa")
    finished(table, replay, Status.FAILED)  # the replay's attempt failed: the retry takes it again
    finished(table, replay, Status.SUCCEEDED)

    assert not written(table, upload, "reprocess-aaaaaaaa")
    assert table.claim_upload(replay, owner="late copy", lease_seconds=60).state is ClaimState.DUPLICATE


def test_the_token_is_not_written_on_another_version_or_a_live_claim(live: LiveStack) -> None:
    results = ResultsTable(
        live.session.resource("dynamodb", endpoint_url=live.endpoint).Table(live.stack.table)
    )
    old = record_of(live, "versions.jpg", jpeg("versions-1"))
    new = record_of(live, "versions.jpg", jpeg("versions-2"))
    finished(results, upload_of(new))
    claimed_elsewhere = upload_of(record_of(live, "busy.jpg", jpeg("busy")))
    results.claim_upload(claimed_elsewhere, owner="someone", lease_seconds=600)

    assert results.request_reprocess(
        upload_of(old).image_uri, upload_of(old).identity, "redrive-old-version"
    ) is (ReprocessRequest.OTHER_VERSION)
    assert (
        results.request_reprocess(
            claimed_elsewhere.image_uri, claimed_elsewhere.identity, "redrive-busy-item"
        )
        is ReprocessRequest.BUSY
    )
    assert (
        results.request_reprocess(live.uri("nothing.jpg"), "seq:1", "redrive-no-item")
        is ReprocessRequest.NO_ITEM
    )


def test_a_reprocessed_outcome_has_an_event_id_of_its_own() -> None:
    item = {
        "image_uri": "s3://b/k.jpg",
        "bucket": "b",
        "object_key": "k.jpg",
        "status": "REJECTED",
        "processed_at": "2026-11-24T00:00:00Z",
        "error": {"code": "EMPTY_OBJECT", "status": "REJECTED"},
    }

    first = outcome_event(item, identity="seq:1")
    again = outcome_event(item, identity="seq:1", reprocess_token="reprocess-1234abcd")

    assert first.detail["event_id"] != again.detail["event_id"]
    assert (
        again.detail["event_id"]
        == outcome_event(item, identity="seq:1", reprocess_token="reprocess-1234abcd").detail["event_id"]
    )
    assert "reprocess" not in json.dumps(again.detail)


def test_a_replay_is_noticed_in_the_intake_queue_only_with_a_well_formed_token(live: LiveStack) -> None:
    record = record_of(live, "malformed.jpg", jpeg("malformed"))

    assert upload_of(record, "reprocess-0123456789").reprocess_token == "reprocess-0123456789"
    assert parse_record({**record, REPROCESS_TOKEN_FIELD: "x"}).__class__.__name__ == "Ignored"
    assert parse_record({**record, REPROCESS_TOKEN_FIELD: 42}).__class__.__name__ == "Ignored"
