"""The voice session for one call: one media stream bound to STT, VAD, the turn engine and TTS.

Transport-agnostic: ``VoiceSession.run(messages)`` takes an async iterator of parsed Media Streams
messages and a ``send(json_text)``; the Twilio websocket route and the console's browser softphone both
drive it. The first ``start`` is authorised by the caller-supplied ``authorize`` (the single-use token).

Turn-taking (see ``turn_taking`` for the pure rules):
- endpointing: a caller turn ends when the STT has a final transcript and the caller is silent
  (``UtteranceEnd``, or our own VAD after ``vad_end_ms`` when the provider's end event is late); an
  utterance that looks unfinished (digits, a date without its year, "and ...") waits ``digit_hold_ms``
  more, and the local STT's end-of-speech silence is raised while a date of birth is expected;
- barge-in: caller speech (our VAD, ``barge_in_min_speech_ms`` of it, not an echo of our audio) while
  the agent talks → ``clear`` at once and the agent turn pauses; it is then resolved: a backchannel or
  noise resumes the agent at the sentence that was cut, real speech cancels the brain and TTS and only
  the heard part of the reply stays in the transcript;
- the brain's text is spoken sentence by sentence (first audio before the reply is complete), each
  sentence linted so nothing about the debt is said before verification;
- a filler when the reply is slow, silence reprompts then a polite hang-up, a maximum call length;
- DTMF: 0 → staff; eight digits (or digits + #) while a date of birth is expected → the date of birth.
Resilience: an STT/TTS failure switches to the fallback (local) provider, a brain failure re-runs the
turn on the rules brain, and when nothing can speak the call is handed to staff; each session's
failures stay inside it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from agent.brains.base import ToolEvent
from agent.conversation import Conversation
from agent.logs import get_logger
from agent.voice import lines
from agent.voice.agent_turn import AgentTurn
from agent.voice.call_state import (
    CallResult,
    VoiceConfig,
    VoiceDeps,
    open_call_conversation,
    record_call_end,
)
from agent.voice.keypad import Keypad, KeypadAction, keyed_dob_text
from agent.voice.live import publish_call
from agent.voice.providers import SpeechProviders
from agent.voice.reply import DOB_QUESTION, ReplyWriter
from agent.voice.stream_grants import StreamGrant
from agent.voice.turn_taking import EchoGuard, SpeechRun, endpoint_hold_ms, is_backchannel
from policies.redaction import redact
from telephony.media_streams import DtmfEvent, InboundMessage, MarkEvent, MediaEvent, StartEvent, StopEvent
from telephony.playout import Playout
from telephony.speech import (
    Final,
    Partial,
    SpeechStarted,
    SpeechToText,
    TextToSpeech,
    UtteranceEnd,
    VoiceActivity,
)
from tools.context import ToolContext
from tools.registry import ToolBox

log = get_logger(__name__)

Send = Callable[[str], Awaitable[None]]
Authorize = Callable[[StartEvent], Awaitable[StreamGrant | None]]


class VoiceSession:
    def __init__(
        self,
        deps: VoiceDeps,
        providers: SpeechProviders,
        *,
        send: Send,
        authorize: Authorize,
        config: VoiceConfig | None = None,
        on_stream_end: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.deps = deps
        self.providers = providers
        self.cfg = config or VoiceConfig()
        self._raw_send = send
        self._authorize = authorize
        self._on_stream_end = on_stream_end
        self._loop = asyncio.get_running_loop()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._done = asyncio.Event()
        self._conv_ready = asyncio.Event()
        self._closed = False
        self.result = CallResult()
        self.conv: Conversation | None = None
        self.ctx: ToolContext | None = None
        self.grant: StreamGrant | None = None
        self.call_sid = ""
        self.stream_sid = ""
        self.playout: Playout | None = None
        self.stt: SpeechToText | None = None
        self._stt_gen = 0
        # a per-call view of the TTS when it has one (ElevenLabs: the next sentence's socket kept warm)
        for_call = getattr(providers.tts, "for_call", None)
        self._call_tts: Any = for_call() if callable(for_call) else None
        self.tts: TextToSpeech = self._call_tts or providers.tts
        self._tts_fallback_used = False
        self._stt_fallback_used = False
        self.vad: VoiceActivity | None = None  # from the providers' pool when the stream starts
        self.echo = EchoGuard()
        self.turn: AgentTurn | None = None
        self._barge_turn: AgentTurn | None = None
        self._barge_at = 0.0
        self._handoff: dict[str, Any] | None = None
        self._end_reason: str | None = None
        # caller side
        self._run = SpeechRun(
            threshold=self.cfg.vad_threshold,
            onset_threshold=self.cfg.vad_onset_threshold,
            loud_dbfs=self.cfg.barge_in_loud_dbfs,
            lead_ms=self.cfg.barge_in_lead_ms,
        )
        self._digits_hold: tuple[SpeechToText, int] | None = None  # the STT and its own end silence
        self._caller_talking = False
        self._echo_in_utterance = False
        self._last_voice_at = 0.0
        self._pending: list[str] = []
        self._endpoint_task: asyncio.Task[None] | None = None
        self._last_activity = 0.0
        self._reprompts = 0
        self.keypad = Keypad(self.cfg.dtmf_timeout_s)
        self._carry = ""
        self._time_limit_hit = False
        self._started_at = 0.0
        self._endpoint_at: float | None = None
        self.stats: dict[str, Any] = {
            "caller_turns": 0,
            "agent_turns": 0,
            "barge_ins": 0,
            "false_barge_ins": 0,
            "fillers": 0,
            "fallbacks": [],
            "turn_latency_ms": [],
            "greeting_first_audio_ms": None,
        }
        self.writer = ReplyWriter(
            deps,
            self.cfg,
            stats=self.stats,
            on_tool=self._note_tool,
            on_pay_handoff=lambda: self._set_handoff({"kind": "pay"}),
            on_dob_question=lambda: self._tune_stt_for_digits(True),
            on_agent_line=lambda text: self._publish_turn("agent", text),
            on_failure=self._trouble_transfer,
        )

    # ======================================================================================== running

    async def run(self, messages: AsyncIterator[InboundMessage]) -> CallResult:
        """Drive the call until hang-up, hand-off or the end of the conversation."""
        start = await self._await_start(messages)
        if start is None:
            self.result.refused = True
            return self.result
        try:
            grant = await self._authorize(start)
        except Exception as exc:
            log.warning("voice_authorize_failed", error=type(exc).__name__)
            grant = None
        if grant is None or grant.call_sid != start.call_sid:
            log.warning("voice_stream_refused", call_sid=start.call_sid)
            self.result.refused = True
            return self.result
        self.grant = grant
        self.call_sid = start.call_sid
        self.stream_sid = start.stream_sid
        self.result.call_sid = self.call_sid
        self._started_at = self._loop.time()
        self._last_activity = self._started_at
        self.playout = Playout(self.stream_sid, self._send, on_frame=self._on_agent_frame)
        try:
            self.stt = self.providers.new_stt()
            self._spawn(self._stt_loop(self.stt, self._stt_gen))
            self._open_line()  # greeting first: it needs nothing from the database
            self._spawn(self._open_conversation())
            self.vad = await self.providers.acquire_vad()
            reader = self._spawn(self._read(messages))
            self._spawn(self._watchdog())
            await self._done.wait()
            if self._end_reason != "hangup":
                await self._drain_audio()
            if not reader.done():
                reader.cancel()
        except Exception as exc:
            log.error("voice_session_failed", call_sid=self.call_sid, error=type(exc).__name__)
            self._end_reason = self._end_reason or "failure"
        finally:
            await self._shutdown()
        return self.result

    async def _await_start(self, messages: AsyncIterator[InboundMessage]) -> StartEvent | None:
        async def first_start() -> StartEvent | None:
            async for msg in messages:
                if isinstance(msg, StartEvent):
                    return msg
                if isinstance(msg, StopEvent):
                    return None
            return None

        try:
            return await asyncio.wait_for(first_start(), self.cfg.start_timeout_s)
        except TimeoutError:
            return None

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("voice_task_failed", call_sid=self.call_sid, error=type(exc).__name__)
            self._end("failure")

    def _end(self, reason: str) -> None:
        if self._end_reason is None:
            self._end_reason = reason
        self._done.set()

    async def _send(self, text: str) -> None:
        if self._closed:
            return
        await self._raw_send(text)

    def _on_agent_frame(self, frame: bytes) -> None:
        """Each frame of ours as it goes out: the echo guard's reference."""
        self.echo.outbound(frame, self._loop.time())

    async def _drain_audio(self) -> None:
        """Let the last line (goodbye, transfer notice) play out before the stream closes."""
        if self.playout is None:
            return
        if self.turn is not None and not self.turn.cancelled:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.turn.spoken(), 10.0)
        budget = self.playout.queued_frames * 0.02 + self.playout.buffered_ms / 1000.0 + 2.0
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.playout.wait_idle(), budget)

    async def _shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self.turn is not None:
            await self.turn.cancel()
        if self.stt is not None:
            with contextlib.suppress(Exception):
                await self.stt.close()
        if self.playout is not None:
            await self.playout.close()
        if self._call_tts is not None:
            with contextlib.suppress(Exception):
                await self._call_tts.aclose()
        vad, self.vad = self.vad, None
        if vad is not None:
            self.providers.release_vad(vad)
        self._closed = True
        if self._on_stream_end is not None:
            with contextlib.suppress(Exception):
                await self._on_stream_end()
        await self._wrap_up()

    # ======================================================================================== caller

    async def _read(self, messages: AsyncIterator[InboundMessage]) -> None:
        try:
            async for msg in messages:
                if isinstance(msg, MediaEvent):
                    self._on_media(msg.payload)
                elif isinstance(msg, MarkEvent):
                    if self.playout is not None:
                        self.playout.on_mark(msg.name)
                elif isinstance(msg, DtmfEvent):
                    await self._on_dtmf(msg.digit)
                elif isinstance(msg, StopEvent):
                    self._end("hangup")
                    return
        except Exception as exc:
            log.warning("voice_stream_read_failed", call_sid=self.call_sid, error=type(exc).__name__)
        self._end("hangup")

    def _on_media(self, payload: bytes) -> None:
        now = self._loop.time()
        scored: float | None = None  # the local recogniser runs silero on every frame already
        if self.stt is not None:
            try:
                self.stt.feed(payload)
                scored = getattr(self.stt, "vad_probability", None)
            except Exception as exc:
                self._spawn(self._stt_failed(exc, self._stt_gen))
        level = self.echo.inbound(payload, now)
        if self.vad is None:
            return
        if not self._run.update(self.vad.process(payload, level) if scored is None else scored, level):
            return
        self._last_voice_at = now
        self._last_activity = now
        if self._run.run_ms < self.cfg.barge_in_min_speech_ms:
            return
        echo = self._agent_audible() and self.echo.is_echo()
        if echo:
            self._echo_in_utterance = True
            return
        if self._barge_turn is None and self._agent_busy():
            self._spawn(self._barge_in())
        elif self._barge_turn is not None and self._run.run_ms >= self.cfg.barge_in_commit_speech_ms:
            self._spawn(self._commit_barge_in())

    def _agent_busy(self) -> bool:
        return self.turn is not None and not self.turn.cancelled and self._turn_active(self.turn)

    def _turn_active(self, turn: AgentTurn) -> bool:
        return not turn.finished or self._agent_audible()

    def _agent_audible(self) -> bool:
        return self.playout is not None and (self.playout.queued_frames > 0 or self.playout.buffered_ms > 0)

    # ---------------------------------------------------------------------------------------- STT events

    async def _stt_loop(self, stt: SpeechToText, gen: int) -> None:
        try:
            async for event in stt.events():
                if gen != self._stt_gen:
                    return
                if isinstance(event, SpeechStarted):
                    self._caller_talking = True
                    self._last_activity = self._loop.time()
                    self._cancel_endpoint()
                elif isinstance(event, Partial):
                    words = event.text.split()
                    if self._barge_turn is not None and len(words) >= 2 and not is_backchannel(event.text):
                        self._spawn(self._commit_barge_in())
                elif isinstance(event, Final):
                    self._warm_tts()
                    if event.text.strip():
                        self._pending.append(event.text.strip())
                        if not self._caller_talking:
                            self._schedule_endpoint()
                elif isinstance(event, UtteranceEnd):
                    self._caller_talking = False
                    if self._pending:
                        self._schedule_endpoint()
                    else:
                        self._echo_in_utterance = False
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._stt_failed(exc, gen)

    def _warm_tts(self) -> None:
        """The reply is coming: make sure the TTS's next socket is open (a no-op for local speech)."""
        warm = getattr(self.tts, "warm", None)
        if callable(warm):
            with contextlib.suppress(Exception):
                warm()

    async def _stt_failed(self, exc: BaseException, gen: int) -> None:
        if gen != self._stt_gen or self._done.is_set():
            return
        log.warning("voice_stt_failed", call_sid=self.call_sid, error=type(exc).__name__)
        self._stt_gen += 1
        fallback = self.providers.fallback
        if fallback is not None and not self._stt_fallback_used:
            self._stt_fallback_used = True
            self.stats["fallbacks"].append("stt")
            old, self.stt = self.stt, fallback.new_stt()
            if old is not None:
                with contextlib.suppress(Exception):
                    await old.close()
            self._spawn(self._stt_loop(self.stt, self._stt_gen))
            return
        self.stats["fallbacks"].append("stt_transfer")
        await self._trouble_transfer("speech recognition failed")

    def _expecting_dob(self) -> bool:
        conv = self.conv
        if conv is None or conv.state.verified:
            return False
        last = next((t.text for t in reversed(conv.turns) if t.speaker == "agent"), "")
        return bool(DOB_QUESTION.search(last))

    def _schedule_endpoint(self) -> None:
        self._cancel_endpoint()
        text = " ".join(self._pending)
        hold = endpoint_hold_ms(text, expecting_digits=self._expecting_dob(), hold_ms=self.cfg.digit_hold_ms)
        self._endpoint_task = self._spawn(self._endpoint_after(hold / 1000.0))

    def _cancel_endpoint(self) -> None:
        task, self._endpoint_task = self._endpoint_task, None
        if task is not None and not task.done():
            task.cancel()

    async def _endpoint_after(self, hold_s: float) -> None:
        if hold_s > 0:
            await asyncio.sleep(hold_s)
        text = " ".join(self._pending).strip()
        self._pending.clear()
        echo, self._echo_in_utterance = self._echo_in_utterance, False
        self._endpoint_task = None
        if text:
            await self._on_utterance(text, echo=echo)

    async def _on_utterance(self, text: str, *, echo: bool = False, typed: bool = False) -> None:
        """A complete caller turn (spoken, or keyed on the keypad)."""
        self._endpoint_at = self._loop.time()
        self._last_activity = self._endpoint_at
        if self._barge_turn is not None:
            if is_backchannel(text) and not typed:
                await self._release_barge_in()
                return
            await self._commit_barge_in()
        elif self._agent_busy():
            # Speech over the agent that did not trigger a barge-in: our own echo or a backchannel.
            if echo or (is_backchannel(text) and not typed):
                return
            await self._barge_in()
            await self._commit_barge_in()
        if self._handoff is not None or self._done.is_set():
            return
        await self._conv_ready.wait()
        self._reprompts = 0
        self.stats["caller_turns"] += 1
        self._reply(text)

    # ---------------------------------------------------------------------------------------- barge-in

    async def _barge_in(self) -> None:
        """Stage 1: the caller started talking over the agent: stop the audio now, decide later."""
        turn = self.turn
        if turn is None or self._barge_turn is not None or self.playout is None or turn.cancelled:
            return
        self._barge_turn = turn
        self._barge_at = self._loop.time()
        self.stats["barge_ins"] += 1
        report = await self.playout.clear()
        await turn.pause(report)

    async def _commit_barge_in(self) -> None:
        """Stage 2, real: cancel the brain and TTS; the transcript keeps what the caller heard."""
        turn, self._barge_turn = self._barge_turn, None
        if turn is None:
            return
        if self._handoff is not None or (self.conv is not None and self.conv.state.ended):
            turn.resume()  # a transfer / goodbye in progress is finished regardless
            return
        await turn.cancel()
        if turn.kind == "reply" and not turn.heard_any and not turn.tools_run and not turn.reply_recorded:
            # Cut off while still thinking ("John Smith ... and my birthday is"): answer both parts.
            self._carry = turn.caller_text
            conv = self.conv
            if conv is not None and conv.turns and conv.turns[-1].speaker == "patient":
                conv.turns.pop()
        else:
            self._record_heard(turn)
        if self.turn is turn:
            self.turn = None

    async def _release_barge_in(self) -> None:
        """Stage 2, false alarm (a backchannel, a cough): carry on from the sentence that was cut."""
        turn, self._barge_turn = self._barge_turn, None
        if turn is None:
            return
        self.stats["false_barge_ins"] += 1
        turn.resume()

    def _record_heard(self, turn: AgentTurn) -> None:
        conv = self.conv
        if conv is None or turn.kind != "reply":
            return
        heard = redact(turn.heard_text())
        if turn.reply_recorded and conv.turns and conv.turns[-1].speaker == "agent":
            conv.turns[-1].text = heard  # the brain finished: trim its full reply to the heard part
        elif heard:
            conv.add_turn("agent", heard, self.deps.clock())
        else:
            return
        self._publish_turn("agent", heard)

    # ---------------------------------------------------------------------------------------- DTMF

    async def _on_dtmf(self, digit: str) -> None:
        now = self._loop.time()
        self._last_activity = now
        await self._keypad_action(self.keypad.press(digit, now, expecting_dob=self._expecting_dob()))

    async def _keypad_action(self, action: KeypadAction | None) -> None:
        if action is None:
            return
        if action[0] == "staff":
            await self._keypad_transfer()
        else:
            await self._on_utterance(keyed_dob_text(action[1]), typed=True)

    async def _keypad_transfer(self) -> None:
        await self._conv_ready.wait()
        if self._handoff is not None or self.ctx is None or self.conv is None:
            return
        if self._agent_busy():
            await self._barge_in()
            await self._commit_barge_in()
        result = (
            await ToolBox(self.ctx)
            .bind(self.conv.state)
            .call("transfer_to_human", {"reason": "Caller pressed 0 for a staff member"})
        )
        self._note_tool(ToolEvent("transfer_to_human", {"reason": "keypad 0"}, result))
        text = lines.STAFF_BY_KEYPAD if self._handoff else result.message
        self._say([text], kind="line", transcript=True)

    # ======================================================================================== agent

    def _open_line(self) -> None:
        grant = self.grant
        assert grant is not None
        if grant.resume:
            text = lines.resume_line(grant.resume)
        else:
            text = lines.greeting(self.deps.policy, outbound=grant.direction == "outbound")
        self._say([text], kind="greeting", transcript=True)

    async def _open_conversation(self) -> None:
        grant = self.grant
        assert grant is not None
        self.conv, self.ctx = await open_call_conversation(
            self.deps, grant, call_sid=self.call_sid, stream_sid=self.stream_sid
        )
        self.result.conversation_id = self.conv.conversation_id
        if self.turn is not None and self.turn.kind == "greeting":
            self._add_agent_line(self.turn.reply_text())
        self._conv_ready.set()

    def _add_agent_line(self, text: str) -> None:
        if self.conv is None or not text:
            return
        line = redact(text)
        self.conv.add_turn("agent", line, self.deps.clock())
        self._publish_turn("agent", line)

    def _publish_turn(self, speaker: str, text: str) -> None:
        conv = self.conv
        self._spawn(
            publish_call(
                self.deps.state,
                "turn",
                call_id=self.call_sid,
                conversation_id=conv.conversation_id if conv else None,
                at=self.deps.clock(),
                speaker=speaker,
                text=text,
            )
        )

    def _new_turn(self, kind: str) -> AgentTurn:
        assert self.playout is not None
        turn = AgentTurn(self.playout, lambda: self.tts, self._tts_failed, kind=kind)
        self.turn = turn
        self.stats["agent_turns"] += 1
        return turn

    def _say(self, texts: list[str], *, kind: str, transcript: bool = False) -> AgentTurn:
        """Speak fixed lines as one turn (greeting, reprompts, hand-off lines)."""
        turn = self._new_turn(kind)
        for text in texts:
            turn.add(text)
        turn.produced()
        turn.start()
        if transcript and kind != "greeting":
            self._add_agent_line(" ".join(texts))
        self._spawn(self._after_turn(turn))
        return turn

    def _reply(self, text: str) -> None:
        assert self.conv is not None
        if self._carry:
            text, self._carry = f"{self._carry} {text}", ""
        self._publish_turn("patient", redact(text))
        turn = self._new_turn("reply")
        turn.caller_text = text
        assert self.ctx is not None
        turn.producer = self._spawn(self.writer.produce(turn, self.conv, self.ctx, text))
        turn.start()
        self._spawn(self.writer.fillers(turn))
        self._spawn(self._after_turn(turn))

    def _tune_stt_for_digits(self, on: bool) -> None:
        """Hold the turn open longer while digits are read; afterwards restore the STT's own setting."""
        stt = self.stt
        if stt is None or not hasattr(stt, "end_silence_ms"):
            return
        with contextlib.suppress(Exception):
            if on:
                if self._digits_hold is None or self._digits_hold[0] is not stt:
                    self._digits_hold = (stt, stt.end_silence_ms)
                stt.end_silence_ms = self.cfg.dob_end_silence_ms
            elif self._digits_hold is not None and self._digits_hold[0] is stt:
                stt.end_silence_ms = self._digits_hold[1]
                self._digits_hold = None

    def _note_tool(self, event: ToolEvent) -> None:
        data = event.result.data or {}
        handoff: dict[str, Any] | None = None
        if event.name == "transfer_to_human" and event.result.ok and data.get("live"):
            handoff = {"kind": "transfer", "transfer_id": data.get("transfer_id")}
        if event.name == "verify_identity" and event.result.ok:
            self._tune_stt_for_digits(False)
        if handoff is not None:
            self._set_handoff(handoff)

    def _set_handoff(self, handoff: dict[str, Any]) -> None:
        if self._handoff is not None:
            return
        self._handoff = handoff
        self.result.handoff = handoff
        # Durable before the stream closes: after-stream may run on another replica.
        self._spawn(self.deps.calls.set_handoff(self.call_sid, handoff))

    async def _after_turn(self, turn: AgentTurn) -> None:
        """Once a turn has been spoken and played: latency stats, then end or hand off if due."""
        try:
            await turn.spoken()
        except Exception:
            if not turn.cancelled:
                await self._speech_failed()
            return
        if turn.first_audio_at is not None:
            if turn.kind == "greeting":
                self.stats["greeting_first_audio_ms"] = round((turn.first_audio_at - self._started_at) * 1000)
            elif self._endpoint_at is not None:
                self.stats["turn_latency_ms"].append(round((turn.first_audio_at - self._endpoint_at) * 1000))
        while not turn.cancelled and (turn.paused or self._agent_audible()):
            await asyncio.sleep(self.cfg.tick_s)
            if turn.paused:
                continue
            if not turn.finished:
                await turn.spoken()
        if turn.cancelled:
            return
        turn.mark_all_heard()
        self._last_activity = self._loop.time()
        if self.turn is turn:
            self.turn = None
        conv = self.conv
        if self._handoff is not None:
            self._end(self._handoff["kind"])
        elif conv is not None and conv.state.ended:
            self._end("completed")

    # ---------------------------------------------------------------------------------------- failures

    async def _tts_failed(self, exc: BaseException) -> bool:
        log.warning("voice_tts_failed", call_sid=self.call_sid, error=type(exc).__name__)
        fallback = self.providers.fallback
        if fallback is not None and not self._tts_fallback_used:
            self._tts_fallback_used = True
            self.stats["fallbacks"].append("tts")
            self.tts = fallback.tts
            return True
        return False

    async def _speech_failed(self) -> None:
        """Nothing can speak: hand the caller to staff (Twilio's own <Say> covers the hand-off)."""
        self.stats["fallbacks"].append("tts_transfer")
        await self._trouble_transfer("text-to-speech failed", speak=False)

    async def _trouble_transfer(self, reason: str, *, speak: bool = True) -> None:
        """A provider failed beyond its fallback: a person takes over (or a callback is arranged)."""
        if self._handoff is not None or self._done.is_set():
            return
        await self._conv_ready.wait()
        result = None
        if self.ctx is not None and self.conv is not None:
            with contextlib.suppress(Exception):
                result = (
                    await ToolBox(self.ctx)
                    .bind(self.conv.state)
                    .call("transfer_to_human", {"reason": f"Technical problem on the call ({reason})"})
                )
        if result is not None:
            self._note_tool(ToolEvent("transfer_to_human", {}, result))
        if self._handoff is None:
            self._handoff = {"kind": "goodbye"}
            self.result.handoff = self._handoff
        if not speak:  # Twilio's own <Say> tells the caller what happens next
            transfer = self._handoff.get("kind") == "transfer"
            self._handoff["say"] = (
                lines.TROUBLE_TRANSFER if transfer else lines.trouble_goodbye(self.deps.policy)
            )
        await self.deps.calls.set_handoff(self.call_sid, self._handoff)
        if speak:
            text = (
                lines.TROUBLE_TRANSFER
                if self._handoff.get("kind") == "transfer"
                else lines.trouble_goodbye(self.deps.policy)
            )
            self._say([text], kind="line", transcript=True)
        else:
            self._end("failure")

    # ======================================================================================== timers

    async def _watchdog(self) -> None:
        cfg = self.cfg
        while not self._done.is_set():
            await asyncio.sleep(cfg.tick_s)
            now = self._loop.time()
            if not self._time_limit_hit and now - self._started_at > cfg.max_call_s and self._handoff is None:
                await self._time_limit()
                continue
            # our VAD ends a turn the STT has a final for but whose end event is late
            if (
                self._pending
                and self._caller_talking
                and self._endpoint_task is None
                and now - self._last_voice_at > cfg.vad_end_ms / 1000.0
            ):
                self._caller_talking = False
                self._schedule_endpoint()
            # an interruption nobody followed up on (noise, a cough): carry on speaking
            if (
                self._barge_turn is not None
                and not self._pending
                and self._endpoint_task is None
                and now - max(self._barge_at, self._last_voice_at) > cfg.barge_in_release_ms / 1000.0
            ):
                await self._release_barge_in()
            await self._keypad_action(self.keypad.tick(now))
            await self._maybe_reprompt(now)

    async def _maybe_reprompt(self, now: float) -> None:
        if (
            self.turn is not None
            or self._caller_talking
            or self._pending
            or self._endpoint_task is not None
            or self._handoff is not None
            or not self._conv_ready.is_set()
            or now - self._last_activity < self.cfg.reprompt_after_s
        ):
            return
        self._last_activity = now
        if self._reprompts < self.cfg.max_reprompts:
            text = lines.REPROMPT[min(self._reprompts, len(lines.REPROMPT) - 1)]
            self._reprompts += 1
            self._say([text], kind="line", transcript=True)
            return
        self._say([lines.silence_goodbye(self.deps.policy)], kind="line", transcript=True)
        turn = self.turn
        if turn is not None:
            self._spawn(self._end_after(turn, "silence"))

    async def _time_limit(self) -> None:
        self._time_limit_hit = True
        if self.turn is not None:
            await self.turn.cancel()
            if self.playout is not None:
                await self.playout.clear()
        self._say([lines.time_limit_goodbye(self.deps.policy)], kind="line", transcript=True)
        turn = self.turn
        if turn is not None:
            self._spawn(self._end_after(turn, "max_duration"))

    async def _end_after(self, turn: AgentTurn, reason: str) -> None:
        with contextlib.suppress(Exception):
            await turn.spoken()
        await self._drain_audio()
        self._end(reason)

    # ======================================================================================== after

    async def _wrap_up(self) -> None:
        conv = self.conv
        reason = self._end_reason or "socket_closed"
        self.result.end_reason = reason
        self.result.stats = self.stats
        if conv is None:
            return
        if self.turn is not None and self.turn.kind == "reply" and not self.turn.finished:
            self._record_heard(self.turn)
        self.stats["duration_s"] = round(self._loop.time() - self._started_at, 1)
        self.result.outcome = await record_call_end(
            self.deps,
            conv,
            call_sid=self.call_sid,
            stream_sid=self.stream_sid,
            direction=self.grant.direction if self.grant else "inbound",
            reason=reason,
            handoff=self._handoff,
            stats=self.stats,
        )
