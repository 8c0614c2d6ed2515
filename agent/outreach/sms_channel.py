"""The SMS outreach channel: a pre-verification text through the one guarded SMS path (`GuardedSms`).

Outreach texts never carry an amount, a balance word or a payment link (rule 31: before the number
is verified as the patient's): the practice's outreach name, a request to call or reply, and the
opt-out line. `GuardedSms` re-checks suppression and the compliance gate, audits the decision and
records the counted attempt keyed by the MessageSid.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.messaging import GuardedSms
from agent.outreach.channels import ContactRequest, DispatchResult, DispatchStatus
from policies.config import PracticePolicy

_LINES = {
    "balance_reminder": "Hi, this is {name}. Please give us a call at {callback} or reply here when you have a moment.",
    "plan_offer": "Hi, this is {name}. We have flexible options we'd like to go over with you. "
    "Call us at {callback} or reply here.",
    "promise_reminder": "Hi, this is {name} with a friendly reminder about the arrangement you made with us "
    "for tomorrow. Questions? Call {callback} or reply here.",
    "broken_promise_followup": "Hi, this is {name}. We'd like to check in with you about your arrangement "
    "with us. Please call {callback} or reply here.",
}
OPT_OUT = "Reply STOP to opt out."


def outreach_text(purpose: str, policy: PracticePolicy) -> str:
    """The outreach SMS for a cadence purpose (unknown purposes get the neutral reminder)."""
    line = _LINES.get(purpose, _LINES["balance_reminder"])
    p = policy.practice
    return f"{line.format(name=p.outreach_name, callback=p.callback_number)} {OPT_OUT}"


def _gate_purpose(purpose: str) -> str:
    return "promise_reminder" if purpose == "promise_reminder" else "balance"


@dataclass
class SmsOutreachChannel:
    sms: GuardedSms
    policy: PracticePolicy
    name: str = "sms"

    async def dispatch(self, req: ContactRequest) -> DispatchResult:
        result = await self.sms.send_sms(
            patient_id=req.patient_id,
            to=req.to,
            body=outreach_text(req.purpose, self.policy),
            purpose=_gate_purpose(req.purpose),
            initiated_by="agent",
        )
        if result.sent:
            return DispatchResult(DispatchStatus.SENT, provider_ref=result.provider_id)
        reason = result.reason
        if reason == "error":
            return DispatchResult(DispatchStatus.TRANSIENT, detail="sms_send_failed")
        if reason in ("error_permanent", "opted_out_21610"):
            return DispatchResult(DispatchStatus.PERMANENT, detail=reason)
        return DispatchResult(DispatchStatus.BLOCKED, detail=reason)
