"""`vehicle-license-intake review` (`make review`): the desk in one command, and an upload made with
an ordinary S3 client while it runs appears in its queue."""

from __future__ import annotations

import io
import time

import pytest
import requests

from conftest import jpeg
from vehicle_license_tools.local_review import LocalReview, run_review
from vehicle_license_tools.resources import SAMPLES

pytestmark = pytest.mark.slow


def test_an_upload_made_while_the_desk_runs_appears_in_its_queue() -> None:
    seen: dict[str, object] = {}

    def reviewer_session(review: LocalReview) -> None:
        import boto3

        page = requests.get(review.url, timeout=10)
        seen["page"] = page.status_code, page.headers.get("Content-Security-Policy", "")
        s3 = boto3.client("s3", endpoint_url=review.endpoint, region_name="us-east-1")
        key = f"{review.deployed.upload_prefix}from-a-client.jpg"
        s3.put_object(Bucket=review.deployed.bucket, Key=key, Body=jpeg("a photo of a street"))
        cognito = boto3.client("cognito-idp", endpoint_url=review.endpoint, region_name="us-east-1")
        token = cognito.initiate_auth(
            AuthFlow="USER_PASSWORD_AUTH",
            ClientId=review.deployed.desk_client_id,
            AuthParameters={"USERNAME": "reviewer1", "PASSWORD": review.passwords["reviewer1"]},
        )["AuthenticationResult"]["AccessToken"]
        headers = {"Authorization": f"Bearer {token}"}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            queue = requests.get(f"{review.url}api/queue", headers=headers, timeout=10).json()
            keys = [item["object_key"] for item in queue["items"]]
            if key in keys:
                seen["queue"] = queue
                return
            time.sleep(0.5)
        seen["queue"] = queue

    out = io.StringIO()
    review = run_review([], port=0, samples=SAMPLES, out=out, until=reviewer_session)

    printed = out.getvalue()
    assert review.url in printed and "reviewer1 / " in printed and "aws --endpoint-url" in printed
    assert seen["page"][0] == 200 and "default-src 'none'" in seen["page"][1]  # type: ignore[index]
    queue = seen["queue"]
    assert isinstance(queue, dict)
    keys = [item["object_key"] for item in queue["items"]]
    assert "uploads/from-a-client.jpg" in keys, printed
    assert queue["counts"]["UNRECOGNIZED"] == 1
