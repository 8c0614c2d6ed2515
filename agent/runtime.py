"""The composition root: settings → concrete adapters. The only place that knows which providers run."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agent.brains.base import Brain
from agent.brains.rules import RulesBrain
from agent.logs import get_logger
from agent.messaging import GuardedSms
from agent.outbox import OutboxDrainer
from agent.outreach.email_channel import make_email_sender
from agent.outreach.service import start_in_process
from agent.outreach.voice_channel import make_call_client
from agent.payments import make_payment_links, run_plan_charges
from agent.pms_csv import CsvRoundTripPms
from agent.settings import Settings
from agent.sms import SmsChannel
from agent.state import make_state
from agent.state.base import SharedState
from agent.store.db import make_engine, make_session_factory
from agent.store.payments import PaymentStore
from agent.store.records import SqlRecords
from agent.turns import TurnEngine
from pms.local.adapter import LocalPms
from pms.protocol import PmsAdapter
from policies.config import PracticePolicy, load_policy
from telephony.calls import TwilioCallClient
from telephony.signatures import TwilioSignatureVerifier
from telephony.sms import SmsSender, TwilioSmsClient
from telephony.sms_local import LocalOutbox
from telephony.smtp import EmailSender
from tools.context import PaymentLinks

log = get_logger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    policy: PracticePolicy
    db: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    records: SqlRecords
    state: SharedState
    pms: PmsAdapter
    local_pms: LocalPms | None
    brain: Brain
    turns: TurnEngine
    sms_sender: SmsSender
    local_outbox: LocalOutbox | None
    outbound_sms: GuardedSms
    payments: PaymentLinks
    sms: SmsChannel
    outbox: OutboxDrainer
    verifier: TwilioSignatureVerifier | None
    clock: Callable[[], datetime]
    call_client: TwilioCallClient | None = None  # outbound calls (voice outreach, AMD voicemail)
    email_sender: EmailSender | None = None  # outreach e-mail (SMTP)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    def start_background(self, *, outbox_interval: float = 2.0) -> None:
        """Background loops of the embedded default (the PMS-write outbox drainer)."""
        self._tasks.append(asyncio.create_task(self.outbox.run_forever(self._stop, outbox_interval)))
        self._tasks.append(asyncio.create_task(run_plan_charges(self, self._stop)))  # plans charge themselves
        self._tasks.extend(start_in_process(self, self._stop))  # outreach pipeline (no Redis: in-process)

    async def close(self) -> None:
        self._stop.set()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.call_client is not None:
            await self.call_client.aclose()
        aclose = getattr(self.sms_sender, "aclose", None)
        if aclose is not None:
            await aclose()
        await self.pms.close()
        await self.state.close()
        await self.db.dispose()


def _brain(settings: Settings, policy: PracticePolicy, clock: Callable[[], datetime]) -> Brain:
    rules = RulesBrain(policy, clock=clock)
    if not settings.llm_configured:
        return rules
    from agent.brains.llm import make_llm_brain

    assert settings.openai_api_key is not None
    return make_llm_brain(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url,
        model=settings.openai_model,
        policy=policy,
        fallback=rules,
        clock=clock,
    )


def _sms_sender(settings: Settings) -> tuple[SmsSender, LocalOutbox | None]:
    if settings.twilio_configured:
        assert settings.twilio_account_sid and settings.twilio_auth_token
        return (
            TwilioSmsClient(
                settings.twilio_account_sid,
                settings.twilio_auth_token.get_secret_value(),
                from_number=settings.twilio_from_number,
                messaging_service_sid=settings.twilio_messaging_service_sid,
                api_base=settings.twilio_api_base,
                status_callback_url=f"{settings.public_base_url}/twilio/sms/status",
            ),
            None,
        )
    local = LocalOutbox()
    return local, local


async def build_runtime(
    settings: Settings, *, clock: Callable[[], datetime] = utc_now, sms_sender: SmsSender | None = None
) -> Runtime:
    policy = load_policy(settings.policy_file)
    db = make_engine(settings.database_url)
    sessions = make_session_factory(db)
    records = SqlRecords(sessions, clock=clock)
    state = make_state(settings.redis_url)
    if settings.pms in ("local", "csv"):
        local_cls = CsvRoundTripPms if settings.pms == "csv" else LocalPms  # csv: writes go to staff too
        local_pms: LocalPms | None = local_cls(db, practice_id=policy.practice.practice_id)
        pms: PmsAdapter = local_pms  # type: ignore[assignment]
    else:
        from agent.pms_opendental import build_opendental

        local_pms, pms = None, build_opendental(settings, policy, clock, state)
    brain = _brain(settings, policy, clock)
    turns = TurnEngine(brain=brain, policy=policy, clock=clock)
    sender, local_outbox = _sms_sender(settings)
    if sms_sender is not None:  # the terminal chat never texts real phones
        sender = sms_sender
        local_outbox = sms_sender if isinstance(sms_sender, LocalOutbox) else None
    outbound = GuardedSms(sender=sender, records=records, pms=pms, policy=policy, clock=clock)
    payments: PaymentLinks = make_payment_links(settings, policy, PaymentStore(sessions, clock), clock)
    sms = SmsChannel(
        records=records,
        state=state,
        pms=pms,
        policy=policy,
        engine=turns,
        outbound=outbound,
        payments=payments,
        clock=clock,
    )
    verifier = (
        TwilioSignatureVerifier(settings.twilio_auth_token.get_secret_value(), settings.public_base_url)
        if settings.twilio_auth_token
        else None
    )
    runtime = Runtime(
        settings=settings,
        policy=policy,
        db=db,
        sessions=sessions,
        records=records,
        state=state,
        pms=pms,
        local_pms=local_pms,
        brain=brain,
        turns=turns,
        sms_sender=sender,
        local_outbox=local_outbox,
        outbound_sms=outbound,
        payments=payments,
        sms=sms,
        outbox=OutboxDrainer(sessions, pms, clock),
        verifier=verifier,
        clock=clock,
    )
    runtime.call_client = make_call_client(runtime)
    runtime.email_sender = make_email_sender(runtime)
    return runtime
