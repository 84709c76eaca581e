"""The review API's configuration, parsed once at start-up like the intake function's."""

from __future__ import annotations

from dataclasses import dataclass

from vehicle_license_intake.config import env_setting, load_from_env, positive, text


@dataclass(frozen=True)
class ReviewSettings:
    results_table_name: str
    review_trail_table_name: str
    cognito_user_pool_id: str
    cognito_client_id: str
    event_bus_name: str = env_setting("", text)
    reviewers_group: str = env_setting("reviewers", text)
    # How long a claim holds an upload for one reviewer; it is renewed by claiming again.
    review_claim_seconds: int = env_setting(900, positive(int))
    # How long the image's presigned URL works.
    image_url_seconds: int = env_setting(300, positive(int))
    cognito_region: str = env_setting("", text)
    # Where the page calls Cognito (empty: the region's public endpoint). The local desk sets it.
    cognito_endpoint_url: str = env_setting("", text)
    # The desk's origin when the page is served elsewhere than the API (CORS is the API's).
    desk_origin: str = env_setting("", text)
    # The vehicle records (SPEC §12) the desk shows beside an upload (empty: no vehicle panel).
    vehicle_table_name: str = env_setting("", text)

    @classmethod
    def from_env(cls) -> ReviewSettings:
        return load_from_env(cls)
