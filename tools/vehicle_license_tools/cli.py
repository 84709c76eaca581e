"""The `vehicle-license-intake` command: a local demo, the upstream emulator, the offline
recognizer's server, the review desk on this machine, and the operations of a deployed stack (status, upload, redrive, reprocess,
stats, vehicle), which find its resources by stack name from its CloudFormation outputs."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from vehicle_license_tools.resources import DEMO_API_KEY

if TYPE_CHECKING:
    from vehicle_license_recognizer.serve import ContractServer


OPERATIONS = ("status", "upload", "redrive", "reprocess", "stats", "vehicle")
REVIEW_PORT = 8780


def _stack_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """The options that name the stack; accepted before or after the command."""

    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument(
        "--stack",
        default=default(None),
        help="the stack's name (default: VLI_STACK, else vehicle-license-intake)",
    )
    parser.add_argument("--region", default=default(None), help="its AWS region (default: the SDK's)")
    parser.add_argument(
        "--endpoint-url",
        default=default(None),
        help="an AWS endpoint for a local stack (default: the SDK's; it honours AWS_ENDPOINT_URL)",
    )
    parser.add_argument(
        "--json", action="store_true", default=default(False), help="print JSON instead of text"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vehicle-license-intake", description=__doc__)
    _stack_options(parser, defaults=True)
    stack_options = argparse.ArgumentParser(add_help=False)
    _stack_options(stack_options, defaults=False)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the real pipeline offline on an embedded AWS")
    demo.add_argument(
        "--image", nargs="+", type=Path, metavar="PATH", help="your own images instead of the samples"
    )
    demo.add_argument("--samples", type=Path, default=None, help="the samples folder (default: samples/)")
    demo.add_argument("--show-personal-data", action="store_true", help="print owner and address unmasked")
    demo.add_argument("--keep", action="store_true", help="keep the emulated AWS running until Ctrl-C")
    demo.add_argument(
        "--verbose", action="store_true", help="also print the function's JSON logs and metrics"
    )

    review = commands.add_parser(
        "review", help="the review desk on 127.0.0.1, on an embedded AWS with the samples processed"
    )
    review.add_argument(
        "--port", type=int, default=REVIEW_PORT, help=f"the desk's port (default: {REVIEW_PORT})"
    )
    review.add_argument("--samples", type=Path, default=None, help="the samples folder (default: samples/)")
    review.add_argument("--verbose", action="store_true", help="also print the functions' JSON logs")

    emulator = commands.add_parser("emulator", help="serve the upstream contract emulator on 127.0.0.1")
    emulator.add_argument("--port", type=int, default=8765)
    emulator.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help="a key the emulator accepts (repeatable; default: demo key)",
    )
    emulator.add_argument("--samples", type=Path, default=None)
    emulator.add_argument(
        "--max-rps", type=float, default=2.0, help="answer 429 above this rate (0: no limit)"
    )

    serve = commands.add_parser(
        "serve", help="the offline recognizer behind the upstream's HTTP contract, on 127.0.0.1"
    )
    serve.add_argument("--port", type=int, default=8766)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    serve.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help="a key it accepts (repeatable); default: VLI_SERVE_API_KEY or the demo key",
    )
    serve.add_argument("--max-rps", type=float, default=0, help="answer 429 above this rate (0: no limit)")

    status = commands.add_parser(
        "status", parents=[stack_options], help="an upload's item, review state, and where it is"
    )
    status.add_argument(
        "key", metavar="KEY_OR_URI", help="s3://bucket/key, or a key (the upload prefix may be left out)"
    )
    status.add_argument("--show-personal-data", action="store_true", help="print owner and address unmasked")

    upload = commands.add_parser(
        "upload", parents=[stack_options], help="upload files under the upload prefix"
    )
    upload.add_argument("files", nargs="+", type=Path, metavar="FILE")
    upload.add_argument("--wait", action="store_true", help="wait for each outcome and print it")
    upload.add_argument("--timeout", type=float, default=300.0, help="seconds to wait in all (default: 300)")

    redrive = commands.add_parser(
        "redrive",
        parents=[stack_options],
        help="replay the uploads waiting in the dead-letter queue, or the failure and parking queues",
    )
    redrive.add_argument("--from", dest="source", required=True, choices=("dead-letters", "failures"))
    redrive.add_argument("--dry-run", action="store_true", help="say what would be replayed; change nothing")
    redrive.add_argument("--max", type=int, default=None, metavar="N", help="at most N messages")

    reprocess = commands.add_parser(
        "reprocess", parents=[stack_options], help="one new attempt of an upload's stored version, on purpose"
    )
    reprocess.add_argument("key", metavar="KEY_OR_URI")

    commands.add_parser(
        "stats", parents=[stack_options], help="items by status, needing review, deferred; the upstream guard"
    )

    vehicle = commands.add_parser(
        "vehicle",
        parents=[stack_options],
        help="the vehicle record of a plate, a VIN or an upload (both pages joined); --waiting: pages that wait",
    )
    vehicle.add_argument(
        "plate_or_vin",
        nargs="?",
        metavar="PLATE_OR_VIN",
        help="a plate, a VIN, or an upload (s3://… or a key)",
    )
    vehicle.add_argument(
        "--waiting", action="store_true", help="list the records that wait for a page or a plate"
    )
    vehicle.add_argument("--show-personal-data", action="store_true", help="print owner and address unmasked")

    args = parser.parse_args(argv)
    if args.command in OPERATIONS:
        from vehicle_license_tools.ops_cli import run_operation

        return run_operation(args)
    if args.command == "demo":
        return _demo(args)
    if args.command == "serve":
        return _serve(args)
    if args.command == "review":
        return _review(args)
    return _emulator(args)


def _review(args: argparse.Namespace) -> int:
    from vehicle_license_tools.demo import sample_images
    from vehicle_license_tools.local_review import run_review
    from vehicle_license_tools.resources import SAMPLES as DEFAULT_SAMPLES

    samples = args.samples or DEFAULT_SAMPLES
    run_review(sample_images(samples), port=args.port, samples=samples, verbose=args.verbose)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from vehicle_license_tools.demo import run_demo, sample_images
    from vehicle_license_tools.resources import SAMPLES as DEFAULT_SAMPLES

    samples = args.samples or DEFAULT_SAMPLES
    images = args.image or sample_images(samples)
    missing = [str(p) for p in images if not p.is_file()]
    if missing:
        print(f"not a file: {', '.join(missing)}", file=sys.stderr)
        return 2
    report = run_demo(
        images,
        samples=samples,
        show_personal_data=args.show_personal_data,
        keep=args.keep,
        verbose=args.verbose,
    )
    failed = [
        u["file"]
        for u in report.uploads
        if (u["item"] or {}).get("status") in (None, "FAILED", "PROCESSING") and u["delivered"]
    ]
    return 1 if failed else 0


def _serve(args: argparse.Namespace) -> int:
    from vehicle_license_recognizer import LocalRecognizer, missing_dependencies
    from vehicle_license_recognizer.serve import ContractServer

    missing = missing_dependencies()
    if missing:
        print(
            f"the offline recognizer's packages are missing ({', '.join(missing)}): "
            "pip install 'vehicle-license-intake[recognizer]'",
            file=sys.stderr,
        )
        return 2
    key = os.environ.get("VLI_SERVE_API_KEY")
    keys = args.api_keys or ([key] if key else [DEMO_API_KEY])
    server = ContractServer(
        LocalRecognizer(), keys, host=args.host, port=args.port, max_rps=args.max_rps or None
    )
    return _serve_until_interrupted(server, "offline recognizer (RapidOCR, on this machine)")


def _emulator(args: argparse.Namespace) -> int:
    from vehicle_license_tools.demo import choose_recognizer
    from vehicle_license_tools.emulator import UpstreamEmulator
    from vehicle_license_tools.resources import SAMPLES

    reader = choose_recognizer(args.samples or SAMPLES)
    keys = args.api_keys or [DEMO_API_KEY]
    server = UpstreamEmulator(reader, keys, port=args.port, max_rps=args.max_rps or None)
    return _serve_until_interrupted(server, reader.name)


def _serve_until_interrupted(server: ContractServer, answered_by: str) -> int:
    with server:
        print(f"upstream contract at {server.url} (answered by: {answered_by}); Ctrl-C stops it", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0


if __name__ == "__main__":
    sys.exit(main())
