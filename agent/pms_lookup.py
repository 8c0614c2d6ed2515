"""Caller-ID matching that degrades instead of failing a webhook.

When the PMS cannot answer (Open Dental's eConnector is down, a 5xx after retries), an inbound text
or call still gets a conversation: nobody is matched yet, the person is asked who they are, and the
identity tool then answers with the "I can't reach our records system right now" line and offers a
callback (tools/registry.py turns `PmsUnavailable` into that refusal).
"""

from __future__ import annotations

from agent.logs import get_logger
from pms.protocol import PmsAdapter, PmsUnavailable
from pms.types import Patient

log = get_logger(__name__)


async def match_caller(pms: PmsAdapter, phone: str | None) -> list[Patient]:
    """Patients on file for this E.164 number; [] for no number or while the PMS is unavailable."""
    if not phone or not phone.startswith("+"):
        return []
    try:
        return await pms.find_patients_by_phone(phone)
    except PmsUnavailable as exc:
        log.warning("caller_match_pms_unavailable", error=type(exc).__name__)
        return []
