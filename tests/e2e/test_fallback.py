"""OCR_FALLBACK=local (SPEC §9): while the upstream is unavailable the offline recognizer answers,
and the item says who did."""

from __future__ import annotations

import json

from conftest import Intake
from vehicle_license_tools.emulator import Reply
from vehicle_license_tools.resources import SAMPLES


def test_while_the_upstream_fails_the_offline_recognizer_answers_and_the_item_says_so(intake: Intake) -> None:
    intake.configure(OCR_FALLBACK="local", OCR_MAX_ATTEMPTS="2")
    image = (SAMPLES / "main-page.jpg").read_bytes()
    intake.upstream.script(image, Reply.error(5020), Reply.html_502())
    truth = json.loads((SAMPLES / "main-page.json").read_text(encoding="utf-8"))["fields"]

    intake.upload("uploads/fallback.jpg", image)

    item = intake.item("uploads/fallback.jpg")
    assert item is not None and item["status"] == "SUCCEEDED"
    assert item["recognized_by"] == "local"
    assert item["license"]["plate_number"] == truth["plate_number"]
    assert intake.upstream.calls_for(image) == 2, "the upstream was tried first, with its retries"


def test_an_answer_the_upstream_did_give_is_never_replaced(intake: Intake) -> None:
    intake.configure(OCR_FALLBACK="local")
    image = (SAMPLES / "main-page.jpg").read_bytes()
    intake.upstream.script(image, Reply.error(5021))

    intake.upload("uploads/not-fallback.jpg", image)

    item = intake.item("uploads/not-fallback.jpg")
    assert item is not None and item["status"] == "UNRECOGNIZED" and item["error"]["source"] == "upstream"
