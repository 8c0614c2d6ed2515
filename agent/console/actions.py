"""Staff actions from the account page. Each one is audited (actor = the staff username) and
written back to the PMS through the outbox (a comm-log note, or contact preferences), so the
practice's system of record shows what staff did even if the PMS is down right now."""

from __future__ import annotations

import uuid
from typing import Literal

from agent.runtime import Runtime
from pms.types import CommLogWrite, ContactPreferenceWrite
from policies.redaction import redact

NOTE_MAX = 2000


class ActionError(ValueError):
    pass


def _key(rt: Runtime, patient_id: str, what: str) -> str:
    return f"{rt.policy.practice.practice_id}|{patient_id}|console|{what}|{uuid.uuid4().hex}"


async def _comm_log(rt: Runtime, patient_id: str, what: str, note: str) -> None:
    await rt.records.enqueue_pms_write(
        CommLogWrite(
            idempotency_key=_key(rt, patient_id, what),
            patient_id=patient_id,
            at=rt.clock(),
            mode="none",
            direction="neither",
            note=note,
        )
    )


async def pause_outreach(rt: Runtime, *, guarantor_id: str, patient_id: str, on: bool, actor: str) -> None:
    """Set or lift the `paused` flag (a no-contact flag of the policy): the agent stops outreach."""
    reason = f"{'paused' if on else 'resumed'} by {actor} in the console"
    await rt.records.set_account_flag(guarantor_id=guarantor_id, flag="paused", on=on, reason=reason)
    await rt.records.audit(
        "console.outreach_paused" if on else "console.outreach_resumed",
        patient_id=patient_id,
        conversation_id=None,
        detail={"guarantor_id": guarantor_id},
        actor=actor,
    )
    await _comm_log(rt, patient_id, "pause", f"BalanceLine: automated billing outreach {reason}.")


async def add_note(rt: Runtime, *, patient_id: str, text: str, actor: str) -> None:
    """A staff note, stored redacted (card-like digits, DOBs, full phones) as a PMS comm-log entry."""
    text = text.strip()
    if not text:
        raise ActionError("the note is empty")
    if len(text) > NOTE_MAX:
        raise ActionError(f"the note is longer than {NOTE_MAX} characters")
    await rt.records.audit(
        "console.note_added",
        patient_id=patient_id,
        conversation_id=None,
        detail={"chars": len(text)},
        actor=actor,
    )
    await _comm_log(rt, patient_id, "note", f"Staff note ({actor}, BalanceLine console): {redact(text)}")


async def resolve_dispute(
    rt: Runtime, *, guarantor_id: str, patient_id: str, resolution: str, actor: str
) -> None:
    """Clear the `dispute` flag (outreach may resume) and record how it was resolved."""
    resolution = resolution.strip()
    if not resolution:
        raise ActionError("say briefly how the dispute was resolved")
    await rt.records.set_account_flag(
        guarantor_id=guarantor_id, flag="dispute", on=False, reason=f"resolved by {actor}"
    )
    await rt.records.audit(
        "console.dispute_resolved",
        patient_id=patient_id,
        conversation_id=None,
        detail={"guarantor_id": guarantor_id},
        actor=actor,
    )
    await _comm_log(
        rt,
        patient_id,
        "dispute",
        f"BalanceLine: billing dispute marked resolved by {actor}: {redact(resolution)[:500]}",
    )


async def record_phone_consent(
    rt: Runtime,
    *,
    patient_id: str,
    phone: str,
    channel: Literal["sms", "voice"],
    known_phones: list[str],
    actor: str,
) -> None:
    """The patient told staff (by phone) that this number may be texted / called about billing.

    Recorded as an opt-in in the consent ledger (so it lifts an earlier opt-out of that channel,
    as the patient's own words do) and as contact preferences in the PMS."""
    if phone not in known_phones:
        raise ActionError("pick one of the account's phone numbers")
    await rt.records.add_consent(
        patient_id=patient_id,
        value=phone,
        channel=channel,
        source="staff",
        action="opt_in",
        basis="verbal_to_staff",
        reason=f"recorded by {actor} in the console",
    )
    await rt.records.audit(
        "console.consent_recorded",
        patient_id=patient_id,
        conversation_id=None,
        detail={"channel": channel, "phone_last4": phone[-4:]},
        actor=actor,
    )
    await rt.records.enqueue_pms_write(
        ContactPreferenceWrite(
            idempotency_key=_key(rt, patient_id, f"consent-{channel}"),
            patient_id=patient_id,
            sms_ok=True if channel == "sms" else None,
            do_not_call=False if channel == "voice" else None,
            note=f"Patient gave {channel} consent by phone to {actor} (BalanceLine console).",
        )
    )
