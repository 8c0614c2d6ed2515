"""What the e-mail and voice channels share: content that fails the linter, and the bookkeeping of
every dispatch (a metric by channel and result; an audit event, ids only, for what did not go out)."""

from __future__ import annotations

from prometheus_client import Counter

from agent.metrics import REGISTRY
from agent.outreach.channels import ContactRequest, DispatchResult, DispatchStatus
from agent.store.records import SqlRecords
from policies.types import Violation

DISPATCHES = Counter(
    "balanceline_outreach_channel_total",
    "Outreach contacts handed to the e-mail/voice channels, by channel and result",
    ["channel", "result"],
    registry=REGISTRY,
)


class ContentRejected(ValueError):
    """A rendered message broke a content rule; nothing was sent."""

    def __init__(self, what: str, violations: list[Violation]) -> None:
        self.violations = violations
        super().__init__(f"{what} rejected by the content linter: " + ", ".join(v.rule for v in violations))

    @property
    def code(self) -> str:
        """Machine-readable, no PHI: `content_lint:<first rule>`."""
        return f"content_lint:{self.violations[0].rule}"


async def accounted(records: SqlRecords, req: ContactRequest, result: DispatchResult) -> DispatchResult:
    """Count the dispatch; audit `<channel>.not_sent` with the reason when nothing went out."""
    DISPATCHES.labels(channel=req.channel, result=result.status.value).inc()
    if result.status is not DispatchStatus.SENT:
        await records.audit(
            f"{req.channel}.not_sent",
            patient_id=req.patient_id,
            conversation_id=None,
            detail={"attempt_id": req.attempt_id, "status": result.status.value, "detail": result.detail},
        )
    return result
