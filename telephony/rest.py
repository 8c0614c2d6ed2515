"""The twilio-python REST client, made non-blocking and redirectable.

Choice (for ~300 sends/s): the SDK's own async path (``messages.create_async``) on an aiohttp client
(aiohttp is a hard dependency of twilio 9.x) rather than the sync client in a thread pool. One event loop
with a pooled keep-alive connector holds hundreds of in-flight requests without a thread per request,
without GIL hand-offs and without sharing a ``requests.Session`` across threads (not thread-safe).
``TwilioAsyncHttpClient`` implements the SDK's documented extension point (``twilio.http.AsyncHttpClient``)
the way the stock ``AsyncTwilioHttpClient`` does, plus what that one lacks:

- ``api_base`` (``TWILIO_API_BASE``): every ``https://api[.edge.region].twilio.com`` URL the SDK builds
  is rewritten onto the base (scheme, host, optional path prefix); the path ``/2010-04-01/...`` and query
  are kept (no mutation of the SDK's domain objects). Other Twilio product hosts are not rewritten.
- a default timeout: the stock client sends ``timeout=None`` to aiohttp, i.e. no timeout at all;
- a bounded number of in-flight requests (a semaphore), so the timeout measures the request, not the
  wait for a pooled connection;
- the aiohttp session is created lazily inside the running loop (aiohttp refuses to create one outside);
- repeated form fields (e.g. ``StatusCallbackEvent``) are sent as repeated pairs, as Twilio expects;
- Basic auth as a header (aiohttp deprecates the ``auth=BasicAuth`` the stock client passes).
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from aiohttp import ClientSession, ClientTimeout, TCPConnector
from twilio.http import AsyncHttpClient
from twilio.http.response import Response
from twilio.rest import Client

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MAX_IN_FLIGHT = 64

_logger = logging.getLogger("telephony.twilio_http")


def _is_twilio_api_host(host: str | None) -> bool:
    if not host:
        return False
    return host == "api.twilio.com" or (host.startswith("api.") and host.endswith(".twilio.com"))


def rewrite_api_url(url: str, api_base: str | None) -> str:
    """Point a Twilio REST URL at ``api_base`` (None → unchanged)."""
    if not api_base:
        return url
    parts = urlsplit(url)
    if not _is_twilio_api_host(parts.hostname):
        return url
    base = urlsplit(api_base)
    return urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + parts.path, parts.query, ""))


def _form_pairs(data: Mapping[str, object] | None) -> list[tuple[str, str]] | None:
    if not data:
        return None
    pairs: list[tuple[str, str]] = []
    for name, value in data.items():
        for item in value if isinstance(value, list | tuple) else (value,):
            pairs.append((name, item if isinstance(item, str) else str(item)))
    return pairs


class TwilioAsyncHttpClient(AsyncHttpClient):
    """The SDK's async HTTP client contract on aiohttp: ``api_base``, a default timeout, a bound."""

    def __init__(
        self,
        *,
        api_base: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    ) -> None:
        if api_base is not None:
            parts = urlsplit(api_base)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"api_base must be an http(s) URL, got {api_base!r}")
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be >= 1")
        super().__init__(_logger, True, timeout)
        self.api_base = api_base.rstrip("/") if api_base else None
        self.max_in_flight = max_in_flight
        self._session: ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None

    def _bind(self) -> tuple[ClientSession, asyncio.Semaphore]:
        # One pool per event loop; a client reused from a new loop opens a fresh pool.
        loop = asyncio.get_running_loop()
        if self._session is None or self._slots is None or self._loop is not loop:
            self._loop = loop
            self._slots = asyncio.Semaphore(self.max_in_flight)
            self._session = ClientSession(
                connector=TCPConnector(limit=self.max_in_flight, limit_per_host=self.max_in_flight)
            )
        return self._session, self._slots

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the SDK's HttpClient signature
        allow_redirects: bool = False,
    ) -> Response:
        """Called by the SDK's ``*_async`` methods with a fully built Twilio URL and form data."""
        send_headers = dict(headers or {})
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            send_headers["Authorization"] = f"Basic {token}"
        kwargs: dict[str, Any] = {
            "method": method.upper(),
            "url": rewrite_api_url(url, self.api_base),
            "params": params,
            "data": _form_pairs(data),
            "headers": send_headers,
            "allow_redirects": allow_redirects,
            "timeout": ClientTimeout(total=timeout if timeout is not None else self.timeout),
        }
        session, slots = self._bind()
        async with slots, session.request(**kwargs) as raw:
            text = await raw.text()
        # Path only: query strings of list calls can carry phone numbers (the SDK's own logger prints them).
        _logger.debug("twilio %s %s -> %s", kwargs["method"], urlsplit(kwargs["url"]).path, raw.status)
        return Response(raw.status, text, dict(raw.headers))

    async def close(self) -> None:
        """Close the pooled connections (call once at shutdown, from the loop that used the client)."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def build_rest_client(
    account_sid: str,
    auth_token: str,
    *,
    api_base: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
) -> Client:
    """A ``twilio.rest.Client`` whose ``*_async`` calls go through ``TwilioAsyncHttpClient``.

    Use only the SDK's ``*_async`` methods with it (the sync ones need a sync HTTP client).

    Close it with ``await client.http_client.close()``.
    """
    if not account_sid or not auth_token:
        raise ValueError("Twilio account SID and auth token are required")
    http = TwilioAsyncHttpClient(api_base=api_base, timeout=timeout, max_in_flight=max_in_flight)
    return Client(account_sid, auth_token, http_client=http, user_agent_extensions=["balanceline"])
