"""Prometheus metrics for operators (`GET /metrics`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

WEBHOOKS = Counter(
    "balanceline_webhooks_total",
    "Webhook requests by route and result",
    ["route", "result"],
    registry=REGISTRY,
)
WEBHOOK_LATENCY = Histogram(
    "balanceline_webhook_seconds",
    "Webhook handling time",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5),
    registry=REGISTRY,
)
SMS_SENT = Counter("balanceline_sms_sent_total", "Outbound SMS by result", ["result"], registry=REGISTRY)
SMS_INBOUND = Counter("balanceline_sms_inbound_total", "Inbound SMS by kind", ["kind"], registry=REGISTRY)
TOOL_CALLS = Counter("balanceline_tool_calls_total", "Tool invocations", ["tool", "ok"], registry=REGISTRY)
BRAIN_FALLBACKS = Counter(
    "balanceline_brain_fallbacks_total", "LLM turns that fell back to rules", registry=REGISTRY
)
OUTBOX_BACKLOG = Gauge("balanceline_outbox_backlog", "PMS writes not yet confirmed", registry=REGISTRY)
COMPLIANCE_BLOCKS = Counter(
    "balanceline_compliance_blocks_total",
    "Contacts blocked by the compliance gate",
    ["reason"],
    registry=REGISTRY,
)
