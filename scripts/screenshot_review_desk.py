"""Take the README's screenshot of the review desk: `make review` as a reviewer sees it, in
Debian's Chromium, with the shipped samples read by the offline recognizer (the boxes are its).

    python scripts/screenshot_review_desk.py [--output docs/images/review-desk.png]
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from playwright.sync_api import sync_playwright

from vehicle_license_tools.browser import launch_chromium
from vehicle_license_tools.demo import sample_images
from vehicle_license_tools.local_review import LocalReview, run_review
from vehicle_license_tools.resources import SAMPLES

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "images" / "review-desk.png")
    parser.add_argument("--upload", default="main-page.jpg", help="the sample shown")
    args = parser.parse_args()

    def shoot(review: LocalReview) -> None:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_page(viewport={"width": 1400, "height": 980})
            page.goto(review.url)
            page.fill("#username", "reviewer1")
            page.fill("#password", review.passwords["reviewer1"])
            page.press("#password", "Enter")
            page.click(f"#queue li:has-text('{args.upload}')")
            page.wait_for_selector(f"#upload-key:has-text('{args.upload}')")
            page.click("#claim")
            page.wait_for_selector("#fields input[name=vin]:enabled")
            page.focus("#fields input[name=license_issuing_authority]")
            page.wait_for_timeout(500)
            page.screenshot(path=str(args.output))
            browser.close()

    run_review(sample_images(SAMPLES), port=0, samples=SAMPLES, out=io.StringIO(), until=shoot)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
