"""FakeTwilio plus the Call *update* endpoint (``POST /2010-04-01/Accounts/{AC}/Calls/{CA}.json``).

Twilio's wire behaviour: ``Twiml`` / ``Url`` / ``Status=completed`` form fields, ``200`` + the call
resource; an unknown call → 404 (20404); a call that has already ended → 400 with code 21220
("Call is not in-progress. Cannot redirect."). ``end_call(sid)`` marks a call ended for a test.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.twilio_rest import FakeTwilio, Form


class CallsFakeTwilio(FakeTwilio):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.call_sids: list[str] = []
        self.call_updates: list[tuple[str, Form]] = []
        self.ended_calls: set[str] = set()
        self.app.router.routes.append(
            Route("/2010-04-01/Accounts/{account}/Calls/{sid}.json", self._update_call, methods=["POST"])
        )

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.call_sids.clear()
            self.call_updates.clear()
            self.ended_calls.clear()

    def end_call(self, sid: str) -> None:
        with self._lock:
            self.ended_calls.add(sid)

    def updates_of(self, sid: str) -> list[Form]:
        with self._lock:
            return [form for s, form in self.call_updates if s == sid]

    async def _create_call(self, request: Request) -> JSONResponse:
        response = await super()._create_call(request)
        if response.status_code == 201:
            sid = json.loads(bytes(response.body))["sid"]
            with self._lock:
                self.call_sids.append(sid)
        return response

    async def _update_call(self, request: Request) -> JSONResponse:
        form, early = await self._begin(request)
        if early is not None:
            return self._reply(request, form, *early)
        sid = request.path_params["sid"]
        with self._lock:
            known = sid in self.call_sids
            ended = sid in self.ended_calls
        if not known:
            return self._reply(request, form, 404, 20404, "The requested resource was not found")
        if ended:
            return self._reply(request, form, 400, 21220, "Call is not in-progress. Cannot redirect.")
        if not (form.get("Twiml") or form.get("Url") or form.get("Status")):
            return self._reply(request, form, 400, 21205, "Url parameter is required.")
        status = "completed" if form.get("Status") == "completed" else "in-progress"
        with self._lock:
            self.call_updates.append((sid, form))
            if status == "completed":
                self.ended_calls.add(sid)
        resource = {
            "sid": sid,
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "status": status,
            "direction": "outbound-api",
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Calls/{sid}.json",
        }
        return self._record(request, form, JSONResponse(resource), None)
