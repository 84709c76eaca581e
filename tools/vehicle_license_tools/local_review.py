"""`vehicle-license-intake review` (`make review`): the review desk on this machine, in one command.

The template is deployed into an embedded AWS (moto on 127.0.0.1), the samples go through the
real function (with the offline recognizer in-process when it is installed, so the fields carry
their boxes), local reviewers are added to the stack's Cognito pool, and the desk is served on
127.0.0.1 as API Gateway serves it (tokens checked as its JWT authorizer does). The intake queue
and the vehicle events queue keep being read while it runs: an upload made with any S3 client
appears in the queue, and in the vehicle record of its plate."""

from __future__ import annotations

import secrets
import signal
import string
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from vehicle_license_tools import aws, stack
from vehicle_license_tools.delivery import BatchResult, LiveIntake, QueueConsumer
from vehicle_license_tools.demo import (
    choose_recognizer,
    local_commands,
    quiet_function,
    restored_environment,
    use_records_environment,
)
from vehicle_license_tools.emulator import GroundTruthRecognizer, UpstreamEmulator
from vehicle_license_tools.resources import DEMO_API_KEY

REVIEWERS = ("reviewer1", "reviewer2")


@dataclass
class LocalReview:
    """What the running desk offers (for the tests and the printed instructions)."""

    url: str
    endpoint: str
    deployed: stack.LocalStack
    passwords: dict[str, str] = field(default_factory=dict)


def local_password() -> str:
    """A password the pool's policy accepts: upper, lower, digit and symbol, 16 characters."""
    alphabet = string.ascii_letters + string.digits
    body = "".join(secrets.choice(alphabet) for _ in range(12))
    return f"Aa1!{body}"


def run_review(
    images: Sequence[Path],
    *,
    port: int = 8780,
    samples: Path,
    out: TextIO = sys.stdout,
    verbose: bool = False,
    until: Callable[[LocalReview], None] | None = None,
) -> LocalReview:
    """Serve the desk until Ctrl-C (or until `until(desk)` returns: the tests)."""

    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    with restored_environment():
        quiet_function(verbose)
        recognizer = choose_recognizer(samples)
        in_process = not isinstance(recognizer, GroundTruthRecognizer)
        with aws.emulated_aws() as endpoint, UpstreamEmulator(recognizer, [DEMO_API_KEY]) as upstream:
            session = aws.session()
            deployed = stack.deploy_with_upstream(
                session, stack_name="vli-review", upstream_url=upstream.url, api_key=DEMO_API_KEY
            )
            from vehicle_license_intake import handler

            # The offline recognizer in the function itself gives each field its box on the image.
            stack.use_function_environment(deployed, **({"OCR_PROVIDER": "local"} if in_process else {}))
            intake = QueueConsumer.for_stack(deployed, session.client("sqs"), handler.lambda_handler)
            s3 = session.client("s3")
            say(f"review desk: the stack {deployed.name} on an embedded AWS (moto at {endpoint})")
            say(f"  answered by: {recognizer.name}{' (in the function)' if in_process else ''}")
            for image in images:
                s3.put_object(
                    Bucket=deployed.bucket,
                    Key=f"{deployed.upload_prefix}{image.name}",
                    Body=image.read_bytes(),
                )
            for batch in intake.drain():
                say(
                    f"  intake: {batch.messages} upload(s) -> {(batch.result or {}).get('outcomes', batch.error)}"
                )
            # The vehicle records (SPEC §12) the desk shows beside an upload: the records function
            # reads the outcome events the stack's rule put into its queue, now and while it runs.
            from vehicle_license_records import handler as records_handler

            use_records_environment(deployed)
            records = QueueConsumer.for_vehicle_events(
                deployed, session.client("sqs"), records_handler.lambda_handler
            )
            records.drain()
            review = LocalReview("", endpoint, deployed)
            for name in REVIEWERS:
                review.passwords[name] = local_password()
                stack.add_reviewer(session, deployed, name, review.passwords[name])

            def report(batch: BatchResult) -> None:
                say(
                    f"  intake: {batch.messages} upload(s) -> {(batch.result or {}).get('outcomes', batch.error)}"
                )

            # Imported after quiet_function: importing it creates the logger at the level set there.
            from vehicle_license_tools.review_desk import LocalDesk

            with (
                LocalDesk(deployed, endpoint, port=port) as desk,
                LiveIntake(intake, on_batch=report),
                LiveIntake(records),
            ):
                review.url = desk.url
                say()
                say(f"Open {desk.url} and log in as one of the local reviewers (group 'reviewers'):")
                for name, password in review.passwords.items():
                    say(f"  {name} / {password}")
                say("Upload a photo with any S3 client and it appears in the queue:")
                say(
                    f"  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION={aws.REGION}"
                )
                say(f"  {local_commands(deployed, endpoint)[0]}")
                say("Ctrl-C stops it (everything is in memory and goes with it).")
                if until is not None:
                    until(review)
                else:
                    try:
                        signal.pause()
                    except KeyboardInterrupt:
                        say("stopped")
    return review
