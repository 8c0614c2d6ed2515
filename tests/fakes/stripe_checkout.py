"""Loopback Stripe for tests of the real stripe SDK: localstripe plus a Checkout Sessions server.

`LocalStripe` runs the `localstripe` package (a stateful fake of Stripe's core API: customers,
payment methods, PaymentIntents, charges, refunds) as a subprocess on a free loopback port.

`FakeCheckout` is what localstripe lacks: Checkout Sessions, speaking Stripe's documented wire
format (form-encoded POSTs with bracketed nested keys, `Authorization: Bearer sk_…`, the
`checkout.session` JSON object, `{"error": {"type", "code", "message", "param"}}` on failure):

- `POST /v1/checkout/sessions` (mode=payment, line_items with price_data, expires_at 30 min–24 h
  after creation, metadata ≤ 50 keys, client_reference_id ≤ 200 chars; `Idempotency-Key` replays the
  first response, and the same key with different params is an `idempotency_error`);
- `GET /v1/checkout/sessions/{id}`;
- `POST /v1/checkout/sessions/{id}/expire` (only an open session).

Any other `/v1/…` request is forwarded to localstripe, so one `STRIPE_API_BASE` serves both; the
forwarder adds Stripe's `Idempotency-Key` semantics, which localstripe lacks (first response replayed).
The test helper `pay(session_id)` plays the customer: it creates and confirms a real PaymentIntent
on localstripe (card `pm_card_visa`), completes the session, and returns the PaymentIntent id; a
session that saves the card (a plan's first payment) also gets a localstripe Customer with the card
attached, as Checkout does with `customer_creation=always` + `setup_future_usage=off_session`.
`event(type, obj)` builds a Stripe event envelope and `sign(payload, secret, t)` the
`Stripe-Signature` header (stripe's own `WebhookSignature.generate_signature_header`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import stripe
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

MIN_EXPIRY = 30 * 60
MAX_EXPIRY = 24 * 3600


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalStripe:
    """`localstripe --port N --from-scratch` as a subprocess (its own data directory)."""

    def __init__(self) -> None:
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="localstripe-")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalStripe:
        exe = Path(sys.executable).with_name("localstripe")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "localstripe"]
        self._proc = subprocess.Popen(
            [*cmd, "--port", str(self.port), "--from-scratch"],
            cwd=self._dir.name,
            env={**os.environ, "TMPDIR": self._dir.name},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                req = urllib.request.Request(
                    f"{self.base_url}/v1/customers", headers={"Authorization": "Bearer sk_test_probe"}
                )
                with urllib.request.urlopen(req, timeout=1):
                    return self
            except OSError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("localstripe failed to start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
            self._proc = None
        self._dir.cleanup()

    def __enter__(self) -> LocalStripe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def parse_form(body: bytes) -> dict[str, Any]:
    """Stripe's form encoding (`a[b][0][c]=v`) into nested dicts and lists."""
    out: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode("utf-8"), keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = out
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt: Any = value if last else ([] if parts[i + 1].isdigit() else {})
            if isinstance(node, list):
                idx = int(part)
                while len(node) <= idx:
                    node.append(None)
                if node[idx] is None or last:
                    node[idx] = nxt
                node = node[idx]
            else:
                if part not in node or last:
                    node[part] = nxt
                node = node[part]
    return out


def stripe_error(
    status: int, type_: str, message: str, *, code: str | None = None, param: str | None = None
) -> JSONResponse:
    err: dict[str, Any] = {"type": type_, "message": message}
    if code:
        err["code"] = code
    if param:
        err["param"] = param
    return JSONResponse({"error": err}, status_code=status)


