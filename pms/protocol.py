"""The PMS adapter protocol: reads the agent needs and idempotent write-backs.

Every write takes a request carrying a deterministic `idempotency_key`; an adapter must make a
repeated write with the same key a no-op returning `already_exists` (or the same `created` id).
An adapter that cannot perform a write returns `unsupported` or `queued_manual`, never raises.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol, runtime_checkable

from pms.types import (
    AccountSummary,
    Appointment,
    Capabilities,
    ChangeSet,
    Claim,
    CommEntry,
    CommLogWrite,
    ContactPreferenceWrite,
    LedgerLine,
    Page,
    Patient,
    Payment,
    PaymentPlan,
    PaymentPlanWrite,
    PaymentWrite,
    PmsHealth,
    PracticeInfo,
    Promise,
    PromiseWrite,
    WriteResult,
)


class PmsUnavailable(RuntimeError):
    """The PMS cannot be reached right now (network, eConnector down, 5xx after retries)."""


@runtime_checkable
class PmsAdapter(Protocol):
    # ---- identity & health
    async def practice(self) -> PracticeInfo: ...
    def capabilities(self) -> Capabilities: ...
    async def health(self) -> PmsHealth: ...

    # ---- reads
    async def list_accounts(
        self, *, has_balance: bool = True, limit: int = 100, offset: int = 0
    ) -> Page[AccountSummary]: ...
    async def get_patient(self, patient_id: str) -> Patient | None: ...
    async def find_patients_by_phone(self, phone_e164: str) -> list[Patient]: ...
    async def find_patients_by_name_dob(
        self, first_name: str, last_name: str, date_of_birth: date
    ) -> list[Patient]: ...
    async def get_family(self, guarantor_id: str) -> list[Patient]: ...
    async def get_account(self, guarantor_id: str) -> AccountSummary | None: ...
    async def get_ledger(self, guarantor_id: str, *, since: date | None = None) -> list[LedgerLine]: ...
    async def get_payments(self, guarantor_id: str) -> list[Payment]: ...
    async def get_payment_plans(self, guarantor_id: str) -> list[PaymentPlan]: ...
    async def get_promises(self, guarantor_id: str) -> list[Promise]: ...
    async def get_claims(self, guarantor_id: str) -> list[Claim]: ...
    async def get_appointments(
        self, guarantor_id: str, *, from_date: date | None = None
    ) -> list[Appointment]: ...
    async def get_comm_history(self, patient_id: str, *, limit: int = 50) -> list[CommEntry]: ...
    async def changes_since(self, cursor: str | None) -> ChangeSet: ...

    # ---- idempotent write-backs
    async def write_comm_log(self, req: CommLogWrite) -> WriteResult: ...
    async def record_promise(self, req: PromiseWrite) -> WriteResult: ...
    async def record_payment(self, req: PaymentWrite) -> WriteResult: ...
    async def create_payment_plan(self, req: PaymentPlanWrite) -> WriteResult: ...
    async def update_contact_preferences(self, req: ContactPreferenceWrite) -> WriteResult: ...

    async def close(self) -> None: ...
