"""An in-memory ObjectSource: object versions by key, with the local checks of the S3 adapter
(vehicle_license_intake.objects.ObjectStore) from the same pure functions."""

from __future__ import annotations

from fakes.journal import Faults, Journal
from vehicle_license_intake.events import Upload
from vehicle_license_intake.image_checks import SNIFF_BYTES, ImageRejected, check_format, check_size
from vehicle_license_intake.ports import ImagePayload

DEFAULT_MAX_BYTES = 10 * 1024 * 1024


class InMemoryObjects:
    def __init__(self, journal: Journal | None = None, max_image_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.bodies: dict[tuple[str, str | None], bytes] = {}
        self.journal = journal or Journal()
        self.faults = Faults()
        self.max_image_bytes = max_image_bytes

    def put(self, upload: Upload, body: bytes) -> None:
        self.bodies[(upload.image_uri, upload.version_id)] = body

    def payload_for(self, upload: Upload, input_type: str) -> ImagePayload:
        self.journal.note("objects.payload_for")
        self.faults.raise_if_planned("payload_for")
        body = self.bodies.get((upload.image_uri, upload.version_id))
        if body is None:
            raise ImageRejected("OBJECT_MISSING", "the object version in the event no longer exists")
        check_size(len(body), self.max_image_bytes)
        check_format(body[:SNIFF_BYTES])
        if input_type == "url":
            return ImagePayload("url", url=f"memory://{upload.image_uri}?versionId={upload.version_id}")
        return ImagePayload("base64", image=body)
