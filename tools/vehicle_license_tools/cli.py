"""The `vehicle-license-intake` command."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vehicle_license_tools.emulator import LicenseReader


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vehicle-license-intake", description=__doc__)
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

    args = parser.parse_args(argv)
    if args.command == "demo":
        return _demo(args)
    if args.command == "serve":
        return _serve(args)
    return _emulator(args)


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
    try:
        from vehicle_license_recognizer import LocalRecognizer
    except ImportError:
        print(
            "the offline recognizer is not installed: pip install 'vehicle-license-intake[recognizer]'",
            file=sys.stderr,
        )
        return 2
    key = os.environ.get("VLI_SERVE_API_KEY")
    return _serve_contract(LocalRecognizer(), args, default_keys=[key] if key else None, host=args.host)


def _emulator(args: argparse.Namespace) -> int:
    from vehicle_license_tools.demo import choose_recognizer
    from vehicle_license_tools.resources import SAMPLES as DEFAULT_SAMPLES

    return _serve_contract(choose_recognizer(args.samples or DEFAULT_SAMPLES), args)


def _serve_contract(
    recognizer: LicenseReader,
    args: argparse.Namespace,
    default_keys: list[str] | None = None,
    host: str = "127.0.0.1",
) -> int:
    """The upstream's HTTP contract in front of `recognizer`, until Ctrl-C."""
    from vehicle_license_tools.demo import DEMO_API_KEY
    from vehicle_license_tools.emulator import UpstreamEmulator

    keys = args.api_keys or default_keys or [DEMO_API_KEY]
    with UpstreamEmulator(
        recognizer, keys, host=host, port=args.port, max_rps=args.max_rps or None
    ) as server:
        print(
            f"upstream contract at {server.url} (answered by: {recognizer.name}); Ctrl-C stops it", flush=True
        )
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0


if __name__ == "__main__":
    sys.exit(main())
