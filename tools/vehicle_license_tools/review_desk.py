"""The review desk served on 127.0.0.1 against the emulated AWS, as API Gateway serves it in AWS.

`LocalDesk` plays the HTTP API: it turns each browser request into the API Gateway HTTP API
event (payload format 2.0) the review function receives in AWS, and, for `/api/` routes, does what
the template's JWT authorizer does first: the `Authorization: Bearer` token must be an access token
of the stack's Cognito user pool (moto's, whose keys it reads from the pool's JWKS), signed by it,
issued for the desk's app client and not expired; otherwise 401, and the function never runs.
The function then runs in this process with the template's environment for it."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from vehicle_license_intake.config import load_from_env
from vehicle_license_review.api import ReviewApi
from vehicle_license_review.app import build_api
from vehicle_license_review.config import ReviewSettings
from vehicle_license_tools import aws, stack

MAX_REQUEST_BYTES = 1024 * 1024


class TokenRefused(Exception):
    pass


class CognitoTokens:
    """Verifies access tokens as the JWT authorizer does (issuer, audience, expiry, signature)."""

    def __init__(self, endpoint: str, region: str, user_pool_id: str, client_id: str) -> None:
        from joserfc.jwk import KeySet

        with urllib.request.urlopen(f"{endpoint}/{user_pool_id}/.well-known/jwks.json", timeout=10) as answer:  # noqa: S310 - 127.0.0.1
            self._keys = KeySet.import_key_set(json.loads(answer.read()))
        self._issuer = f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"
        self._client_id = client_id

    def claims(self, authorization: str | None) -> dict[str, Any]:
        from joserfc import jwt
        from joserfc.errors import JoseError

        if not authorization or not authorization.lower().startswith("bearer "):
            raise TokenRefused("no bearer token")
        try:
            token = jwt.decode(authorization[7:].strip(), self._keys, algorithms=["RS256"])
        except (JoseError, ValueError) as error:
            raise TokenRefused(f"not a valid token: {type(error).__name__}") from None
        claims = dict(token.claims)
        if claims.get("iss") != self._issuer:
            raise TokenRefused("another issuer")
        if self._client_id not in (claims.get("client_id"), claims.get("aud")):
            raise TokenRefused("another audience")
        if float(claims.get("exp", 0)) <= time.time():
            raise TokenRefused("expired")
        return claims


def as_api_gateway_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """API Gateway hands claims to the function as strings; a list becomes "[a b]"."""
    shown: dict[str, str] = {}
    for name, value in claims.items():
        if isinstance(value, list | tuple):
            shown[name] = "[" + " ".join(str(v) for v in value) + "]"
        else:
            shown[name] = str(value)
    return shown


def review_environment(deployed: stack.LocalStack, endpoint: str) -> dict[str, str]:
    """The review function's environment from the template, with Cognito reached at moto."""
    return {**deployed.review_function_environment, "COGNITO_ENDPOINT_URL": f"{endpoint}/"}


class LocalDesk:
    """`with LocalDesk(deployed, endpoint) as desk:` serves the desk at `desk.url` until exit."""

    def __init__(self, deployed: stack.LocalStack, endpoint: str, *, port: int = 0) -> None:
        environment = review_environment(deployed, endpoint)
        settings = load_from_env(ReviewSettings, environment)
        self.api: ReviewApi = build_api(settings)
        self.tokens = CognitoTokens(endpoint, aws.REGION, deployed.user_pool_id, deployed.desk_client_id)
        self.requests = 0
        desk = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "vli-local-desk"

            def do_GET(self) -> None:
                desk._serve(self)

            def do_POST(self) -> None:
                desk._serve(self)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                return  # request lines would carry upload ids; the API logs what matters

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-desk", daemon=True)

    def __enter__(self) -> LocalDesk:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        self.requests += 1
        parts = urlsplit(request.path)
        length = int(request.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            self._answer(
                request, 413, {"Content-Type": "application/json"}, '{"message":"Request Entity Too Large"}'
            )
            return
        body = request.rfile.read(length).decode("utf-8", "replace") if length else None
        headers = {name.lower(): value for name, value in request.headers.items()}
        context: dict[str, Any] = {
            "http": {"method": request.command, "path": parts.path, "sourceIp": request.client_address[0]},
            "stage": "$default",
            "requestId": f"local-{self.requests}",
        }
        if parts.path.startswith("/api/"):
            try:
                claims = self.tokens.claims(headers.get("authorization"))
            except TokenRefused:
                # What API Gateway answers when its JWT authorizer refuses the token.
                self._answer(request, 401, {"Content-Type": "application/json"}, '{"message":"Unauthorized"}')
                return
            context["authorizer"] = {"jwt": {"claims": as_api_gateway_claims(claims), "scopes": None}}
        event = {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": parts.path,
            "rawQueryString": parts.query,
            "headers": headers,
            "queryStringParameters": dict(parse_qsl(parts.query)) or None,
            "requestContext": context,
            "body": body,
            "isBase64Encoded": False,
        }
        answer = self.api.handle(event)
        self._answer(
            request, int(answer["statusCode"]), answer.get("headers") or {}, answer.get("body") or ""
        )

    @staticmethod
    def _answer(request: BaseHTTPRequestHandler, status: int, headers: Mapping[str, str], body: str) -> None:
        data = body.encode("utf-8")
        request.send_response(status)
        for name, value in headers.items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)
