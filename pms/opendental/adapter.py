"""`OpenDentalPms`: the `PmsAdapter` over Open Dental's REST API.

Reads map the documented endpoints onto `pms.types`; writes (in `writes`) follow the permission
tier: what the tier cannot record returns `queued_manual` (staff key it from the write-back export)
and `capabilities()` says so, so the agent only tells a patient what the PMS will really record.
Any `OpenDentalUnavailable` (eConnector down, 5xx after retries) surfaces as `PmsUnavailable`.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from pms.local.convert import name_key
from pms.opendental import parse
from pms.opendental.client import OpenDentalError
from pms.opendental.conventions import od_date, od_id
from pms.opendental.writes import OpenDentalWrites
from pms.phones import to_e164
from pms.protocol import PmsUnavailable
from pms.types import (
    AccountSummary,
    Appointment,
    ChangeSet,
    Claim,
    CommEntry,
    LedgerLine,
    Page,
    Patient,
    Payment,
    PaymentPlan,
    PmsHealth,
    PracticeInfo,
    Promise,
)

# Guarantor rows of the `patient` table carry the family aging Open Dental computed last
# (enums are raw database integers in a query, not the API's names).
_OPEN_CLAIMS = (
    "FROM claim JOIN patient fam ON fam.PatNum = claim.PatNum "
    "WHERE fam.Guarantor = patient.PatNum AND claim.ClaimStatus IN ('U', 'H', 'W', 'S', 'I')"
)
WORKLIST_SQL = (
    "SELECT * FROM (SELECT PatNum, Guarantor, LName, FName, Birthdate, PatStatus, WirelessPhone, HmPhone, "
    "WkPhone, Email, TxtMsgOk, PreferContactMethod, Language, State, Zip, FamFinUrgNote, "
    "Bal_0_30, Bal_31_60, Bal_61_90, BalOver90, InsEst, BalTotal, PayPlanDue, "
    f"(SELECT COUNT(*) {_OPEN_CLAIMS}) AS OpenClaims, "
    f"COALESCE((SELECT SUM(claim.WriteOff) {_OPEN_CLAIMS}), 0) AS WoEst "
    "FROM patient WHERE PatNum = Guarantor AND PatStatus != 5) g{balance} ORDER BY g.PatNum"
)
_PAT_STATUS = {0: "Patient", 1: "NonPatient", 2: "Inactive", 3: "Archived", 4: "Deceased", 6: "Prospective"}
_TXT_OK = {0: "Unknown", 1: "Yes", 2: "No"}
_PREFER = {
    0: "None", 1: "DoNotCall", 2: "HmPhone", 3: "WkPhone", 4: "WirelessPh",
    5: "Email", 6: "SeeNotes", 7: "Mail", 8: "TextMessage",
}  # fmt: skip


class OpenDentalPms(OpenDentalWrites):
    # ---- identity & health -------------------------------------------------------------------------

    async def _pref(self, name: str) -> str:
        got = await self.client.get("/preferences", {"PrefName": name})
        row = got[0] if isinstance(got, list) and got else got
        return str(row.get("ValueString", "")) if isinstance(row, dict) else ""

    async def practice(self) -> PracticeInfo:
        title = await self._pref("PracticeTitle")
        phone = to_e164(await self._pref("PracticePhone"))
        return PracticeInfo(self.practice_id, title or self.practice_id, self.tz_name, phone)

    async def health(self) -> PmsHealth:
        """Reachable when Open Dental answers; `last_aging_at` is its DateLastAging preference."""
        try:
            last = od_date(await self._pref("DateLastAging"))
        except PmsUnavailable as exc:
            return PmsHealth(reachable=False, detail=str(exc)[:200])
        except OpenDentalError as exc:
            return PmsHealth(reachable=False, detail=f"Open Dental refused: {exc.status}")
        at = datetime.combine(last, time(0), self.tz) if last else None
        return PmsHealth(
            reachable=True, detail=f"ok ({self.client.mode}, tier {self.tier})", last_aging_at=at
        )

    # ---- reads: people -------------------------------------------------------------------------------

    async def get_patient(self, patient_id: str) -> Patient | None:
        row = await self._patient_row(patient_id)
        return parse.patient(row, self.tz_name) if row else None

    async def find_patients_by_phone(self, phone_e164: str) -> list[Patient]:
        """Caller-ID match: Open Dental searches its phone fields by digits; we keep exact E.164 matches."""
        number = to_e164(phone_e164)
        if number is None:
            return []
        digits = number[2:] if number.startswith("+1") else number.lstrip("+")
        rows = await self.client.get_all("/patients", {"Phone": digits})
        found = [
            p for p in (parse.patient(r, self.tz_name) for r in rows) if number in {c.value for c in p.phones}
        ]
        return sorted(found, key=lambda p: (p.patient_id != p.guarantor_id, p.patient_id))

    async def find_patients_by_name_dob(
        self, first_name: str, last_name: str, date_of_birth: date
    ) -> list[Patient]:
        first, last = name_key(first_name), name_key(last_name)
        if not first or not last:
            return []
        params = {
            "LName": last_name.strip(),
            "FName": first_name.strip(),
            "Birthdate": date_of_birth.isoformat(),
        }
        rows = await self.client.get_all("/patients", params)
        people = [parse.patient(r, self.tz_name) for r in rows]
        return [
            p
            for p in people
            if name_key(p.first_name) == first
            and name_key(p.last_name) == last
            and p.date_of_birth == date_of_birth
        ]

    async def get_family(self, guarantor_id: str) -> list[Patient]:
        if not guarantor_id.isdigit():
            return []
        rows = await self.client.get_all("/patients/Simple", {"Guarantor": guarantor_id})
        people = [parse.patient(r, self.tz_name) for r in rows]
        return sorted(
            (p for p in people if p.guarantor_id == guarantor_id),
            key=lambda p: (p.patient_id != guarantor_id, p.patient_id),
        )

    # ---- reads: accounts -----------------------------------------------------------------------------

    async def get_account(self, guarantor_id: str) -> AccountSummary | None:
        row = await self._patient_row(guarantor_id)
        if row is None or od_id(row.get("Guarantor")) not in ("", guarantor_id):
            return None
        aging = await self.client.get(f"/accountmodules/{guarantor_id}/Aging")
        guarantor = parse.patient(row, self.tz_name)
        return parse.account(guarantor, aging or {}, str(row.get("BillingType") or ""))

    async def list_accounts(
        self, *, has_balance: bool = True, limit: int = 100, offset: int = 0
    ) -> Page[AccountSummary]:
        """The worklist via the bulk aging query (`PUT /queries/ShortQuery`, 100 rows a page)."""
        if self.tier == "read":
            raise PmsUnavailable(
                "listing accounts needs Open Dental's query permission (OPENDENTAL_TIER=commlog+)"
            )
        sql = WORKLIST_SQL.format(
            balance=" WHERE g.BalTotal - g.InsEst - g.WoEst > 0.005" if has_balance else ""
        )
        rows: list[dict[str, Any]] = []
        at = offset
        while len(rows) < limit:
            page = await self.client.query(sql, offset=at)
            rows.extend(page)
            at += len(page)
            if len(page) < 100:
                break
        items = [parse.worklist_account(_api_names(r), self.tz_name) for r in rows[:limit]]
        return Page(items=items, total=None, offset=offset, limit=limit)

    # ---- reads: family histories ---------------------------------------------------------------------

    async def get_ledger(self, guarantor_id: str, *, since: date | None = None) -> list[LedgerLine]:
        if not guarantor_id.isdigit():
            return []
        rows = await self.client.get(f"/accountmodules/{guarantor_id}/ServiceDateView", {"isFamily": "true"})
        claim_of: dict[str, tuple[str, bool]] = {}
        for member in await self.get_family(guarantor_id):
            for cp in await self.client.get_all("/claimprocs", {"PatNum": member.patient_id}):
                claim_num = od_id(cp.get("ClaimNum"))
                if not claim_num:
                    continue
                pending = str(cp.get("Status") or "").strip() in ("NotReceived", "Estimate")
                claim_of[od_id(cp.get("ClaimProcNum"))] = (claim_num, pending)
                proc = od_id(cp.get("ProcNum"))
                if proc:
                    claim_of[proc] = (claim_num, pending or claim_of.get(proc, ("", False))[1])
        lines = parse.ledger(list(rows or []), claim_of)
        if since is not None:
            lines = [x for x in lines if x.posted_date >= since]
        return sorted(lines, key=lambda x: (x.posted_date, x.kind != "charge"))

    async def get_payments(self, guarantor_id: str) -> list[Payment]:
        if not guarantor_id.isdigit():
            return []
        rows = await self.client.get_all("/payments", {"PatNum": guarantor_id})
        names = await self._payment_types()
        found = [parse.payment(r, names, self.tz) for r in rows if od_date(r.get("PayDate"))]
        return sorted(found, key=lambda p: (-p.paid_on.toordinal(), p.payment_id))

    async def get_payment_plans(self, guarantor_id: str) -> list[PaymentPlan]:
        if not guarantor_id.isdigit():
            return []
        rows = await self.client.get_all("/payplans", {"Guarantor": guarantor_id})
        today = self.clock().astimezone(self.tz).date()
        plans = [parse.payment_plan(r, today) for r in rows]
        return sorted(plans, key=lambda p: (p.first_due, p.plan_id), reverse=True)

    async def get_promises(self, guarantor_id: str) -> list[Promise]:
        """Promises are comm logs in Open Dental ("Payment promise: $X by YYYY-MM-DD. …")."""
        today = self.clock().astimezone(self.tz).date()
        entries = await self._comms(guarantor_id)
        found = [p for p in (parse.promise(e, guarantor_id, today) for e in entries) if p is not None]
        return sorted(found, key=lambda p: (p.due_on, p.promise_id), reverse=True)

    async def get_claims(self, guarantor_id: str) -> list[Claim]:
        claims: list[Claim] = []
        for member in await self.get_family(guarantor_id):
            claims.extend(
                parse.claim(r) for r in await self.client.get_all("/claims", {"PatNum": member.patient_id})
            )
        return sorted(claims, key=lambda c: (c.service_date, c.claim_id), reverse=True)

    async def get_appointments(
        self, guarantor_id: str, *, from_date: date | None = None
    ) -> list[Appointment]:
        found: list[Appointment] = []
        for member in await self.get_family(guarantor_id):
            params: dict[str, Any] = {"PatNum": member.patient_id}
            if from_date is not None:
                params["dateStart"] = from_date.isoformat()
            for r in await self.client.get_all("/appointments", params):
                apt = parse.appointment(r, self.tz)
                if apt is not None and (
                    from_date is None or apt.start.astimezone(self.tz).date() >= from_date
                ):
                    found.append(apt)
        return sorted(found, key=lambda a: (a.start, a.appointment_id))

    async def _comms(self, patient_id: str) -> list[CommEntry]:
        if not patient_id.isdigit():
            return []
        rows = await self.client.get_all("/commlogs", {"PatNum": patient_id})
        return [e for e in (parse.comm(r, self.tz) for r in rows) if e is not None]

    async def get_comm_history(self, patient_id: str, *, limit: int = 50) -> list[CommEntry]:
        entries = await self._comms(patient_id)
        return sorted(entries, key=lambda e: (e.at, e.comm_id), reverse=True)[:limit]

    async def changes_since(self, cursor: str | None) -> ChangeSet:
        """Guarantors whose patient rows, payments or comm logs changed after `cursor` (an office-local
        DateTStamp). Webhooks do not cover financial tables, so this polls; overlap is harmless."""
        stamp = cursor or "0001-01-01 00:00:00"
        newest = stamp
        ids: set[str] = set()
        for r in await self.client.get_all("/patients/Simple", {"DateTStamp": stamp}):
            ids.add(od_id(r.get("Guarantor")) or od_id(r.get("PatNum")))
            newest = max(newest, str(r.get("DateTStamp") or ""))
        if cursor is not None:
            guarantor_of: dict[str, str] = {}
            for r in await self.client.get_all("/payments", {"DateEntry": stamp[:10]}):
                ids.add(od_id(r.get("PatNum")))
            for r in await self.client.get_all("/commlogs", {"DateTStamp": stamp}):
                pid = od_id(r.get("PatNum"))
                if pid not in guarantor_of:
                    person = await self._patient_row(pid)
                    guarantor_of[pid] = od_id(person.get("Guarantor")) if person else pid
                ids.add(guarantor_of[pid])
                newest = max(newest, str(r.get("DateTStamp") or ""))
        ids.discard("")
        return ChangeSet(guarantor_ids=sorted(ids), cursor=newest)


def _api_names(row: dict[str, Any]) -> dict[str, Any]:
    """A query row's integer enums as the API's names (the rest of the parser expects those)."""
    out = dict(row)
    for name, table in (("PatStatus", _PAT_STATUS), ("TxtMsgOk", _TXT_OK), ("PreferContactMethod", _PREFER)):
        value = row.get(name)
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            out[name] = table.get(int(value), "None")
    return out
