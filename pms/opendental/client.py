"""A thin async client for the Open Dental REST API (httpx).

- Auth: `Authorization: ODFHIR {DeveloperKey}/{CustomerKey}` on every request.
- Base URL: Remote (`https://api.opendental.com/api/v1`, throttled, through the office's
  eConnector), API Service (`http://{server}:30223/api/v1`) or Local (`http://localhost:30222/api/v1`).
- Throttling: requests per customer key spaced by the permission tier (read-only 1 request / 5 s;
  with any write permission 1 / s); Service and Local are unthrottled. One `RateLimiter` per key in
  this process, or a caller's shared `Limiter` (the app passes one over Redis, so replicas and
  workers share the key's budget). A `429` is waited out and re-sent (the request was not processed).
- Paging: `Limit`/`Offset`, 100 rows a page remote (1,000 local); a short page ends the listing.
- Retries: reads only, on 5xx / 504 / network errors, with exponential backoff. A write is sent
  once: after a timeout, reset or 5xx it raises `OpenDentalAmbiguous` (it may have landed; the
  caller reconciles by marker before re-posting).
- A `400` that says the eConnector is not running or the version is too old is
  `OpenDentalUnavailable` (a `PmsUnavailable`), not invalid input.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import httpx

from pms.protocol import PmsUnavailable

Tier = Literal["read", "commlog", "standard", "payments"]
Mode = Literal["remote", "service", "local"]

# Seconds between requests per customer key on the Remote API, by permission tier.
TIER_INTERVAL: dict[str, float] = {"read": 5.0, "commlog": 1.0, "standard": 1.0, "payments": 1.0}
PAGE_SIZE: dict[str, int] = {"remote": 100, "service": 1000, "local": 1000}
_UNAVAILABLE_400 = ("econnector", "version", "too old", "not running")


class OpenDentalError(RuntimeError):
    """A definite refusal by Open Dental (4xx other than the unavailable-400s and 429)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"Open Dental {status}: {message}")
        self.status = status
        self.message = message


class OpenDentalUnavailable(PmsUnavailable):
    """Open Dental cannot answer now: eConnector down, version too old, network, 5xx after retries."""


class OpenDentalAmbiguous(OpenDentalUnavailable):
    """A write whose outcome is unknown (timeout, reset, 5xx): it may have been applied."""


def mode_for(base_url: str) -> Mode:
    """Remote unless the URL is an API Service (port 30223) or Local (port 30222) address."""
    port = urlsplit(base_url).port
    if port == 30223:
        return "service"
    if port == 30222:
        return "local"
    return "remote"


RETRY_AFTER_MARGIN_S = 0.05


class Limiter(Protocol):
    """Paces requests for one customer key: `wait()` before each, `push_back()` after a 429."""

    interval: float

    async def wait(self) -> None: ...
    def push_back(self, seconds: float) -> None: ...


