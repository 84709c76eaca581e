"""The results table's claim rules (SPEC §6), checked on the DynamoDB adapter in moto and on the
in-memory fake the unit tests use, so that the fake stays true to the adapter."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from fakes import InMemoryResults
from moto_harness import EmulatedAccount
from vehicle_license_intake.events import Upload, parse_record
from vehicle_license_intake.outcomes import ErrorInfo, PendingOutcome, Status
from vehicle_license_intake.ports import ClaimState, ResultsRepository
from vehicle_license_intake.results import ResultsTable
from vehicle_license_tools.delivery import s3_record

NOW = 1_800_000_000.0
LEASE = 330.0


def upload(sequencer: str = "0A1", key: str = "uploads/car.jpg") -> Upload:
    parsed = parse_record(
        s3_record("bucket", key, size=100, etag="etag", version_id=f"v-{sequencer}", sequencer=sequencer)
    )
    assert isinstance(parsed, Upload)
    return parsed


def unrecognized_outcome(attempts: int = 1) -> PendingOutcome:
    error = ErrorInfo("upstream", 5021, "UPSTREAM_INVALID", "图片无法识别")
    return PendingOutcome(Status.UNRECOGNIZED, error, "req_1", attempts, failed_at="2026-11-24T08:00:00.000Z")


@pytest.fixture(params=["dynamodb", "in-memory"])
def results(request: pytest.FixtureRequest, emulated_account: EmulatedAccount) -> Iterator[ResultsRepository]:
    if request.param == "in-memory":
        yield InMemoryResults(clock=lambda: NOW)
        return
    with emulated_account.beside_the_stack() as session:
        table = session.resource("dynamodb").create_table(
            TableName=f"results-{uuid.uuid4().hex}",
            KeySchema=[{"AttributeName": "image_uri", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "image_uri", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        try:
            yield ResultsTable(table, clock=lambda: NOW)
        finally:
            table.delete()


def test_a_new_version_is_claimed_and_once_finished_a_redelivery_is_a_duplicate(
    results: ResultsRepository,
) -> None:
    car = upload()
    claim = results.claim_upload(car, owner="a", lease_seconds=LEASE)
    assert claim.state is ClaimState.CLAIMED and claim.token

    assert results.finish_upload(car, claim, Status.SUCCEEDED, {"license": {}}, attempts=1)

    again = results.claim_upload(car, owner="b", lease_seconds=LEASE)
    assert again.state is ClaimState.DUPLICATE and again.stored_status == "SUCCEEDED"


def test_a_live_claim_is_in_progress_for_another_owner_and_taken_again_by_its_own(
    results: ResultsRepository,
) -> None:
    car = upload()
    results.claim_upload(car, owner="a", lease_seconds=LEASE)

    assert results.claim_upload(car, owner="b", lease_seconds=LEASE).state is ClaimState.IN_PROGRESS
    assert results.claim_upload(car, owner="a", lease_seconds=LEASE).state is ClaimState.CLAIMED


def test_an_expired_lease_is_taken_over(results: ResultsRepository) -> None:
    car = upload()
    results.claim_upload(car, owner="a-dead-invocation", lease_seconds=-1)

    assert results.claim_upload(car, owner="b", lease_seconds=LEASE).state is ClaimState.CLAIMED


def test_a_released_claim_is_taken_by_another_owner_at_once(results: ResultsRepository) -> None:
    car = upload()
    claim = results.claim_upload(car, owner="a", lease_seconds=LEASE)
    assert results.claim_upload(car, owner="b", lease_seconds=LEASE).state is ClaimState.IN_PROGRESS

    assert results.release_claim(car, claim) is True

    taken = results.claim_upload(car, owner="b", lease_seconds=LEASE)
    assert taken.state is ClaimState.CLAIMED and taken.token != claim.token
    assert results.release_claim(car, claim) is False, "the claim is no longer a's to release"


def test_an_older_event_is_stale_and_a_newer_one_replaces_the_item(results: ResultsRepository) -> None:
    newer, older, newest = upload("0A2"), upload("0A1"), upload("0A3")
    claim = results.claim_upload(newer, owner="a", lease_seconds=LEASE)
    results.finish_upload(newer, claim, Status.SUCCEEDED, {}, attempts=1)

    stale = results.claim_upload(older, owner="b", lease_seconds=LEASE)
    assert stale.state is ClaimState.STALE and stale.stored_status == "SUCCEEDED"
    assert results.claim_upload(newest, owner="c", lease_seconds=LEASE).state is ClaimState.CLAIMED


def test_a_failed_upload_is_claimed_again_with_its_pending_outcome_and_prior_attempts(
    results: ResultsRepository,
) -> None:
    car = upload()
    first = results.claim_upload(car, owner="a", lease_seconds=LEASE)
    assert results.finish_upload(car, first, Status.FAILED, {"error": {"code": 5020}}, attempts=2)
    second = results.claim_upload(car, owner="a", lease_seconds=LEASE)
    assert (
        second.state is ClaimState.CLAIMED and second.prior_attempts == 2 and second.pending_outcome is None
    )
    assert results.record_pending_outcome(car, second, unrecognized_outcome())
    error = ErrorInfo("local", "NonExistentQueue", "AWS_ERROR", "SendMessage failed")
    assert results.record_failure(car, second, error)

    third = results.claim_upload(car, owner="b", lease_seconds=LEASE)

    assert third.state is ClaimState.CLAIMED and third.pending_outcome == unrecognized_outcome()
    assert third.prior_attempts == 2


def test_writes_with_a_claim_that_was_lost_are_refused(results: ResultsRepository) -> None:
    car = upload()
    lost = results.claim_upload(car, owner="a", lease_seconds=-1)
    current = results.claim_upload(car, owner="b", lease_seconds=LEASE)
    assert current.state is ClaimState.CLAIMED

    assert results.record_pending_outcome(car, lost, unrecognized_outcome()) is False
    assert results.finish_upload(car, lost, Status.SUCCEEDED, {}, attempts=1) is False
    assert results.record_failure(car, lost, ErrorInfo("local", "X", "AWS_ERROR", "m")) is False
    assert results.release_claim(car, lost) is False
    assert results.finish_upload(car, current, Status.SUCCEEDED, {}, attempts=1) is True
