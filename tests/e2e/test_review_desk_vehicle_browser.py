"""The review desk's "Vehicle record" panel (SPEC §12) in a real browser (Debian's Chromium, driven
by Playwright) against the desk as `make review` serves it: two uploads, one per page of a
license, read by the intake function and joined by the records function; the panel of each upload
shows the record of its plate, its two pages and the upload each came from."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import LICENSE, jpeg
from vehicle_license_tools import aws, stack
from vehicle_license_tools.browser import CHROMIUM, launch_chromium
from vehicle_license_tools.delivery import QueueConsumer
from vehicle_license_tools.demo import quiet_function, restored_environment, use_records_environment
from vehicle_license_tools.emulator import GroundTruthRecognizer, UpstreamEmulator
from vehicle_license_tools.resources import DEMO_API_KEY
from vehicle_license_tools.review_desk import LocalDesk
from vehicle_records_stack import main_page, secondary_page

pytestmark = pytest.mark.slow
PASSWORD = "Aa1!desk-vehicle-one"
MARKUP = '<img src="x" id="injected" onerror="document.title=1">'


@pytest.fixture(scope="module")
def desk_url() -> Iterator[str]:
    recognizer = GroundTruthRecognizer()
    uploads = {
        "main.jpg": main_page(owner=""),  # MISSING:owner: it waits for a review
        "secondary.jpg": secondary_page(),
        "lonely.jpg": secondary_page(plate_number="沪A99999", remarks=MARKUP),
    }
    with restored_environment():
        quiet_function(verbose=False)
        with aws.emulated_aws() as endpoint, UpstreamEmulator(recognizer, [DEMO_API_KEY]) as upstream:
            session = aws.session()
            deployed = stack.deploy_with_upstream(
                session, stack_name="vli-desk-vehicle", upstream_url=upstream.url, api_key=DEMO_API_KEY
            )
            from vehicle_license_intake import handler
            from vehicle_license_records import handler as records_handler

            stack.use_function_environment(deployed)
            use_records_environment(deployed)
            s3 = session.client("s3")
            for name, values in uploads.items():
                body = jpeg(name)
                recognizer.add(body, values)
                s3.put_object(Bucket=deployed.bucket, Key=f"{deployed.upload_prefix}{name}", Body=body)
            sqs = session.client("sqs")
            QueueConsumer.for_stack(deployed, sqs, handler.lambda_handler).drain()
            QueueConsumer.for_vehicle_events(deployed, sqs, records_handler.lambda_handler).drain()
            stack.add_reviewer(session, deployed, "reviewer1", PASSWORD)
            with LocalDesk(deployed, endpoint) as desk:
                yield desk.url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium", pytrace=False)
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


def logged_in(browser: Any, url: str) -> Any:
    page = browser.new_page(viewport={"width": 1400, "height": 950})
    page.refused = []
    page.on("console", lambda m: page.refused.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(url)
    page.fill("#username", "reviewer1")
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_selector("#queue li[data-id]")
    return page


def test_the_upload_shows_the_vehicle_record_of_its_plate_and_opens_the_other_page(
    browser: Any, desk_url: str
) -> None:
    page = logged_in(browser, desk_url)
    page.click("#queue li:has-text('main.jpg')")
    page.wait_for_selector(f"#vehicle-state:has-text('{LICENSE['plate_number']}: complete since')")

    rows = page.locator("#vehicle-pages tbody tr")
    assert rows.count() == 2
    assert "uploads/main.jpg (this upload)" in rows.nth(0).inner_text()
    assert "uploads/secondary.jpg" in rows.nth(1).inner_text() and "as read" in rows.nth(1).inner_text()
    assert page.inner_text("#vehicle-reasons") == "no conflict between the pages"

    rows.nth(1).locator("button").click()  # the secondary page's upload
    page.wait_for_selector("#upload-key:has-text('uploads/secondary.jpg')")
    page.wait_for_selector("#vehicle-pages tbody tr:has-text('uploads/secondary.jpg (this upload)')")
    assert page.refused == [], "the panel runs within the page's Content-Security-Policy"
    page.close()


def test_a_one_page_record_says_which_page_it_waits_for_and_markup_stays_text(
    browser: Any, desk_url: str
) -> None:
    page = logged_in(browser, desk_url)
    page.click("#queue li:has-text('lonely.jpg')")
    page.wait_for_selector("#vehicle-state:has-text('沪A99999: waiting for the main page')")
    assert "not yet uploaded" in page.locator("#vehicle-pages tbody tr").nth(0).inner_text()
    assert page.locator("#injected").count() == 0 and page.title() != "1"
    page.close()