class RateLimiter:
    """Spaces requests at least `interval` seconds apart (start to start), in call order."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._next_at = 0.0

    async def wait(self) -> None:
        if self.interval <= 0 and self._next_at <= time.monotonic():
            return
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # an asyncio.Lock belongs to one event loop
            self._lock, self._loop = asyncio.Lock(), loop
        async with self._lock:
            delay = self._next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self._next_at = time.monotonic() + self.interval

    def push_back(self, seconds: float) -> None:
        """The server said 429: no request before `seconds` from now."""
        self._next_at = max(self._next_at, time.monotonic() + seconds)


_LIMITERS: dict[tuple[str, float], RateLimiter] = {}


def limiter_for(customer_key: str, interval: float) -> RateLimiter:
    """One limiter per customer key (and interval) in this process, shared by every client of it."""
    key = (hashlib.sha256(customer_key.encode()).hexdigest(), interval)
    limiter = _LIMITERS.get(key)
    if limiter is None:
        limiter = _LIMITERS[key] = RateLimiter(interval)
    return limiter


class OpenDentalClient:
    def __init__(
        self,
        base_url: str,
        developer_key: str,
        customer_key: str,
        *,
        tier: Tier = "payments",
        mode: Mode | None = None,
        timeout: float = 65.0,
        read_retries: int = 3,
        retry_backoff: float = 0.5,
        safety_margin: float = 0.05,
        page_size: int | None = None,
        limiter: Limiter | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tier: Tier = tier
        self.mode: Mode = mode or mode_for(base_url)
        interval = TIER_INTERVAL[tier] + safety_margin if self.mode == "remote" else 0.0
        self.interval = interval
        # a shared (cross-process) limiter from the caller, else one per key in this process
        self.limiter: Limiter = (
            limiter if limiter is not None and interval > 0 else limiter_for(customer_key, interval)
        )
        self.page_size = page_size or PAGE_SIZE[self.mode]
        self.read_retries = read_retries
        self.retry_backoff = retry_backoff
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={
                "Authorization": f"ODFHIR {developer_key}/{customer_key}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    # ---- reads ---------------------------------------------------------------------------------

    async def get(self, path: str, params: dict[str, Any] | None = None, *, missing_ok: bool = False) -> Any:
        """GET with retries; `missing_ok` turns a 404 into None."""
        return await self._read(lambda: self._send("GET", path, params=params), missing_ok=missing_ok)

    async def get_all(self, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every row of a paged listing: Limit/Offset until a short page."""
        rows: list[dict[str, Any]] = []
        offset = 0
        while True:
            query = {**(params or {}), "Limit": self.page_size, "Offset": offset}
            page = await self.get(path, query)
            page = page or []
            rows.extend(page)
            if len(page) < self.page_size:
                return rows
            offset += len(page)

    async def query(self, sql: str, *, offset: int = 0) -> list[dict[str, Any]]:
        """One page (100 rows) of `PUT /queries/ShortQuery` (a read: retried like a GET)."""

        def send() -> Awaitable[httpx.Response]:
            return self._send(
                "PUT", "/queries/ShortQuery", params={"Offset": offset}, json={"SqlCommand": sql}
            )

        result = await self._read(send)
        return list(result or [])

    async def query_all(self, sql: str, *, page: int = 100) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        while True:
            got = await self.query(sql, offset=len(rows))
            rows.extend(got)
            if len(got) < page:
                return rows

    async def _read(self, send: Callable[[], Awaitable[httpx.Response]], *, missing_ok: bool = False) -> Any:
        last: Exception | None = None
        for attempt in range(self.read_retries + 1):
            if attempt:
                await asyncio.sleep(self.retry_backoff * 2 ** (attempt - 1))
            try:
                response = await send()
            except httpx.TransportError as exc:
                last = exc
                continue
            if response.status_code >= 500:
                last = OpenDentalUnavailable(f"Open Dental answered {response.status_code}")
                continue
            if response.status_code == 404 and missing_ok:
                return None
            if response.status_code in (401, 403):  # keys revoked or tier changed: nothing to look up with
                raise OpenDentalUnavailable(f"Open Dental refused the API keys ({response.status_code})")
            return _body(response)
        raise OpenDentalUnavailable(f"Open Dental unreachable after retries: {_describe(last)}") from last

    # ---- writes --------------------------------------------------------------------------------

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        return await self._write("POST", path, body)

    async def put(self, path: str, body: dict[str, Any]) -> Any:
        return await self._write("PUT", path, body)

    async def _write(self, method: str, path: str, body: dict[str, Any]) -> Any:
        """Sent once. ConnectError = never sent (unavailable); anything after sending = ambiguous."""
        try:
            response = await self._send(method, path, json=body)
        except httpx.ConnectError as exc:
            raise OpenDentalUnavailable(f"cannot connect to Open Dental: {_describe(exc)}") from exc
        except httpx.TransportError as exc:
            raise OpenDentalAmbiguous(f"{method} {path}: no answer ({_describe(exc)})") from exc
        if response.status_code >= 500:
            raise OpenDentalAmbiguous(f"{method} {path}: Open Dental answered {response.status_code}")
        return _body(response)

    # ---- transport -----------------------------------------------------------------------------

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request through the limiter; a 429 is waited out and re-sent (it was not processed)."""
        for _ in range(5):
            await self.limiter.wait()
            response = await self._http.request(method, path, **kwargs)
            if response.status_code != 429:
                return response
            retry_after = _retry_after(response, default=max(self.limiter.interval, 1.0))
            # Retry-After is rounded by the server: a little more than it says, or the re-send can
            # land just inside the window and be refused again.
            self.limiter.push_back(retry_after + RETRY_AFTER_MARGIN_S)
        raise OpenDentalUnavailable("Open Dental kept answering 429 (throttled)")


def _retry_after(response: httpx.Response, *, default: float) -> float:
    try:
        return float(response.headers.get("Retry-After", default))
    except ValueError:
        return default


def _body(response: httpx.Response) -> Any:
    """The JSON body of a 2xx; a typed error otherwise."""
    status = response.status_code
    if 200 <= status < 300:
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.text
    message = _error_text(response)
    if status == 400 and any(word in message.lower() for word in _UNAVAILABLE_400):
        raise OpenDentalUnavailable(f"Open Dental is unavailable: {message}")
    raise OpenDentalError(status, message)


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300]
    if isinstance(body, str):
        return body[:300]
    if isinstance(body, dict):
        return str(body.get("message") or body.get("Message") or body)[:300]
    return str(body)[:300]


def _describe(exc: BaseException | None) -> str:
    return type(exc).__name__ if exc is not None else "no answer"
