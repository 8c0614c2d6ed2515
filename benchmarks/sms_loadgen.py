"""The load generator: a separate process that plays a plan of signed inbound-SMS webhooks open-loop.

    python -m benchmarks.sms_loadgen PLAN.json RESULTS.json

Protocol with the parent (stdin/stdout lines): it signs every request up front (signing is not
part of the timed work), prints `READY`, waits for `GO`, prints `T0 <unix time>` and then fires
each request at `T0 + t` whether or not earlier ones have answered (open loop: a slow server
cannot slow the arrivals down, so queueing shows up as latency instead of being hidden).
Latency is measured from the *scheduled* instant, which charges any lateness of the generator
itself to the result (no coordinated omission); the time from the actual send is kept too.

Plan: {"url", "public_base_url", "auth_token", "path", "timeout", "connections",
"requests": [[t, message_sid, from, to, body], ...]} (sorted by t).
Results: {"t0", "rows": [[index, scheduled, sent, done, status, error, retries], ...]} with times
in seconds relative to T0; `done` is the first answer, `status` the last one: a 503 with
Retry-After (the app still processing the same MessageSid) is sent again after that delay, up to
MAX_RETRIES times, as Twilio would.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

from tests.fakes.twilio_signing import sign_form

MAX_RETRIES = 5


def _signed(plan: dict[str, Any]) -> list[tuple[float, bytes, dict[str, str]]]:
    public = plan["public_base_url"].rstrip("/") + plan["path"]
    out = []
    for t, sid, from_, to, body in plan["requests"]:
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "SmsMessageSid": sid,
            "AccountSid": plan["account_sid"],
            "From": from_,
            "To": to,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }
        headers = sign_form(plan["auth_token"], public, params)
        out.append((float(t), urlencode(params).encode(), headers))
    return out


async def _play(plan: dict[str, Any], signed: list[tuple[float, bytes, dict[str, str]]]) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    url = plan["url"].rstrip("/") + plan["path"]
    rows: list[list[Any]] = [[] for _ in signed]
    timeout = aiohttp.ClientTimeout(total=float(plan.get("timeout", 30)))
    connector = aiohttp.TCPConnector(
        limit=int(plan.get("connections", 512)), keepalive_timeout=3
    )  # < uvicorn's 5 s: never reuse a connection the server is closing
    tasks: set[asyncio.Task[None]] = set()

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def post(body: bytes, headers: dict[str, str]) -> tuple[int, str, float]:
            status, error, retry_after = -1, "", 0.0
            try:
                async with session.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    status = resp.status
                    if status == 503:
                        retry_after = float(resp.headers.get("Retry-After", "0") or 0)
            except Exception as exc:  # every failure is a result, not a crash
                error = type(exc).__name__
            return status, error, retry_after

        async def send(i: int, t: float, body: bytes, headers: dict[str, str], m0: float) -> None:
            sent = loop.time() - m0
            status, error, retry_after = await post(body, headers)
            first_done = loop.time() - m0
            retries = 0
            # Like Twilio: a 503 with Retry-After ("still processing this MessageSid") is retried.
            while status == 503 and retry_after > 0 and retries < MAX_RETRIES:
                retries += 1
                await asyncio.sleep(min(retry_after, 10.0))
                status, error, retry_after = await post(body, headers)
            rows[i] = [i, t, sent, first_done, status, error, retries]

        # Open a handful of connections before T0 so the first second is not all TCP handshakes.
        await asyncio.gather(
            *(session.get(plan["url"].rstrip("/") + "/healthz") for _ in range(8)), return_exceptions=True
        )
        print("READY", flush=True)
        await loop.run_in_executor(None, sys.stdin.readline)
        wall0 = time.time() + 0.2
        m0 = loop.time() + 0.2
        print(f"T0 {wall0:.6f}", flush=True)
        for i, (t, body, headers) in enumerate(signed):
            delay = m0 + t - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            task = loop.create_task(send(i, t, body, headers, m0))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        while tasks:
            await asyncio.gather(*list(tasks))
    return {"t0": wall0, "rows": rows}


def main() -> None:
    plan_path, out_path = Path(sys.argv[1]), Path(sys.argv[2])
    plan = json.loads(plan_path.read_text())
    signed = _signed(plan)
    try:
        import uvloop  # uvicorn[standard] brings it; the generator should be cheap per request

        result = uvloop.run(_play(plan, signed))
    except ImportError:  # pragma: no cover
        result = asyncio.run(_play(plan, signed))
    out_path.write_text(json.dumps(result))
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
