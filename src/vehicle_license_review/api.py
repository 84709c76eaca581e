"""The review desk's HTTP API (API Gateway HTTP API, payload format 2.0) and its page.

Every `/api/` route needs a reviewer: API Gateway's JWT authorizer has checked the Cognito access
token (signature, issuer, audience, expiry) and passes its claims; this module refuses a request
without them (401) or whose user is not in the reviewers group (403). The page itself (`/`,
`/desk.js`, `/desk.css`, `/config.json`) is public: it holds no data, and logs in with Cognito.

Routes:
    GET  /api/me                           who is calling
    GET  /api/queue?kind=&reason=&limit=&cursor=   uploads waiting, oldest first, counts per kind
    GET  /api/uploads/{id}                 one upload: fields, reasons per field, boxes, image URL, trail
    POST /api/uploads/{id}/claim           {identity}               hold it (a lease)
    POST /api/uploads/{id}/release         {identity}
    POST /api/uploads/{id}/decision        {identity, action: approve|correct|enter|reject, license?, reason?, note?}
    POST /api/validate                     {license}                the rules on the reviewer's values
    GET  /api/vehicles/{plate_or_vin}      the vehicle records (SPEC §12) of a plate or a VIN

`{id}` is the upload's image_uri in URL-safe base64. Answers are JSON; errors are
`{"error": CODE, "message": text}` and never echo a submitted value.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import unquote, urlsplit

from aws_lambda_powertools.metrics import MetricUnit

from vehicle_license_intake.domain.review import Action, InvalidDecision, QueueKind
from vehicle_license_intake.domain.vehicle import record_view
from vehicle_license_intake.notifications import EventsNotPublished
from vehicle_license_intake.observability import logger, metrics
from vehicle_license_review.config import ReviewSettings
from vehicle_license_review.desk import NotFound, Refused, ReviewDesk, validate
from vehicle_license_review.store import InvalidCursor

MAX_BODY_BYTES = 64 * 1024
MAX_QUEUE_PAGE = 100
STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/desk.js": ("desk.js", "text/javascript; charset=utf-8"),
    "/desk.css": ("desk.css", "text/css; charset=utf-8"),
}
_UPLOAD_ROUTE = re.compile(r"^/api/uploads/([A-Za-z0-9_-]{1,2800})(?:/(claim|release|decision))?$")
_VEHICLE_ROUTE = re.compile(r"^/api/vehicles/([^/]{1,400})$")
# A plate (letters, digits, its CJK characters, separators) or a VIN; nothing else is looked up.
_PLATE_OR_VIN = re.compile(r"^[\w·•・.\- ]{2,32}$")


@dataclass(frozen=True)
class Reviewer:
    username: str
    groups: tuple[str, ...]


class HttpError(Exception):
    def __init__(self, status: int, code: str, message: str, extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.extra = dict(extra or {})


def upload_id(image_uri: str) -> str:
    return base64.urlsafe_b64encode(image_uri.encode()).decode().rstrip("=")


def image_uri_of(upload: str) -> str:
    try:
        uri = base64.urlsafe_b64decode(upload + "=" * (-len(upload) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise HttpError(404, "NOT_FOUND", "no such upload") from None
    if not uri.startswith("s3://"):
        raise HttpError(404, "NOT_FOUND", "no such upload")
    return uri


class ReviewApi:
    def __init__(
        self,
        settings: ReviewSettings,
        desk: ReviewDesk,
        *,
        image_url: Callable[[Mapping[str, Any]], str | None],
        s3_origin: str,
        vehicles: Callable[[str], list[dict[str, Any]]] | None = None,
    ) -> None:
        self._settings = settings
        self._desk = desk
        self._image_url = image_url
        self._s3_origin = s3_origin
        # The vehicle records of a plate or a VIN (None: the stack has no vehicle table).
        self._vehicles = vehicles

    # -- the entry --------------------------------------------------------------------------
    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        http = (event.get("requestContext") or {}).get("http") or {}
        method = str(http.get("method", "GET")).upper()
        path = str(event.get("rawPath") or http.get("path") or "/")
        try:
            if path in STATIC or path == "/config.json":
                if method != "GET":
                    raise HttpError(405, "METHOD_NOT_ALLOWED", "only GET")
                return self._static(path)
            if not path.startswith("/api/"):
                raise HttpError(404, "NOT_FOUND", "no such route")
            reviewer = self._reviewer(event)
            return _json(200, self._route(method, path, event, reviewer))
        except HttpError as error:
            if error.status >= 400:
                metrics.add_metric(name="ReviewRequestsRefused", unit=MetricUnit.Count, value=1)
            logger.info("review request refused", extra={"status": error.status, "code": error.code})
            return _json(error.status, {"error": error.code, "message": str(error), **error.extra})

    def _route(self, method: str, path: str, event: Mapping[str, Any], reviewer: Reviewer) -> Any:
        if path == "/api/me" and method == "GET":
            return {"username": reviewer.username, "groups": list(reviewer.groups)}
        if path == "/api/queue" and method == "GET":
            return self._queue(event.get("queryStringParameters") or {})
        if path == "/api/validate" and method == "POST":
            body = _body(event)
            try:
                checked = validate(body.get("license") or {}, self._desk.today())
            except InvalidDecision as error:
                raise HttpError(400, "INVALID", str(error)) from None
            return {
                "normalized": checked.normalized,
                "review_reasons": checked.review_reasons,
                "field_reasons": checked.field_reasons,
            }
        vehicle = _VEHICLE_ROUTE.match(path)
        if vehicle:
            if method != "GET":
                raise HttpError(405, "METHOD_NOT_ALLOWED", "only GET")
            return self._vehicle(unquote(vehicle.group(1)))
        match = _UPLOAD_ROUTE.match(path)
        if not match:
            raise HttpError(404, "NOT_FOUND", "no such route")
        image_uri, verb = image_uri_of(match.group(1)), match.group(2)
        if verb is None:
            if method != "GET":
                raise HttpError(405, "METHOD_NOT_ALLOWED", "only GET")
            return self._upload(image_uri)
        if method != "POST":
            raise HttpError(405, "METHOD_NOT_ALLOWED", "only POST")
        body = _body(event)
        identity = body.get("identity")
        if not isinstance(identity, str) or not identity or len(identity) > 2048:
            raise HttpError(400, "INVALID", "identity (the upload as you saw it) is required")
        return self._act(image_uri, identity, verb, body, reviewer)

    def _act(
        self, image_uri: str, identity: str, verb: str, body: Mapping[str, Any], reviewer: Reviewer
    ) -> Any:
        try:
            if verb == "claim":
                self._desk.claim(image_uri, identity, reviewer.username)
                action = Action.CLAIM
            elif verb == "release":
                self._desk.release(image_uri, identity, reviewer.username)
                action = Action.RELEASE
            else:
                try:
                    action = Action(str(body.get("action")))
                except ValueError:
                    raise HttpError(
                        400, "INVALID", "action must be approve, correct, enter or reject"
                    ) from None
                self._desk.decide(image_uri, identity, reviewer.username, action, body)
        except InvalidDecision as error:
            raise HttpError(400, "INVALID", str(error)) from None
        except NotFound:
            raise HttpError(404, "NOT_FOUND", "no such upload") from None
        except Refused as refused:
            raise HttpError(409, refused.code, str(refused), {"review": _review_of(refused.item)}) from None
        except EventsNotPublished:
            # The decision is stored and marked unpublished: asking again publishes it.
            metrics.add_metric(name="ReviewEventsNotPublished", unit=MetricUnit.Count, value=1)
            raise HttpError(502, "EVENT_NOT_PUBLISHED", "decision stored; its event is not: retry") from None
        metrics.add_metric(name=f"Review{action.value.capitalize()}", unit=MetricUnit.Count, value=1)
        logger.info("review action", extra={"action": action.value, "image_uri": image_uri})
        return self._upload(image_uri)

    def _queue(self, query: Mapping[str, Any]) -> Any:
        kind_text = str(query.get("kind") or "").upper()
        kind = None
        if kind_text:
            try:
                kind = QueueKind(kind_text)
            except ValueError:
                raise HttpError(
                    400, "INVALID", "kind must be NEEDS_REVIEW, UNRECOGNIZED or REJECTED"
                ) from None
        reason = str(query.get("reason") or "").strip() or None
        if reason is not None and not re.fullmatch(r"[A-Z_]{2,40}(?::[a-z_]{2,40})?", reason):
            raise HttpError(400, "INVALID", "reason must be a review reason code")
        try:
            limit = int(query.get("limit") or 25)
        except ValueError:
            raise HttpError(400, "INVALID", "limit must be a number") from None
        if not 1 <= limit <= MAX_QUEUE_PAGE:
            raise HttpError(400, "INVALID", f"limit must be between 1 and {MAX_QUEUE_PAGE}")
        try:
            page = self._desk.queue(kind, reason, limit, query.get("cursor") or None)
        except InvalidCursor as error:
            raise HttpError(400, "INVALID", str(error)) from None
        return {
            "counts": page.counts,
            "items": [_queue_entry(item) for item in page.items],
            "cursor": page.cursor,
        }

    def _upload(self, image_uri: str) -> Any:
        try:
            item = self._desk.upload(image_uri)
        except NotFound:
            raise HttpError(404, "NOT_FOUND", "no such upload") from None
        shown = {
            name: item.get(name)
            for name in (
                "image_uri",
                "bucket",
                "object_key",
                "version_id",
                "identity",
                "status",
                "license",
                "normalized",
                "review_reasons",
                "needs_review",
                "confidence",
                "boxes",
                "error",
                "processed_at",
                "review",
                "review_queue",
                "reviewed_license",
                "reviewed_normalized",
                "reviewed_reasons",
                "field_reasons",
                "reviewed_field_reasons",
                "available",
                "trail",
            )
            if item.get(name) is not None
        }
        shown["id"] = upload_id(image_uri)
        shown["image_url"] = self._image_url(item)
        shown["trail"] = [
            {k: v for k, v in entry.items() if k not in ("image_uri", "entry")}
            for entry in item.get("trail", [])
        ]
        return shown

    def _vehicle(self, plate_or_vin: str) -> Any:
        if not _PLATE_OR_VIN.match(plate_or_vin):
            raise HttpError(400, "INVALID", "give a plate or a VIN")
        if self._vehicles is None:
            raise HttpError(404, "NOT_FOUND", "vehicle records are not kept by this stack")
        records = self._vehicles(plate_or_vin)
        if not records:
            raise HttpError(404, "NOT_FOUND", "no vehicle record for this plate or VIN yet")
        return {
            "records": [
                {
                    **view,
                    "pages": {
                        p: {**s, "id": upload_id(str(s["image_uri"]))} for p, s in view["pages"].items()
                    },
                }
                for view in (record_view(r) for r in records)
            ]
        }

    # -- who ----------------------------------------------------------------------------------
    def _reviewer(self, event: Mapping[str, Any]) -> Reviewer:
        claims = (((event.get("requestContext") or {}).get("authorizer") or {}).get("jwt") or {}).get(
            "claims"
        )
        if not isinstance(claims, Mapping) or not claims.get("sub"):
            raise HttpError(401, "UNAUTHENTICATED", "log in first")
        if claims.get("token_use") not in (None, "access"):
            raise HttpError(401, "UNAUTHENTICATED", "an access token is required")
        groups = _groups(claims.get("cognito:groups"))
        if self._settings.reviewers_group not in groups:
            raise HttpError(403, "FORBIDDEN", f"only members of {self._settings.reviewers_group} may review")
        username = str(claims.get("username") or claims.get("cognito:username") or claims["sub"])
        return Reviewer(username, groups)

    # -- the page ----------------------------------------------------------------------------
    def _static(self, path: str) -> dict[str, Any]:
        if path == "/config.json":
            region = self._settings.cognito_region
            return _json(
                200,
                {
                    "region": region,
                    "user_pool_id": self._settings.cognito_user_pool_id,
                    "client_id": self._settings.cognito_client_id,
                    "cognito_endpoint": self._cognito_endpoint(),
                    "claim_seconds": self._settings.review_claim_seconds,
                },
            )
        name, content_type = STATIC[path]
        body = resources.files("vehicle_license_review").joinpath("web", name).read_text(encoding="utf-8")
        headers = {**_SECURITY_HEADERS, "Content-Type": content_type, "Cache-Control": "no-cache"}
        if name == "index.html":
            headers["Content-Security-Policy"] = self.content_security_policy()
        return {"statusCode": 200, "headers": headers, "body": body}

    def _cognito_endpoint(self) -> str:
        return self._settings.cognito_endpoint_url or (
            f"https://cognito-idp.{self._settings.cognito_region}.amazonaws.com/"
        )

    def content_security_policy(self) -> str:
        """Only the page's own script and style, images from S3 (presigned) and the boxes drawn
        over them, calls to this API and to Cognito; no inline code, no frames, no plugins."""
        cognito = origin(self._cognito_endpoint())
        return "; ".join(
            [
                "default-src 'none'",
                "script-src 'self'",
                "style-src 'self'",
                f"img-src 'self' {self._s3_origin}",
                f"connect-src 'self' {cognito}",
                "base-uri 'none'",
                "form-action 'self'",
                "frame-ancestors 'none'",
            ]
        )


_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}


def origin(url: str) -> str:
    """scheme://host[:port] of a URL: what a Content-Security-Policy source names."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _groups(value: Any) -> tuple[str, ...]:
    """`cognito:groups` as a list, or as API Gateway passes a list claim: "[a b]"."""
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    if isinstance(value, str):
        return tuple(g for g in re.split(r"[\s,\[\]]+", value) if g)
    return ()


def _body(event: Mapping[str, Any]) -> Mapping[str, Any]:
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(raw).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise HttpError(400, "INVALID", "the body must be JSON") from None
    if len(raw.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        raise HttpError(413, "TOO_LARGE", f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(raw or "{}")
    except (ValueError, RecursionError):
        raise HttpError(400, "INVALID", "the body must be JSON") from None
    if not isinstance(body, dict):
        raise HttpError(400, "INVALID", "the body must be a JSON object")
    return body


def _queue_entry(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": upload_id(str(item["image_uri"])),
        "image_uri": item["image_uri"],
        "object_key": item.get("object_key"),
        "status": item.get("status"),
        "kind": item.get("review_queue"),
        "review_reasons": item.get("review_reasons") or [],
        "error": (item.get("error") or {}).get("status"),
        "since": item.get("review_since"),
        "review": _review_of(item),
        "available": item.get("available"),
    }


def _review_of(item: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not item:
        return None
    review = item.get("review")
    return dict(review) if isinstance(review, Mapping) else None


def _json(status: int, body: Any) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {**_SECURITY_HEADERS, "Content-Type": "application/json", "Cache-Control": "no-store"},
        "body": json.dumps(body, ensure_ascii=False, default=str),
    }
