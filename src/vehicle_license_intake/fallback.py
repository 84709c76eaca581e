"""OCR_FALLBACK=local (SPEC §9): while the upstream is unavailable — held back by the fleet's
quota or breaker, or failing after its retries — the offline recognizer answers instead, and the
item's `recognized_by` says so. An upload that could wait in the intake queue waits a few seconds
rather than take the offline answer while the breaker is only suspect (one call failed, another
probes). An answer the upstream did give (5021, 4015...) is never replaced."""

from __future__ import annotations

from vehicle_license_intake.observability import logger
from vehicle_license_intake.ports import Deadline, ImagePayload, Recognition, Recognizer
from vehicle_license_intake.upstream.errors import UpstreamError
from vehicle_license_intake.upstream.guard import UpstreamHeld


class FallbackRecognizer:
    def __init__(self, primary: Recognizer, fallback: Recognizer) -> None:
        self._primary = primary
        self._fallback = fallback
        self.source = primary.source

    def recognize(self, payload: ImagePayload, deadline: Deadline, *, may_defer: bool = False) -> Recognition:
        # The upstream's request body consumes the image: keep it for the offline recognizer.
        kept = ImagePayload(
            payload.input_type,
            image=bytes(payload.image) if payload.image is not None else None,
            url=payload.url,
        )
        try:
            # With a fallback there is no reason to call an upstream that is known to be down.
            return self._primary.recognize(payload, deadline, may_defer=True)
        except UpstreamHeld as held:
            if held.suspect and may_defer:
                raise  # one call failed and another is finding out: a few seconds' wait, not a fallback
            logger.info("upstream held back: the offline recognizer answers", extra={"reason": held.reason})
        except UpstreamError as failed:
            if not failed.transient:
                raise
            logger.info(
                "upstream unavailable: the offline recognizer answers", extra={"code": str(failed.code)}
            )
        return self._fallback.recognize(kept, deadline, may_defer=may_defer)
