"""A loopback Twilio REST API (2010-04-01 Messages and Calls) for tests of the real twilio SDK.

It speaks Twilio's documented wire format: form-encoded POSTs with HTTP Basic auth (Account SID / Auth
Token), ``201`` + the JSON resource on success, and Twilio's JSON error body
``{"code": 21610, "message": ..., "more_info": ..., "status": 400}`` on failure. It runs uvicorn in a
background thread on 127.0.0.1 with an ephemeral port; point the code under test at ``base_url``
(``TWILIO_API_BASE``).

    with FakeTwilio() as fake:
        fake.opted_out_numbers.add("+15550001111")
        ...  # fake.messages, fake.calls, fake.requests

Fault injection (checked before auth, like a failing front door): ``fail_next(n, status)`` answers the
next n API requests with that status and code ``20000 + status`` (20500, 20503, 20429);
``stall_next(n, seconds)`` delays them. A read-only control surface: ``GET /fake/messages``,
``GET /fake/calls``.
"""

from __future__ import annotations

import base64
import binascii
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

API_VERSION = "2010-04-01"
DEFAULT_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
DEFAULT_AUTH_TOKEN = "fake-twilio-auth-token"
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_MAX_BODY = 1600


class Form(dict[str, str]):
    """Received form fields: ``form[name]`` is the first value, ``getlist(name)`` all of them in order."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__()
        self.lists: dict[str, list[str]] = {}
        for name, value in pairs:
            self.lists.setdefault(name, []).append(value)
            self.setdefault(name, value)

    def getlist(self, name: str) -> list[str]:
        return list(self.lists.get(name, []))


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    status: int
    form: Form
    error_code: int | None


def twilio_error(status: int, code: int, message: str) -> JSONResponse:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def _now() -> str:
    return format_datetime(datetime.now(UTC), usegmt=True)


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://")) and len(value) > len("https://")


class FakeTwilio:
    """The loopback server; a context manager. Thread-safe: handlers run on the server's own loop."""

    def __init__(self, account_sid: str = DEFAULT_ACCOUNT_SID, auth_token: str = DEFAULT_AUTH_TOKEN) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.opted_out_numbers: set[str] = set()
        self.messages: list[Form] = []
        self.calls: list[Form] = []
        self.requests: list[RecordedRequest] = []
        self._resources: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._faults: list[int] = []
        self._stalls: list[float] = []
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self.app = Starlette(
            routes=[
                Route("/2010-04-01/Accounts/{account}/Messages.json", self._create_message, methods=["POST"]),
                Route(
                    "/2010-04-01/Accounts/{account}/Messages/{sid}.json", self._fetch_message, methods=["GET"]
                ),
                Route("/2010-04-01/Accounts/{account}/Calls.json", self._create_call, methods=["POST"]),
                Route("/fake/messages", self._list_messages, methods=["GET"]),
                Route("/fake/calls", self._list_calls, methods=["GET"]),
            ]
        )

    # ----------------------------------------------------------------- lifecycle
    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("FakeTwilio is not started")
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> FakeTwilio:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(2048)
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
            target=self._server.run, kwargs={"sockets": [sock]}, name="fake-twilio", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("FakeTwilio failed to start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- test controls
    def reset(self) -> None:
        with self._lock:
            self.opted_out_numbers.clear()
            self.messages.clear()
            self.calls.clear()
            self.requests.clear()
            self._resources.clear()
            self._faults.clear()
            self._stalls.clear()

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        """Answer the next ``n`` API requests with ``status`` and Twilio code ``20000 + status``."""
        with self._lock:
            self._faults.extend([status] * n)

    def stall_next(self, n: int, seconds: float) -> None:
        """Delay the next ``n`` API requests by ``seconds`` before answering."""
        with self._lock:
            self._stalls.extend([seconds] * n)

    # ----------------------------------------------------------------- plumbing
    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return user == self.account_sid and password == self.auth_token

    async def _begin(self, request: Request) -> tuple[Form, tuple[int, int, str] | None]:
        """Common front door: stalls, faults, auth, account match. Returns the form and an early error."""
        pairs = [(k, v) for k, v in (await request.form()).multi_items() if isinstance(v, str)]
        form = Form(pairs)
        with self._lock:
            stall = self._stalls.pop(0) if self._stalls else 0.0
            fault = self._faults.pop(0) if self._faults else None
        if stall:
            await anyio.sleep(stall)
        if fault is not None:
            return form, (fault, 20000 + fault, "Injected fault")
        if not self._authorised(request):
            return form, (401, 20003, "Authenticate")
        if request.path_params["account"] != self.account_sid:
            return form, (404, 20404, "The requested resource was not found")
        return form, None

    def _record(self, request: Request, form: Form, response: JSONResponse, code: int | None) -> JSONResponse:
        with self._lock:
            self.requests.append(
                RecordedRequest(request.method, request.url.path, response.status_code, form, code)
            )
        return response

    def _reply(self, request: Request, form: Form, status: int, code: int, message: str) -> JSONResponse:
        return self._record(request, form, twilio_error(status, code, message), code)

    # ----------------------------------------------------------------- Messages
    def _message_resource(self, form: Form) -> dict[str, Any]:
        sid = "SM" + uuid.uuid4().hex
        now = _now()
        body = form.get("Body", "")
        return {
            "sid": sid,
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_updated": now,
            "date_sent": None,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": str(len(form.getlist("MediaUrl"))),
            "num_segments": str(max(1, -(-len(body) // 153)) if len(body) > 160 else 1),
            "price": None,
            "price_unit": "USD",
            "status": "queued" if form.get("From") else "accepted",
            "subresource_uris": {
                "media": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}/Media.json"
            },
            "to": form.get("To"),
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json",
        }

    async def _create_message(self, request: Request) -> JSONResponse:
        form, early = await self._begin(request)
        if early is not None:
            return self._reply(request, form, *early)
        to = form.get("To", "")
        if not to:
            return self._reply(request, form, 400, 21604, "A 'To' phone number is required.")
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return self._reply(request, form, 400, 21603, "A 'From' phone number is required.")
        if not (form.get("Body") or form.get("MediaUrl") or form.get("ContentSid")):
            return self._reply(request, form, 400, 21602, "Message body is required.")
        if len(form.get("Body", "")) > _MAX_BODY:
            return self._reply(
                request, form, 400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        if not _E164.match(to):
            return self._reply(request, form, 400, 21211, f"Invalid 'To' Phone Number: {to}")
        if "StatusCallback" in form and not _is_url(form["StatusCallback"]):
            return self._reply(request, form, 400, 21609, "Invalid StatusCallback url")
        with self._lock:
            opted_out = to in self.opted_out_numbers
        if opted_out:
            return self._reply(request, form, 400, 21610, "Attempt to send to unsubscribed recipient")
        resource = self._message_resource(form)
        with self._lock:
            self.messages.append(form)
            self._resources[resource["sid"]] = resource
        return self._record(request, form, JSONResponse(resource, status_code=201), None)

    async def _fetch_message(self, request: Request) -> JSONResponse:
        form, early = await self._begin(request)
        if early is not None:
            return self._reply(request, form, *early)
        with self._lock:
            resource = self._resources.get(request.path_params["sid"])
        if resource is None:
            return self._reply(request, form, 404, 20404, "The requested resource was not found")
        return self._record(request, form, JSONResponse(resource), None)

    # ----------------------------------------------------------------- Calls
    async def _create_call(self, request: Request) -> JSONResponse:
        form, early = await self._begin(request)
        if early is not None:
            return self._reply(request, form, *early)
        if not form.get("To"):
            return self._reply(request, form, 400, 21201, "No 'To' number is specified")
        if not form.get("From"):
            return self._reply(request, form, 400, 21213, "No 'From' number is specified")
        if not (form.get("Url") or form.get("Twiml") or form.get("ApplicationSid")):
            return self._reply(request, form, 400, 21205, "Url parameter is required.")
        sid = "CA" + uuid.uuid4().hex
        now = _now()
        resource = {
            "sid": sid,
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "to": form["To"],
            "from": form["From"],
            "status": "queued",
            "direction": "outbound-api",
            "date_created": now,
            "date_updated": now,
            "start_time": None,
            "end_time": None,
            "duration": None,
            "price": None,
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{sid}.json",
        }
        with self._lock:
            self.calls.append(form)
        return self._record(request, form, JSONResponse(resource, status_code=201), None)

    # ----------------------------------------------------------------- control surface
    async def _list_messages(self, request: Request) -> JSONResponse:
        with self._lock:
            return JSONResponse([f.lists for f in self.messages])

    async def _list_calls(self, request: Request) -> JSONResponse:
        with self._lock:
            return JSONResponse([f.lists for f in self.calls])
