"""Reading the uploaded object version from S3, with the local checks that need its bytes."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from vehicle_license_intake.events import Upload
from vehicle_license_intake.image_checks import SNIFF_BYTES, ImageRejected, check_format, check_size
from vehicle_license_intake.ports import ImagePayload

PRESIGNED_URL_SECONDS = 300
_MISSING_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NotFound", "InvalidArgument"})


class ObjectStore:
    """The S3 adapter of the ObjectSource port (ports.py)."""

    def __init__(self, s3_client: Any, max_image_bytes: int) -> None:
        self._s3 = s3_client
        self._max_bytes = max_image_bytes

    def payload_for(self, upload: Upload, input_type: str) -> ImagePayload:
        """Check the object and build what the upstream is sent; ImageRejected if it fails."""
        # The event's size is S3's own: a too-large object is rejected without reading it.
        if upload.size > self._max_bytes:
            check_size(upload.size, self._max_bytes)
        if input_type == "url":
            size, head = self._read(upload, byte_range=f"bytes=0-{SNIFF_BYTES - 1}")
            check_size(size, self._max_bytes)
            check_format(head)
            url = self._s3.generate_presigned_url(
                "get_object", Params=self._location(upload), ExpiresIn=PRESIGNED_URL_SECONDS
            )
            return ImagePayload("url", url=url)
        size, image = self._read(upload)
        check_size(size, self._max_bytes)
        check_format(image[:SNIFF_BYTES])
        return ImagePayload("base64", image=image)

    def _location(self, upload: Upload) -> dict[str, str]:
        location = {"Bucket": upload.bucket, "Key": upload.key}
        if upload.version_id:
            location["VersionId"] = upload.version_id
        return location

    def _read(self, upload: Upload, byte_range: str | None = None) -> tuple[int, bytes | bytearray]:
        """(the object's full size, its bytes or the requested range)."""
        extra = {"Range": byte_range} if byte_range else {}
        try:
            response = self._s3.get_object(**self._location(upload), **extra)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code == "InvalidRange":  # an empty object has no byte 0
                return 0, b""
            if code in _MISSING_CODES:
                raise ImageRejected(
                    "OBJECT_MISSING", "the object version in the event no longer exists"
                ) from None
            raise
        content_range = str(response.get("ContentRange") or "")
        size = int(content_range.rsplit("/", 1)[1]) if "/" in content_range else response["ContentLength"]
        if size > self._max_bytes:
            response["Body"].close()
            return size, b""
        if byte_range:
            return size, response["Body"].read()
        return size, _read_into_buffer(response["Body"], int(response["ContentLength"]))


def _read_into_buffer(body: Any, length: int) -> bytearray:
    """Stream the object into one buffer of its size (no list of chunks joined at the end)."""
    buffer = bytearray(length)
    view, position = memoryview(buffer), 0
    for chunk in body.iter_chunks(chunk_size=256 * 1024):
        view[position : position + len(chunk)] = chunk
        position += len(chunk)
    view.release()
    if position != length:  # the object changed under us: keep what was read, checks follow
        del buffer[position:]
    return buffer
