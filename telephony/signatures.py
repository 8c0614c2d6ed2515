"""Twilio request authentication (X-Twilio-Signature) for webhooks and the media websocket.

Twilio signs the URL it called (scheme, host, path, query string) followed by every POST parameter
(names sorted, each name's values sorted). Behind a TLS-terminating proxy the app sees ``http://`` and
an internal host, so the URL is never taken from the request: it is rebuilt from the configured public
origin (``PUBLIC_BASE_URL``) plus the request's raw path and raw query string, byte for byte.
The HMAC itself is twilio-python's ``RequestValidator``, which also accepts the ``:443``/``:80`` variant.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit, urlunsplit

from twilio.request_validator import RequestValidator

if TYPE_CHECKING:
    from starlette.requests import Request

SIGNATURE_HEADER = "X-Twilio-Signature"


class SignatureInvalid(Exception):
    """A Twilio request whose signature is missing or wrong; answer 403 and do nothing else."""


class _MultiParams:
    """Form params with repeated names, in the shape ``RequestValidator.get_values`` understands."""

    def __init__(self, params: Mapping[str, str | Sequence[str]]) -> None:
        self._lists: dict[str, list[str]] = {
            name: [value] if isinstance(value, str) else list(value) for name, value in params.items()
        }

    def __iter__(self) -> Iterator[str]:
        return iter(self._lists)

    def __bool__(self) -> bool:
        return bool(self._lists)

    def getlist(self, name: str) -> list[str]:
        return self._lists[name]


class TwilioSignatureVerifier:
    """Checks Twilio signatures against URLs rebuilt from the public origin Twilio was told to call."""

    def __init__(self, auth_token: str, public_base_url: str) -> None:
        if not auth_token:
            raise ValueError("a Twilio auth token is required to verify signatures")
        parts = urlsplit(public_base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"public_base_url must be an http(s) origin, got {public_base_url!r}")
        self._validator = RequestValidator(auth_token)
        self._base = public_base_url.rstrip("/")

    def public_url(self, path_and_query: str) -> str:
        """The https URL Twilio called for this raw path (+ ``?query``), as configured in TwiML/console."""
        if not path_and_query.startswith("/"):
            raise ValueError(f"expected a path starting with '/', got {path_and_query!r}")
        return self._base + path_and_query

    def public_ws_url(self, path_and_query: str) -> str:
        """The ``wss://`` (or ``ws://`` for an http origin) URL of a websocket route on the public origin."""
        parts = urlsplit(self.public_url(path_and_query))
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))

    def verify_form(
        self, path_and_query: str, params: Mapping[str, str | Sequence[str]], signature: str | None
    ) -> bool:
        """A form-encoded (or GET) webhook: URL + ALL params, repeated names included, values untrimmed."""
        if not signature:
            return False
        return bool(
            self._validator.validate(self.public_url(path_and_query), _MultiParams(params), signature)
        )

    def verify_json(self, path_and_query: str, raw_body: bytes, signature: str | None) -> bool:
        """A JSON webhook: the URL carries ``bodySHA256`` (hex SHA-256 of the raw body), signed alone."""
        if not signature:
            return False
        query = parse_qs(urlsplit(path_and_query).query, keep_blank_values=True)
        claimed = query.get("bodySHA256")
        if not claimed or len(claimed) != 1:
            return False
        actual = hashlib.sha256(raw_body).hexdigest()
        if not hmac.compare_digest(actual.encode(), claimed[0].lower().encode()):
            return False
        return bool(self._validator.validate(self.public_url(path_and_query), {}, signature))

    def verify_ws(self, url: str, signature: str | None) -> bool:
        """The media websocket upgrade: the ``wss://`` URL exactly as written in the TwiML, no params.

        On the upgrade request Twilio sends the header in lower case (``x-twilio-signature``).
        """
        if not signature:
            return False
        return bool(self._validator.validate(url, {}, signature))


def raw_path_and_query(scope: Mapping[str, object]) -> str:
    """The request target exactly as the client sent it (percent-encoding and query order preserved)."""
    raw_path = scope.get("raw_path")
    if isinstance(raw_path, bytes | bytearray) and raw_path:
        path = bytes(raw_path).decode("latin-1").split("?", 1)[0]
    else:
        path = str(scope.get("root_path", "")) + str(scope["path"])
    query = scope.get("query_string", b"")
    if isinstance(query, bytes | bytearray) and query:
        return f"{path}?{bytes(query).decode('latin-1')}"
    return path


async def verified_form(request: Request, verifier: TwilioSignatureVerifier) -> dict[str, str]:
    """Read the webhook form once, verify its signature, and return its fields.

    Raises ``SignatureInvalid`` (answer 403) on a missing/invalid signature or a non-text field.
    A repeated field is signed with all its values; the returned dict keeps the first.
    """
    form = await request.form()
    lists: dict[str, list[str]] = {}
    for name, value in form.multi_items():
        if not isinstance(value, str):
            raise SignatureInvalid("unexpected file upload in a Twilio webhook")
        lists.setdefault(name, []).append(value)
    signature = request.headers.get(SIGNATURE_HEADER)
    if not verifier.verify_form(raw_path_and_query(request.scope), lists, signature):
        raise SignatureInvalid("missing or invalid X-Twilio-Signature")
    return {name: values[0] for name, values in lists.items()}
