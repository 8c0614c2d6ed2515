"""PMS=csv: the local PMS holds what a practice imported from Dentrix, Eaglesoft, Curve (`import-ar`),
but the practice's real system receives nothing directly. Writes still land in the local PMS (so
BalanceLine reads them back), and every one is also in `balanceline pms export-writebacks` for
staff to key in; so capabilities say "manual", and the agent tells a patient "our billing team will
update your account", never "I've noted that on your account"."""

from __future__ import annotations

from pms.local.adapter import LocalPms
from pms.types import Capabilities


class CsvRoundTripPms(LocalPms):
    def capabilities(self) -> Capabilities:
        return Capabilities(
            comm_log="manual",
            promise="manual",
            payment="manual",
            payment_plan="manual",
            contact_preferences="manual",
            changes_since=True,
        )
