"""Sign requests the way Twilio does (twilio-python ``RequestValidator.compute_signature``), for tests.

``post_signed_form`` / ``apost_signed_form`` post a form webhook to an app under test with any client
that has httpx's ``post(url, content=, headers=)`` (httpx, or Starlette's ``TestClient`` on httpx2),
signed for ``public_base_url + path_and_query`` (the URL Twilio would have called), with repeated
fields preserved.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Iterator, Mapping, Sequence
from typing import Protocol, TypeVar
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
FormParams = Mapping[str, str | Sequence[str]]
R_co = TypeVar("R_co", covariant=True)


class SyncPoster(Protocol[R_co]):
    def post(self, url: str, *, content: bytes, headers: Mapping[str, str]) -> R_co: ...


class AsyncPoster(Protocol[R_co]):
    def post(self, url: str, *, content: bytes, headers: Mapping[str, str]) -> Awaitable[R_co]: ...


class _Multi:
    def __init__(self, params: FormParams) -> None:
        self._lists = {k: [v] if isinstance(v, str) else list(v) for k, v in params.items()}

    def __iter__(self) -> Iterator[str]:
        return iter(self._lists)

    def __bool__(self) -> bool:
        return bool(self._lists)

    def getlist(self, name: str) -> list[str]:
        return self._lists[name]


def form_pairs(params: FormParams) -> list[tuple[str, str]]:
    return [(k, item) for k, v in params.items() for item in ([v] if isinstance(v, str) else v)]


def signature(auth_token: str, url: str, params: FormParams | None = None) -> str:
    return str(RequestValidator(auth_token).compute_signature(url, _Multi(params or {})))


def sign_form(auth_token: str, url: str, params: FormParams) -> dict[str, str]:
    """Headers for a form POST to ``url`` (the full public URL, query included)."""
    return {"X-Twilio-Signature": signature(auth_token, url, params), "Content-Type": FORM_CONTENT_TYPE}


def sign_json(auth_token: str, url: str, body: bytes) -> tuple[str, dict[str, str]]:
    """(URL with ``bodySHA256`` appended, headers) for a JSON webhook, as Twilio sends it."""
    digest = hashlib.sha256(body).hexdigest()
    signed_url = f"{url}{'&' if '?' in url else '?'}bodySHA256={digest}"
    headers = {"X-Twilio-Signature": signature(auth_token, signed_url), "Content-Type": "application/json"}
    return signed_url, headers


def sign_ws(auth_token: str, wss_url: str) -> dict[str, str]:
    """Headers for the media websocket upgrade (Twilio sends the name in lower case)."""
    return {"x-twilio-signature": signature(auth_token, wss_url)}


def _signed(
    auth_token: str, public_base_url: str, path_and_query: str, params: FormParams
) -> tuple[bytes, dict[str, str]]:
    headers = sign_form(auth_token, public_base_url.rstrip("/") + path_and_query, params)
    return urlencode(form_pairs(params)).encode(), headers


def post_signed_form(
    client: SyncPoster[R_co], auth_token: str, public_base_url: str, path_and_query: str, params: FormParams
) -> R_co:
    """POST ``params`` to ``path_and_query``, signed for ``public_base_url + path_and_query``."""
    body, headers = _signed(auth_token, public_base_url, path_and_query, params)
    return client.post(path_and_query, content=body, headers=headers)


async def apost_signed_form(
    client: AsyncPoster[R_co], auth_token: str, public_base_url: str, path_and_query: str, params: FormParams
) -> R_co:
    body, headers = _signed(auth_token, public_base_url, path_and_query, params)
    return await client.post(path_and_query, content=body, headers=headers)