class FakeCheckout:
    """Checkout Sessions on loopback; everything else under /v1 is forwarded to `localstripe_base`."""

    def __init__(self, localstripe_base: str, *, clock: Callable[[], datetime] | None = None) -> None:
        self.localstripe_base = localstripe_base
        self.clock = clock or (lambda: datetime.now(UTC))
        self.sessions: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, dict[str, Any], str | None]] = []  # method, path, params, key
        self._idem: dict[str, tuple[str, int, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._forward_lock = asyncio.Lock()
        self.replays = 0  # forwarded POSTs answered from the idempotency store
        self._port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.app = Starlette(
            routes=[
                Route("/v1/checkout/sessions", self._create, methods=["POST"]),
                Route("/v1/checkout/sessions/{sid}", self._get, methods=["GET"]),
                Route("/v1/checkout/sessions/{sid}/expire", self._expire, methods=["POST"]),
                Route("/v1/{rest:path}", self._forward, methods=["GET", "POST", "DELETE"]),
            ]
        )

    # ------------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("FakeCheckout is not started")
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> FakeCheckout:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(256)
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            loop="asyncio",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fake-checkout", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("FakeCheckout failed to start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeCheckout:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        with self._lock:
            self.sessions.clear()
            self.requests.clear()
            self._idem.clear()

    # ------------------------------------------------------------------ wire protocol
    @staticmethod
    def _authorised(request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and token.startswith(("sk_test_", "rk_test_"))

    async def _create(self, request: Request) -> Response:
        if not self._authorised(request):
            return stripe_error(401, "invalid_request_error", "Invalid API Key provided")
        body = await request.body()
        params = parse_form(body)
        key = request.headers.get("idempotency-key")
        fingerprint = hashlib.sha256(body).hexdigest()
        with self._lock:
            self.requests.append(("POST", "/v1/checkout/sessions", params, key))
            if key and key in self._idem:
                seen, status, payload = self._idem[key]
                if seen != fingerprint:
                    return stripe_error(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same parameters they "
                        "were first used with.",
                    )
                return JSONResponse(payload, status_code=status, headers={"Idempotent-Replayed": "true"})
            status, payload = self._new_session(params)
            if key:
                self._idem[key] = (fingerprint, status, payload)
        return JSONResponse(payload, status_code=status)

    def _new_session(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        now = int(self.clock().timestamp())
        if p.get("mode") != "payment":
            return 400, {
                "error": {"type": "invalid_request_error", "message": "mode must be payment", "param": "mode"}
            }
        items = p.get("line_items") or []
        if not items:
            return 400, {
                "error": {
                    "type": "invalid_request_error",
                    "message": "line_items is required",
                    "param": "line_items",
                }
            }
        total = 0
        currency = None
        for item in items:
            price = (item or {}).get("price_data") or {}
            try:
                unit, qty = int(price["unit_amount"]), int(item.get("quantity", "1"))
            except (KeyError, ValueError):
                return 400, {
                    "error": {
                        "type": "invalid_request_error",
                        "message": "Invalid integer",
                        "param": "line_items[0][price_data][unit_amount]",
                    }
                }
            currency = price.get("currency")
            total += unit * qty
        if total < 50:
            return 400, {
                "error": {
                    "type": "invalid_request_error",
                    "code": "amount_too_small",
                    "message": "The Checkout Session's total amount due must add up to at least $0.50 usd",
                }
            }
        expires_at = int(p.get("expires_at") or now + MAX_EXPIRY)
        if not now + MIN_EXPIRY <= expires_at <= now + MAX_EXPIRY:
            return 400, {
                "error": {
                    "type": "invalid_request_error",
                    "message": "The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.",
                    "param": "expires_at",
                }
            }
        metadata = p.get("metadata") or {}
        if len(metadata) > 50 or len(p.get("client_reference_id") or "") > 200:
            return 400, {
                "error": {
                    "type": "invalid_request_error",
                    "message": "Invalid metadata or client_reference_id",
                }
            }
        if not p.get("success_url"):
            return 400, {
                "error": {
                    "type": "invalid_request_error",
                    "message": "Missing required param: success_url.",
                    "param": "success_url",
                }
            }
        sid = "cs_test_" + secrets.token_hex(24)
        session = {
            "id": sid,
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "cancel_url": p.get("cancel_url"),
            "client_reference_id": p.get("client_reference_id"),
            "created": now,
            "currency": currency,
            "customer": None,
            "expires_at": expires_at,
            "livemode": False,
            "metadata": metadata,
            "mode": "payment",
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": p.get("success_url"),
            "url": f"https://checkout.stripe.com/c/pay/{sid}",
            "_payment_intent_data": p.get("payment_intent_data") or {},
            "_customer_creation": p.get("customer_creation"),
        }
        self.sessions[sid] = session
        return 200, self._public(session)

    @staticmethod
    def _public(session: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in session.items() if not k.startswith("_")}

    async def _get(self, request: Request) -> Response:
        if not self._authorised(request):
            return stripe_error(401, "invalid_request_error", "Invalid API Key provided")
        session = self.sessions.get(request.path_params["sid"])
        if session is None:
            return stripe_error(
                404, "invalid_request_error", "No such checkout.session", code="resource_missing"
            )
        return JSONResponse(self._public(session))

    async def _expire(self, request: Request) -> Response:
        if not self._authorised(request):
            return stripe_error(401, "invalid_request_error", "Invalid API Key provided")
        with self._lock:
            session = self.sessions.get(request.path_params["sid"])
            if session is None:
                return stripe_error(
                    404, "invalid_request_error", "No such checkout.session", code="resource_missing"
                )
            if session["status"] != "open":
                return stripe_error(
                    400,
                    "invalid_request_error",
                    f"Only Checkout Sessions with a status of `open` can be expired. This Checkout Session has a status of `{session['status']}`.",
                )
            session["status"] = "expired"
            session["url"] = None
        return JSONResponse(self._public(session))

    async def _forward(self, request: Request) -> Response:
        """Forward to localstripe, adding what it lacks: `Idempotency-Key` on POSTs (Stripe replays
        the first response, errors included; the same key with other params is an idempotency_error)."""
        body = await request.body()
        key = request.headers.get("idempotency-key") if request.method == "POST" else None
        fingerprint = hashlib.sha256(request.url.path.encode() + b"?" + body).hexdigest()
        if key:
            async with self._forward_lock:
                return await self._forward_once(request, body, key, fingerprint)
        return await self._upstream(request, body)

    async def _forward_once(self, request: Request, body: bytes, key: str, fingerprint: str) -> Response:
        with self._lock:
            seen = self._idem.get(key)
        if seen is not None:
            if seen[0] != fingerprint:
                return stripe_error(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters they were "
                    "first used with.",
                )
            self.replays += 1
            return JSONResponse(seen[2], status_code=seen[1], headers={"Idempotent-Replayed": "true"})
        response = await self._upstream(request, body)
        with self._lock:
            self._idem[key] = (fingerprint, response.status_code, json.loads(bytes(response.body)))
        return response

    async def _upstream(self, request: Request, body: bytes) -> Response:
        async with httpx.AsyncClient(base_url=self.localstripe_base, timeout=10) as client:
            upstream = await client.request(
                request.method,
                request.url.path,
                params=request.query_params,
                content=body,
                headers={
                    k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")
                },
            )
        return Response(upstream.content, status_code=upstream.status_code, media_type="application/json")

    # ------------------------------------------------------------------ the customer's side
    def pay(self, session_id: str, api_key: str = "sk_test_fake", card: str = "pm_card_visa") -> str:
        """Pay an open session by card on localstripe; returns the PaymentIntent id. A session made to
        save the card (`customer_creation=always` / `setup_future_usage`) gets a Customer with it."""
        session = self.sessions[session_id]
        if session["status"] != "open":
            raise RuntimeError(f"session is {session['status']}")
        client = stripe.StripeClient(api_key, base_addresses={"api": self.localstripe_base})
        intent_data = session["_payment_intent_data"]
        pi_meta = intent_data.get("metadata") or {}
        params: dict[str, Any] = {
            "amount": session["amount_total"],
            "currency": session["currency"],
            "payment_method": card,
            "payment_method_types": ["card"],
            "confirm": True,
            "metadata": pi_meta,
        }
        customer = None
        if session.get("_customer_creation") == "always" or intent_data.get("setup_future_usage"):
            # Checkout creates a Customer and, with setup_future_usage, saves the card on it
            customer = client.v1.customers.create(params={"description": "checkout customer"}).id
            saved = client.v1.payment_methods.attach(card, params={"customer": customer})
            params.update(customer=customer, payment_method=saved.id)
        intent = client.v1.payment_intents.create(params=params)
        if intent.status != "succeeded":
            raise RuntimeError(f"localstripe PaymentIntent is {intent.status}")
        with self._lock:
            session.update(
                status="complete",
                payment_status="paid",
                payment_intent=intent.id,
                url=None,
                customer=customer,
            )
        return str(intent.id)

    def expire_now(self, session_id: str) -> dict[str, Any]:
        """Stripe expiring a session on its own (expires_at passed)."""
        with self._lock:
            session = self.sessions[session_id]
            session.update(status="expired", url=None)
            return self._public(session)

    def session(self, session_id: str) -> dict[str, Any]:
        return self._public(self.sessions[session_id])


def event(
    type_: str, obj: dict[str, Any], *, event_id: str | None = None, created: int | None = None
) -> dict[str, Any]:
    """A v1 snapshot event envelope as Stripe posts it to a webhook endpoint."""
    return {
        "id": event_id or "evt_" + secrets.token_hex(12),
        "object": "event",
        "api_version": stripe.api_version,
        "created": created if created is not None else int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": type_,
    }


def sign(payload: str, secret: str, t: int) -> dict[str, str]:
    """The `Stripe-Signature` header for `payload`, made by the stripe SDK's own helper."""
    return {
        "Stripe-Signature": stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=t),
        "Content-Type": "application/json",
    }


def body(evt: dict[str, Any]) -> str:
    return json.dumps(evt, separators=(",", ":"))
