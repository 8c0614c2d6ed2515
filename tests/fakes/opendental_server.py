"""A loopback Open Dental REST API (api/v1), written from the documented endpoints and conventions.

Seeded from the demo practice's Open Dental-shaped data (`pms.demo.opendental.to_opendental_json`):
string booleans and money, "0001-01-01" dates, office-local datetimes, enums as text (raw integers
in `PUT /queries/ShortQuery`, which runs the SELECT on an in-memory copy of the `patient` table).

- Auth: `Authorization: ODFHIR {DeveloperKey}/{CustomerKey}` or 401.
- Throttling per customer key by permission tier (read 5 s, write tiers 1 s): a request sooner than
  that after the last accepted one gets `429` (+ Retry-After). Permissions per tier: 401 otherwise.
- Paging: Limit/Offset, at most 100 rows a page.
- Faults: `econnector_down` (every request → 400 "eConnector is not running"); `fail_next(n, status)`;
  `lose_next(n, method, path_prefix, mode)`: the write is APPLIED, then the answer is lost (the
  request hangs past the client's timeout, or a 504 comes back).
- Every request is recorded with its arrival time (`requests`), for rate assertions.

    with FakeOpenDental() as od:
        od.base_url, od.developer_key, od.customer_key
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pms.demo.opendental import to_opendental_json
from pms.snapshot import PracticeSnapshot

TIER_INTERVAL = {"read": 5.0, "commlog": 1.0, "standard": 1.0, "payments": 1.0}
_RANK = {"read": 0, "commlog": 1, "standard": 2, "payments": 3}
# (method, path prefix) → the tier it needs; reads need "read".
_NEEDS = (
    ("PUT", "/queries", "commlog"),
    ("POST", "/commlogs", "commlog"),
    ("POST", "/tasks", "standard"),
    ("PUT", "/patients", "standard"),
    ("POST", "/payments", "payments"),
    ("POST", "/payplans", "payments"),
)
_PAT_STATUS = {"Patient": 0, "NonPatient": 1, "Inactive": 2, "Archived": 3, "Deceased": 4, "Prospective": 6}
_TXT_OK = {"Unknown": 0, "Yes": 1, "No": 2}
_PREFER = {
    "None": 0, "DoNotCall": 1, "HmPhone": 2, "WkPhone": 3, "WirelessPh": 4,
    "Email": 5, "SeeNotes": 6, "Mail": 7, "TextMessage": 8,
}  # fmt: skip
_QUERY_COLUMNS = (
    "PatNum", "Guarantor", "LName", "FName", "Birthdate", "PatStatus", "WirelessPhone", "HmPhone", "WkPhone",
    "Email", "TxtMsgOk", "PreferContactMethod", "Language", "State", "Zip", "FamFinUrgNote", "BillingType",
    "Bal_0_30", "Bal_31_60", "Bal_61_90", "BalOver90", "InsEst", "BalTotal", "PayPlanDue",
)  # fmt: skip
_BUCKETS = ("BalOver90", "Bal_61_90", "Bal_31_60", "Bal_0_30")
PAGE = 100
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Seen:
    at: float  # time.monotonic() on arrival
    method: str
    path: str
    status: int
    customer_key: str


@dataclass
class _Loss:
    method: str
    prefix: str
    mode: str  # "hang" | "504"


def _money(x: Any) -> Decimal:
    return Decimal(str(x or "0")).quantize(CENT)


def _num(x: Any) -> int:
    return int(str(x))


class FakeOpenDental:
    def __init__(
        self,
        snapshot: PracticeSnapshot | None = None,
        *,
        tier: str = "payments",
        throttle: bool = True,
        developer_key: str = "dev-key-123",
        customer_key: str = "cust-key-456",
        hang_seconds: float = 3.0,
        page_size: int = PAGE,
    ) -> None:
        if snapshot is None:
            from tests.integration.harness import demo_snapshot

            snapshot = demo_snapshot()
        self.snapshot = snapshot
        self._seed = to_opendental_json(snapshot)
        self._claimprocs_seed = _claimprocs(snapshot)
        self.tier = tier
        self.throttle = throttle
        self.developer_key = developer_key
        self.customer_key = customer_key
        self.hang_seconds = hang_seconds
        self.page_size = page_size  # 100 like Remote; 1000 like Local / API Service
        self.tz = ZoneInfo(self._seed["practice"]["TimeZone"])
        self._lock = threading.Lock()
        self.requests: list[Seen] = []
        self.econnector_down = False
        self._failures: list[int] = []
        self._losses: list[_Loss] = []
        self._last: dict[str, float] = {}
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self._dirty = True
        self.reset()
        self.app = Starlette(
            routes=[Route("/api/v1/{path:path}", self._handle, methods=["GET", "POST", "PUT"])]
        )

    # ---- state -------------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the seed data (copied again only after a write); faults and the request log cleared."""
        with self._lock:
            self.requests = []
            self.econnector_down = False
            self._failures = []
            self._losses = []
            self._last = {}
            if not self._dirty:
                return
            self._dirty = False
            seed = copy.deepcopy(self._seed)
            self.patients: dict[int, dict[str, Any]] = {p["PatNum"]: p for p in seed["patients"]}
            self.aging: dict[int, dict[str, Any]] = {a["PatNum"]: a for a in seed["aging"]}
            self.ledger: dict[int, list[dict[str, Any]]] = {
                int(g): rows for g, rows in seed["ledger"].items()
            }
            self.claims = seed["claims"]
            self.claimprocs = copy.deepcopy(self._claimprocs_seed)
            self.payments = seed["payments"]
            self.payplans = seed["payplans"]
            self.appointments = seed["appointments"]
            self.commlogs = seed["commlogs"]
            self.tasks: list[dict[str, Any]] = []
            self.definitions = seed["definitions"]["PaymentTypes"]
            self.prefs = {
                "PracticeTitle": seed["practice"]["PracticeTitle"],
                "PracticePhone": seed["practice"]["PracticePhone"],
                "DateLastAging": seed["practice"]["AsOf"],
            }

    def fail_next(self, n: int, status: int = 500) -> None:
        with self._lock:
            self._failures.extend([status] * n)

    def lose_next(self, n: int, method: str, prefix: str, mode: str = "hang") -> None:
        with self._lock:
            self._losses.extend(_Loss(method, prefix, mode) for _ in range(n))

    def count(self, path_prefix: str, method: str = "POST", status: int | None = None) -> int:
        return sum(
            1
            for r in self.requests
            if r.method == method
            and r.path.startswith(path_prefix)
            and (status is None or r.status == status)
        )

    # ---- lifecycle ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    def start(self) -> FakeOpenDental:
        config = uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="opendental-fake", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake Open Dental server did not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeOpenDental:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- the front door ------------------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        arrived = time.monotonic()
        path = "/" + request.path_params["path"].rstrip("/")
        method = request.method
        auth = request.headers.get("authorization", "")
        key = auth.split("/", 1)[1] if auth.startswith("ODFHIR ") and "/" in auth else ""
        loss: _Loss | None = None
        raw = await request.body() if method in ("POST", "PUT") else b""
        with self._lock:
            status, answer = self._gate(method, path, auth, key, arrived)
            if answer is None:
                try:
                    body = json.loads(raw) if raw else None
                    self._dirty = self._dirty or method != "GET"
                    status, data = self._route(method, path, dict(request.query_params), body)
                except (KeyError, ValueError, TypeError) as exc:
                    status, data = 400, f"Invalid request: {exc}"
                answer = JSONResponse(data, status_code=status)
                if method != "GET" and status < 300:
                    loss = self._take_loss(method, path)
            self.requests.append(Seen(arrived, method, path, status, key))
        if loss is not None:  # applied above; the answer never arrives
            if loss.mode == "504":
                return JSONResponse("Gateway timeout", status_code=504)
            await asyncio.sleep(self.hang_seconds)
        return answer

    def _gate(self, method: str, path: str, auth: str, key: str, now: float) -> tuple[int, Response | None]:
        if auth != f"ODFHIR {self.developer_key}/{self.customer_key}":
            return 401, JSONResponse("Unauthorized: bad ODFHIR developer/customer key", status_code=401)
        if self.throttle:
            interval = TIER_INTERVAL[self.tier]
            last = self._last.get(key)
            if last is not None and now - last < interval:
                # rounded down, the least a server may say: the client must not re-send on the dot
                retry = f"{math.floor((interval - (now - last)) * 100) / 100:.2f}"
                return 429, JSONResponse("Too many requests", status_code=429, headers={"Retry-After": retry})
            self._last[key] = now
        if self.econnector_down:
            return 400, JSONResponse("Office's eConnector is not running.", status_code=400)
        for m, prefix, needs in _NEEDS:
            if method == m and path.startswith(prefix) and _RANK[self.tier] < _RANK[needs]:
                return 401, JSONResponse(f"API permission missing: {needs}", status_code=401)
        if self._failures:
            status = self._failures.pop(0)
            return status, JSONResponse("Internal error", status_code=status)
        return 200, None

    def _take_loss(self, method: str, path: str) -> _Loss | None:
        for i, loss in enumerate(self._losses):
            if loss.method == method and path.startswith(loss.prefix):
                return self._losses.pop(i)
        return None

    # ---- routes --------------------------------------------------------------------------------

    def _route(self, method: str, path: str, q: dict[str, str], body: Any) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        head = parts[0]
        if method == "GET" and head == "preferences":
            name = q.get("PrefName", "")
            return 200, [{"PrefName": name, "ValueString": self.prefs.get(name, "")}]
        if method == "GET" and head == "definitions":
            return 200, self._page(self.definitions if q.get("Category") == "10" else [], q)
        if head == "patients":
            return self._patients(method, parts, q, body)
        if method == "GET" and head == "accountmodules" and len(parts) == 3:
            gid = _num(parts[1])
            if parts[2] == "Aging":
                return (200, self.aging[gid]) if gid in self.aging else (200, _zero_aging(gid))
            if parts[2] == "ServiceDateView":
                return 200, self.ledger.get(gid, [])
        if method == "PUT" and path == "/queries/ShortQuery":
            return 200, self._query(str(body["SqlCommand"]), int(q.get("Offset", "0")))
        if method == "GET" and head in ("claims", "claimprocs", "appointments"):
            rows = {"claims": self.claims, "claimprocs": self.claimprocs, "appointments": self.appointments}[
                head
            ]
            rows = [r for r in rows if str(r["PatNum"]) == q.get("PatNum", str(r["PatNum"]))]
            if head == "appointments" and q.get("dateStart"):
                rows = [r for r in rows if r["AptDateTime"][:10] >= q["dateStart"]]
            return 200, self._page(rows, q)
        if head == "payments":
            return self._payments(method, q, body)
        if head == "payplans":
            return self._payplans(method, parts, q, body)
        if head == "commlogs":
            return self._commlogs(method, q, body)
        if head == "tasks":
            if method == "POST":
                task = {
                    **body,
                    "TaskNum": len(self.tasks) + 1,
                    "TaskStatus": "New",
                    "DateTimeEntry": self._now(),
                }
                self.tasks.append(task)
                return 201, task
            rows = [t for t in self.tasks if str(t["KeyNum"]) == q.get("KeyNum", str(t["KeyNum"]))]
            return 200, self._page(rows, q)
        return 404, f"Unknown endpoint {method} {path}"

    def _page(self, rows: list[Any], q: dict[str, str]) -> list[Any]:
        limit = min(int(q.get("Limit", self.page_size)), self.page_size)
        offset = int(q.get("Offset", "0"))
        return rows[offset : offset + limit]

    def _now(self) -> str:
        return datetime.now(self.tz).strftime("%Y-%m-%d %H:%M:%S")

    def _patients(self, method: str, parts: list[str], q: dict[str, str], body: Any) -> tuple[int, Any]:
        if len(parts) == 2 and parts[1] != "Simple":
            pat = self.patients.get(_num(parts[1]))
            if pat is None:
                return 404, "Patient not found"
            if method == "PUT":
                allowed = {"TxtMsgOk", "PreferContactMethod", "Email", "WirelessPhone", "HmPhone", "WkPhone"}
                unknown = set(body) - allowed
                if unknown:
                    return 400, f"Fields not allowed: {sorted(unknown)}"
                if "TxtMsgOk" in body and body["TxtMsgOk"] not in _TXT_OK:
                    return 400, "TxtMsgOk must be Unknown, Yes or No"
                if "PreferContactMethod" in body and body["PreferContactMethod"] not in _PREFER:
                    return 400, "PreferContactMethod is invalid"
                pat.update(body, DateTStamp=self._now())
            return 200, pat
        rows = list(self.patients.values())
        if len(parts) == 2:  # /patients/Simple
            if q.get("Guarantor"):
                rows = [p for p in rows if str(p["Guarantor"]) == q["Guarantor"]]
            if q.get("DateTStamp"):
                rows = [p for p in rows if p["DateTStamp"] >= q["DateTStamp"]]
            return 200, self._page(rows, q)
        if q.get("Phone"):
            digits = "".join(ch for ch in q["Phone"] if ch.isdigit())
            rows = [
                p
                for p in rows
                if any(
                    digits in "".join(c for c in str(p[f]) if c.isdigit())
                    for f in ("HmPhone", "WkPhone", "WirelessPhone")
                )
            ]
        for field in ("LName", "FName"):
            if q.get(field):
                rows = [p for p in rows if str(p[field]).lower().startswith(q[field].lower())]
        if q.get("Birthdate"):
            rows = [p for p in rows if p["Birthdate"] == q["Birthdate"]]
        return 200, self._page(rows, q)

    def _query(self, sql: str, offset: int) -> list[dict[str, Any]]:
        if not sql.lstrip().upper().startswith("SELECT") or ";" in sql.strip().rstrip(";"):
            raise ValueError("only a single SELECT is allowed")
        db = sqlite3.connect(":memory:")
        db.execute(f"CREATE TABLE patient ({', '.join(_QUERY_COLUMNS)})")
        for p in self.patients.values():
            ag = self.aging.get(p["PatNum"]) if p["PatNum"] == p["Guarantor"] else None
            row = {
                **{c: p.get(c, "") for c in _QUERY_COLUMNS},
                "PatStatus": _PAT_STATUS.get(p["PatStatus"], 0),
                "TxtMsgOk": _TXT_OK.get(p["TxtMsgOk"], 0),
                "PreferContactMethod": _PREFER.get(p["PreferContactMethod"], 0),
            }
            for col in ("Bal_0_30", "Bal_31_60", "Bal_61_90", "BalOver90", "BalTotal", "PayPlanDue"):
                row[col] = float(_money(ag[col])) if ag else 0.0
            row["InsEst"] = float(_money(ag["InsEst"])) if ag else 0.0
            db.execute(
                f"INSERT INTO patient VALUES ({', '.join('?' * len(_QUERY_COLUMNS))})",
                [row[c] for c in _QUERY_COLUMNS],
            )
        db.execute("CREATE TABLE claim (ClaimNum, PatNum, ClaimStatus, WriteOff)")
        db.executemany(
            "INSERT INTO claim VALUES (?, ?, ?, ?)",
            [
                (c["ClaimNum"], c["PatNum"], c["ClaimStatus"], float(_money(c["WriteOff"])))
                for c in self.claims
            ],
        )
        cur = db.execute(f"SELECT * FROM ({sql.rstrip(';')}) LIMIT {PAGE} OFFSET {int(offset)}")
        names = [d[0] for d in cur.description]
        out = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        db.close()
        return out

    def _payments(self, method: str, q: dict[str, str], body: Any) -> tuple[int, Any]:
        if method == "GET":
            rows = [p for p in self.payments if str(p["PatNum"]) == q.get("PatNum", str(p["PatNum"]))]
            if q.get("DateEntry"):
                rows = [p for p in rows if p["DateEntry"] >= q["DateEntry"]]
            return 200, self._page(rows, q)
        pat = self.patients[_num(body["PatNum"])]
        amount = _money(body["PayAmt"])
        if amount <= 0:
            return 400, "PayAmt must be positive"
        names = {str(d["DefNum"]): d["ItemName"] for d in self.definitions}
        if str(body["PayType"]) not in names:
            return 400, "PayType is not a payment type definition"
        pay = {
            "PayNum": 1 + max((_num(p["PayNum"]) for p in self.payments), default=0),
            "PatNum": pat["PatNum"],
            "PayAmt": f"{amount:.2f}",
            "PayDate": body.get("PayDate") or self._now()[:10],
            "PayType": str(body["PayType"]),
            "payType": names[str(body["PayType"])],
            "PayNote": " ".join(str(body.get("PayNote", "")).split()),
            "CheckNum": body.get("CheckNum", ""),
            "DateEntry": self._now()[:10],
            "SecDateTEdit": self._now(),
        }
        self.payments.append(pay)
        self._post_credit(pat["Guarantor"], amount, pay)
        return 201, pay

    def _post_credit(self, gid: int, amount: Decimal, pay: dict[str, Any]) -> None:
        """A payment lowers the family aging (oldest bucket first) and lands in the ledger."""
        ag = self.aging.setdefault(gid, _zero_aging(gid))
        left = amount
        for b in _BUCKETS:
            take = min(left, max(Decimal(0), _money(ag[b])))
            ag[b] = f"{_money(ag[b]) - take:.2f}"
            left -= take
        for f in ("Total", "BalTotal", "EstBal", "PatEstBal"):
            ag[f] = f"{_money(ag[f]) - amount:.2f}"
        ag["DateLastPay"] = pay["PayDate"]
        pat = self.patients[gid]
        pat["BalTotal"], pat["EstBalance"], pat["DateTStamp"] = ag["Total"], ag["EstBal"], self._now()
        rows = self.ledger.setdefault(gid, [])
        bal = _money(rows[-1]["AcctBal"]) - amount if rows else -amount
        line = {
            "ObjectType": "PaySplit", "PrimaryKey": str(pay["PayNum"]), "Type": "PatPay Att.", "PatNum": str(gid),
            "ServiceDate": pay["PayDate"], "TransDate": pay["PayDate"], "Reference": "", "Description": "Payment",
            "Charge": "", "Credit": f"{amount:.2f}", "InsBal": rows[-1]["InsBal"] if rows else "0.00",
            "AcctBal": f"{bal:.2f}",
        }  # fmt: skip
        if rows and rows[-1]["Type"] == "Overall Total":
            total = rows.pop()
            total["Credit"], total["AcctBal"] = f"{_money(total['Credit']) + amount:.2f}", f"{bal:.2f}"
            rows.extend([line, total])
        else:
            rows.append(line)

    def _payplans(self, method: str, parts: list[str], q: dict[str, str], body: Any) -> tuple[int, Any]:
        if method == "GET":
            rows = [
                p for p in self.payplans if str(p["Guarantor"]) == q.get("Guarantor", str(p["Guarantor"]))
            ]
            return 200, self._page(rows, q)
        if parts[-1] != "Dynamic":
            return 404, "Use POST payplans/Dynamic"
        procs, adjs = body.get("procNums") or [], body.get("adjNums") or []
        if not procs and not adjs:
            return 400, "procNums or adjNums is required"
        gid = _num(body.get("Guarantor") or body["PatNum"])
        rows = self.ledger.get(gid, [])
        wanted = {str(x) for x in procs + adjs}
        attached = sum(
            (_money(r["Charge"]) for r in rows if r["PrimaryKey"] in wanted and r["Charge"]), Decimal(0)
        )
        if len(wanted & {r["PrimaryKey"] for r in rows}) != len(wanted):
            return 400, "procNums/adjNums must belong to the family"
        owed = _money(self.aging.get(gid, _zero_aging(gid))["EstBal"])
        principal = min(attached, owed)
        down = _money(body.get("DownPayment"))
        if "NumberOfPayments" in body and "PayAmt" in body:
            return 400, "Send PayAmt or NumberOfPayments, not both"
        if body.get("NumberOfPayments"):
            n = int(body["NumberOfPayments"])
            pay_amt = ((principal - down) / n).quantize(CENT)
        else:
            pay_amt = _money(body["PayAmt"])
            n = int(-(-(principal - down) // pay_amt))
        plan = {
            "PayPlanNum": 1 + max((_num(p["PayPlanNum"]) for p in self.payplans), default=0),
            "PatNum": _num(body["PatNum"]), "Guarantor": gid, "PayPlanDate": self._now()[:10], "APR": "0",
            "Note": " ".join(str(body.get("Note", "")).split()), "CompletedAmt": f"{principal:.2f}",
            "PayAmt": f"{pay_amt:.2f}", "NumberOfPayments": n, "DownPayment": f"{down:.2f}",
            "ChargeFrequency": body.get("ChargeFrequency", "Monthly"),
            "DatePayPlanStart": body.get("DatePayPlanStart") or self._now()[:10], "IsClosed": "false",
            "IsDynamic": "true", "PaidToDate": "0.00", "PayPlanDue": "0.00", "PayPlanCharges": [],
        }  # fmt: skip
        self.payplans.append(plan)
        return 201, plan

    def _commlogs(self, method: str, q: dict[str, str], body: Any) -> tuple[int, Any]:
        if method == "GET":
            rows = [c for c in self.commlogs if str(c["PatNum"]) == q.get("PatNum", str(c["PatNum"]))]
            if q.get("DateTStamp"):
                rows = [c for c in rows if c["DateTStamp"] >= q["DateTStamp"]]
            return 200, self._page(rows, q)
        if not str(body.get("Note") or "").strip():
            return 400, "Note is required"
        if "commType" in body and "CommType" in body:
            return 400, "Send commType or CommType, not both"
        if _num(body["PatNum"]) not in self.patients:
            return 400, "PatNum is invalid"
        log = {
            "CommlogNum": 1 + max((_num(c["CommlogNum"]) for c in self.commlogs), default=0),
            "PatNum": _num(body["PatNum"]),
            "CommDateTime": body.get("CommDateTime") or self._now(),
            "commType": body.get("commType", "Misc"),
            "Note": " ".join(str(body["Note"]).split()),  # line breaks come back as spaces
            "Mode_": body.get("Mode_", "None"),
            "SentOrReceived": body.get("SentOrReceived", "Neither"),
            "DateTStamp": self._now(),
        }
        self.commlogs.append(log)
        return 201, log


def _zero_aging(gid: int) -> dict[str, Any]:
    zero = "0.00"
    return {
        "PatNum": gid, "Guarantor": gid, "Bal_0_30": zero, "Bal_31_60": zero, "Bal_61_90": zero, "BalOver90": zero,
        "BalTotal": zero, "Total": zero, "InsEst": zero, "InsWoEst": zero, "EstBal": zero, "PatEstBal": zero,
        "PayPlanDue": zero, "Unearned": zero, "DateLastPay": "0001-01-01", "DateLastStatement": "0001-01-01",
    }  # fmt: skip


def _claimprocs(snapshot: PracticeSnapshot) -> list[dict[str, Any]]:
    """Claim procedures linking ledger lines to claims (procedures: NotReceived while pending)."""
    rows: list[dict[str, Any]] = []
    for line in snapshot.ledger:
        if not line.claim_id:
            continue
        is_proc = line.kind == "charge"
        rows.append(
            {
                "ClaimProcNum": (str(10_000_000 + int(line.line_id)) if is_proc else line.line_id),
                "ProcNum": line.line_id if is_proc else "0",
                "ClaimNum": line.claim_id,
                "PatNum": line.patient_id,
                "Status": "NotReceived" if line.insurance_pending else "Received",
            }
        )
    return rows
