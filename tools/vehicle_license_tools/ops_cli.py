"""The operations commands as an operator reads them: one line per thing, or JSON (`--json`).
Exit codes: 0 done, 1 not done (an error said on stderr, an upload that failed or timed out, a
message left in its queue), 130 interrupted (nothing lost: run the command again)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import Any

from vehicle_license_tools.ops import (
    Aws,
    OperationError,
    Operations,
    UploadResult,
    default_stack_name,
    friendly_errors,
)
from vehicle_license_tools.redrive import LEFT_IN_QUEUE, MessageReport, Redrive, RedriveReport

INTERRUPTED = 130


def run_operation(args: argparse.Namespace) -> int:
    aws = Aws(region=args.region, endpoint_url=args.endpoint_url)
    try:
        ops = Operations(aws, args.stack or default_stack_name())
        return _COMMANDS[args.command](ops, args)
    except OperationError as error:
        _error(str(error))
        return 1
    except KeyboardInterrupt:
        _error("interrupted: nothing is lost (messages not finished are back in their queue); run it again")
        return INTERRUPTED
    except Exception as error:
        friendly = friendly_errors(error, aws)
        if friendly is None:
            raise
        _error(str(friendly))
        return 1


def _status(ops: Operations, args: argparse.Namespace) -> int:
    found = ops.status(args.key, show_personal_data=args.show_personal_data)
    if args.json:
        _print_json(found)
        return 0
    item = found["item"]
    _say(found["image_uri"])
    if item is None:
        _say("  no item: not processed yet (or its notification was not delivered)")
    else:
        _say(f"  status        {item.get('status')}" + _by(item))
        for name in (
            "version_id",
            "attempts",
            "processed_at",
            "retry_after",
            "deferred_reason",
            "request_id",
        ):
            if item.get(name) is not None:
                _say(f"  {name:<13} {item[name]}")
        error = item.get("error")
        if isinstance(error, Mapping):
            _say(f"  error         {error.get('code')} {error.get('status')}: {error.get('message', '')}")
        if item.get("status") == "SUCCEEDED":
            reasons = item.get("review_reasons") or []
            _say(f"  needs_review  {'yes: ' + ', '.join(reasons) if item.get('needs_review') else 'no'}")
            normalized = item.get("normalized") or {}
            _say(
                f"  license       plate {normalized.get('plate_number') or '-'}   VIN {normalized.get('vin') or '-'}"
                f"   owner {normalized.get('owner') or '-'}   address {normalized.get('address') or '-'}"
            )
        review = item.get("review")
        if isinstance(review, Mapping):
            who = review.get("claimed_by") or review.get("decided_by")
            _say(f"  review        {review.get('status')}" + (f" ({who})" if who else ""))
    for queue, messages in found["queues"].items():
        listed = "; ".join(_queue_line(m) for m in messages) if messages else "no"
        _say(f"  {queue:<18} {listed}")
    versions = found["versions"]
    if versions:
        latest = versions[0]
        which = "the latest" if found["item_version_is_latest"] else "not the latest"
        _say(
            f"  S3 versions   {len(versions)} (latest {latest['version_id']}, {latest['size']} bytes,"
            f" {latest['last_modified']}); the item's version is {which}"
        )
    else:
        _say("  S3 versions   none (the object is gone)")
    return 0


def _upload(ops: Operations, args: argparse.Namespace) -> int:
    if args.wait and not args.json:
        _progress(
            f"uploaded {len(args.files)} file(s) to s3://{ops.stack.bucket}/{ops.stack.prefix}; waiting..."
        )

    def show(result: UploadResult) -> None:
        if not args.json:
            _say(_upload_line(result))

    results = ops.upload(args.files, wait=args.wait, timeout=args.timeout, on_result=show)
    if args.json:
        _print_json(
            [
                {
                    "file": r.file,
                    "image_uri": r.image_uri,
                    "version_id": r.version_id,
                    "status": r.status,
                    "needs_review": (r.item or {}).get("needs_review"),
                    "review_reasons": (r.item or {}).get("review_reasons"),
                    "error": (r.item or {}).get("error"),
                    "attempts": (r.item or {}).get("attempts"),
                }
                for r in results
            ]
        )
    return 1 if any(r.status in ("FAILED", "TIMED_OUT") for r in results) else 0


def _redrive(ops: Operations, args: argparse.Namespace) -> int:
    done, total = 0, 0

    def progress(entry: MessageReport, stage: str) -> None:
        nonlocal done
        if stage != "done":
            return
        done += 1
        line = f"[{done}/{max(total, done)}] {_redrive_line(entry)}"
        if args.json:
            _progress(line)
        else:
            _say(line)

    redrive = Redrive(ops, args.source, dry_run=args.dry_run, max_messages=args.max, progress=progress)
    waiting = redrive.waiting()
    total = waiting if args.max is None else min(waiting, args.max)
    if not waiting and not args.json:
        _say(f"nothing to redrive: the {' and '.join(q[0] for q in redrive.queues())} are empty")
    report = redrive.run()
    if args.json:
        _print_json(report.as_dict())
    elif report.messages:
        _say(_redrive_summary(report))
    return 1 if any(not m.deleted for m in report.messages) and not args.dry_run else 0


def _reprocess(ops: Operations, args: argparse.Namespace) -> int:
    done = ops.reprocess(args.key)
    if args.json:
        _print_json(done)
    else:
        _say(
            f"{done['image_uri']}: was {done['previous_status']}; a new attempt is on its way "
            f"({done['sent_to']}); `status` shows its outcome"
        )
    return 0


def _stats(ops: Operations, args: argparse.Namespace) -> int:
    stats = ops.stats()
    if args.json:
        _print_json(stats)
        return 0
    by_status = "   ".join(f"{k} {v}" for k, v in stats["by_status"].items()) or "none"
    _say(f"items         {stats['items']} (a full table scan: fine for now, slow on a large table)")
    _say(f"by status     {by_status}")
    _say(f"needs review  {stats['needs_review']}")
    _say(f"deferred      {stats['deferred']}")
    if stats["review"]:
        _say("review        " + "   ".join(f"{k} {v}" for k, v in stats["review"].items()))
    guard = stats["guard"]
    if guard is None:
        _say("upstream      no control table: no fleet-wide quota or breaker")
    else:
        breaker = guard["breaker"]
        if guard.get("breaker_open_until"):
            breaker += f" until {guard['breaker_open_until']}"
        _say(f"breaker       {breaker} ({guard['consecutive_failures']} consecutive failures)")
        if guard["daily_quota"]:
            _say(
                f"quota today   {guard['quota_used']} of {guard['daily_quota']} upstream calls"
                f" ({guard['quota_day']}, UTC+8)"
            )
        else:
            _say("quota today   not counted (no daily quota)")
    return 0


def _vehicle(ops: Operations, args: argparse.Namespace) -> int:
    if args.waiting:
        waiting = ops.vehicles_waiting()
        if args.json:
            _print_json(waiting)
            return 0
        for waiting_for, records in waiting.items():
            label = (
                "a plate (no plate could be read)" if waiting_for == "plate" else f"the {waiting_for} page"
            )
            _say(f"waiting for {label}: {len(records)}")
            for entry in records:
                pages = ", ".join(f"{page} {uri}" for page, uri in entry["pages"].items())
                reasons = f"  {', '.join(entry['review_reasons'])}" if entry["review_reasons"] else ""
                _say(f"  {entry['plate'] or '-':<10} {pages}  since {entry['since']}{reasons}")
        return 0
    if not args.plate_or_vin:
        _error("vehicle: give a plate, a VIN or an upload, or --waiting")
        return 1
    records = ops.vehicle(args.plate_or_vin, show_personal_data=args.show_personal_data)
    if args.json:
        _print_json(records)
        return 0
    for record in records:
        for line in vehicle_lines(record):
            _say(line)
    return 0


def vehicle_lines(record: Mapping[str, Any], *, indent: str = "") -> list[str]:
    """A vehicle record in lines: complete or what it waits for, its review reasons, the upload
    of each page, and each value with the page and upload it came from."""
    state = "complete" if record["complete"] else f"waiting for the {record.get('waiting_for') or '-'} page"
    lines = [f"{indent}{record['plate']}  {state}   vehicle_id {record.get('vehicle_id') or '-'}"]
    reasons = record.get("review_reasons") or []
    lines.append(f"{indent}  review reasons  {', '.join(reasons) if reasons else 'none'}")
    for page in ("main", "secondary"):
        slot = (record.get("pages") or {}).get(page)
        if slot is None:
            lines.append(f"{indent}  {page + ' page':<15} -")
            continue
        how = (
            f"reviewed {slot.get('decided_at')}"
            if slot.get("reviewed")
            else f"read {slot.get('processed_at')}"
        )
        lines.append(f"{indent}  {page + ' page':<15} {slot['image_uri']}  ({how})")
    if record.get("complete"):
        published = "published" if record.get("complete_published") else "not yet published"
        lines.append(
            f"{indent}  completed       {record.get('completed_at')} (Vehicle Record Complete {published})"
        )
    fields = record.get("fields") or {}
    if fields:
        lines.append(f"{indent}  values (from)")
    for name, field in fields.items():
        source = str(field["image_uri"]).rsplit("/", 1)[-1]
        marker = ", reviewed" if field.get("reviewed") else ""
        lines.append(f"{indent}    {name:<29} {field['value']}   ({field['page']} page: {source}{marker})")
    return lines


_COMMANDS = {
    "status": _status,
    "upload": _upload,
    "redrive": _redrive,
    "reprocess": _reprocess,
    "stats": _stats,
    "vehicle": _vehicle,
}


def _by(item: Mapping[str, Any]) -> str:
    return f" (recognized by {item['recognized_by']})" if item.get("recognized_by") else ""


def _upload_line(result: UploadResult) -> str:
    item = result.item or {}
    line = f"{result.file}  {result.image_uri}  {result.status}"
    if result.status == "SUCCEEDED":
        reasons = item.get("review_reasons") or []
        line += f"  needs review: {', '.join(reasons)}" if item.get("needs_review") else "  clean"
    elif isinstance(item.get("error"), Mapping):
        line += f"  {item['error'].get('code')} {item['error'].get('status')}"
    if item.get("retry_after"):
        line += f"  retry after {item['retry_after']}"
    if result.status == "TIMED_OUT":
        line += "  (no outcome yet: `status` shows it later)"
    return line


def _queue_line(message: Mapping[str, Any]) -> str:
    error = message.get("error") or {}
    parts = [str(message.get("status") or message.get("condition") or "message")]
    if error:
        parts.append(f"{error.get('code')} {error.get('status')}")
    if message.get("failed_at"):
        parts.append(f"since {message['failed_at']}")
    return " ".join(parts) + f" (message {message.get('message_id')})"


def _redrive_line(entry: MessageReport) -> str:
    uris = ", ".join(entry.image_uris) or "-"
    kept = " (left in the queue)" if entry.outcome in LEFT_IN_QUEUE else ""
    detail = f": {entry.detail}" if entry.detail else ""
    return f"{entry.outcome.value}{kept}  {uris}  [{entry.queue} {entry.message_id}]{detail}"


def _redrive_summary(report: RedriveReport) -> str:
    counts = ", ".join(f"{count} {outcome}" for outcome, count in report.counts().items())
    deleted = sum(m.deleted for m in report.messages)
    verb = "dry run, nothing changed" if report.dry_run else f"{deleted} message(s) deleted"
    return f"{len(report.messages)} message(s): {counts} ({verb})"


def _say(text: str) -> None:
    print(text, flush=True)


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _error(text: str) -> None:
    print(f"vehicle-license-intake: {text}", file=sys.stderr, flush=True)


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str), flush=True)
