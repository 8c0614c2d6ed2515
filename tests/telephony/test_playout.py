"""Outbound playout: pacing by a manual clock, marks per chunk, reconciliation across ``clear``."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
from dataclasses import dataclass, field

import pytest

from telephony.audio import FRAME_BYTES
from telephony.playout import Playout, PlayoutClosedError

STREAM = "MZ00000000000000000000000000000000"
FRAME_S = 0.02


class ManualClock:
    """A clock that only moves when the test advances it; sleepers wake in deadline order."""

    def __init__(self) -> None:
        self.t = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._ids = itertools.count()

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.t + max(0.0, seconds), next(self._ids), future))
        await future

    async def advance(self, seconds: float) -> None:
        target = self.t + seconds
        await _settle()
        while self._sleepers and self._sleepers[0][0] <= target + 1e-12:
            deadline, _, future = heapq.heappop(self._sleepers)
            self.t = max(self.t, deadline)
            if not future.done():
                future.set_result(None)
            await _settle()
        self.t = target
        await _settle()


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


@dataclass
class Wire:
    """What the player sent to Twilio, stamped with the manual clock's time."""

    clock: ManualClock
    sent: list[tuple[float, dict[str, object]]] = field(default_factory=list)

    async def send(self, text: str) -> None:
        self.sent.append((self.clock.now(), json.loads(text)))

    def events(self, kind: str) -> list[tuple[float, dict[str, object]]]:
        return [(t, m) for t, m in self.sent if m["event"] == kind]

    def marks(self) -> list[str]:
        return [m["mark"]["name"] for _, m in self.events("mark")]  # type: ignore[index]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def wire(clock: ManualClock) -> Wire:
    return Wire(clock)


def _audio(frames: int, fill: int = 0x10) -> bytes:
    return bytes([fill]) * (FRAME_BYTES * frames)


async def test_frames_are_paced_within_the_lead(clock: ManualClock, wire: Wire) -> None:
    player = Playout(STREAM, wire.send, clock=clock, lead_ms=100)
    player.play(_audio(50), text="Your balance is due.")
    await _settle()
    # Only the lead (5 frames = 100 ms) goes out before any time passes.
    assert len(wire.events("media")) == 5
    for _ in range(60):
        await clock.advance(FRAME_S)
    media = wire.events("media")
    assert len(media) == 50
    # Invariant at every send: audio sent so far never runs more than the lead ahead of the clock.
    for i, (t, _) in enumerate(media):
        assert (i + 1) * FRAME_S - t <= 0.1 + 1e-9
    assert all(len(m["media"]["payload"]) == 216 for _, m in media)  # type: ignore[index]  # 160 B base64
    # one mark, right after the chunk's last frame
    assert wire.sent[-1][1]["event"] == "mark"
    assert [m["event"] for _, m in wire.sent].index("mark") == 50
    await player.close()


async def test_marks_reconcile_into_heard_chunks_and_character_offsets(
    clock: ManualClock, wire: Wire
) -> None:
    player = Playout(STREAM, wire.send, clock=clock, lead_ms=100)
    player.play(_audio(3), text="Hello. ")
    player.play(_audio(3), text="Your balance is $20. ")
    player.play(_audio(3), text="Can you pay today?")
    for _ in range(12):
        await clock.advance(FRAME_S)
    first, second, third = wire.marks()
    assert player.heard().chunks_heard == ()
    assert player.on_mark(first) is True
    report = player.heard()
    assert report.chunks_heard == (0,)
    assert report.char_offset == len("Hello. ")
    assert report.text == "Hello. "
    # Twilio plays in order: the third echo confirms everything before it.
    assert player.on_mark(third) is True
    report = player.heard()
    assert report.chunks_heard == (0, 1, 2)
    assert report.all_heard
    assert report.char_offset == len("Hello. Your balance is $20. Can you pay today?")
    assert player.on_mark(second) is False  # already accounted for
    await asyncio.wait_for(player.wait_idle(), 1)
    await player.close()


async def test_clear_drops_queued_audio_and_in_flight_marks_count_as_cleared(
    clock: ManualClock, wire: Wire
) -> None:
    player = Playout(STREAM, wire.send, clock=clock, lead_ms=100)
    player.play(_audio(5), text="First sentence. ")  # 100 ms
    player.play(_audio(5), text="Second sentence. ")
    player.play(_audio(50), text="A long third sentence that the caller interrupts.")
    for _ in range(12):
        await clock.advance(FRAME_S)
    first_mark, second_mark = wire.marks()
    assert player.on_mark(first_mark) is True  # the caller heard the first sentence
    sent_before = len(wire.events("media"))
    assert sent_before < 60

    report = await player.clear()
    assert wire.sent[-1][1] == {"event": "clear", "streamSid": STREAM}
    assert report.chunks_heard == (0,)
    assert report.text == "First sentence. "
    assert report.cleared_chunks == (1, 2)
    # The pacing clock says 12 x 20 ms elapsed: the second sentence (frames 5-9) has fully played by
    # estimate even though its mark is unconfirmed, so the estimate is its end plus 40 ms into the third.
    played_into_third = len("A long third sentence that the caller interrupts.") * 2 // 50  # 40 of 1000 ms
    assert report.estimated_char_offset == len("First sentence. Second sentence. ") + played_into_third
    assert report.char_offset == len("First sentence. ")

    # Twilio echoes the pending mark because of the clear: that is "cleared", not "played".
    assert player.on_mark(second_mark) is False
    for _ in range(10):
        await clock.advance(FRAME_S)
    assert len(wire.events("media")) == sent_before  # nothing stale after the clear
    assert player.queued_frames == 0

    # The player is reusable: a new epoch with offsets from zero, and old marks stay meaningless.
    player.play(_audio(2), text="Sure. ")
    for _ in range(5):
        await clock.advance(FRAME_S)
    new_mark = wire.marks()[-1]
    assert new_mark not in (first_mark, second_mark)
    assert player.on_mark(new_mark) is True
    after = player.heard()
    assert (after.chunks_heard, after.char_offset, after.text) == ((3,), len("Sure. "), "Sure. ")
    await player.close()


async def test_clear_is_immediate_even_when_nothing_was_heard(clock: ManualClock, wire: Wire) -> None:
    player = Playout(STREAM, wire.send, clock=clock, lead_ms=60)
    player.play(_audio(20), text="Good morning.")
    await _settle()
    assert len(wire.events("media")) == 3  # 60 ms lead
    report = await player.clear()
    assert report.chunks_heard == () and report.char_offset == 0
    assert report.cleared_chunks == (0,)
    assert wire.marks() == []  # the chunk never finished sending, so no mark was sent
    await clock.advance(1.0)
    assert len(wire.events("media")) == 3
    await player.close()


async def test_streamed_chunk_audio_is_framed_across_pushes(clock: ManualClock, wire: Wire) -> None:
    player = Playout(STREAM, wire.send, clock=clock, lead_ms=100)
    player.begin_chunk("Streaming text.")
    player.add_audio(b"\x20" * 100)
    player.add_audio(b"\x20" * 100)  # 200 bytes: one whole frame, 40 pending
    await _settle()
    assert len(wire.events("media")) == 1
    assert wire.marks() == []  # chunk still open
    player.end_chunk()  # the 40-byte rest goes out padded, then the mark
    await _settle()
    assert len(wire.events("media")) == 2
    assert wire.marks() == ["bl-0-0"]
    await player.close()


async def test_send_failure_surfaces_on_the_next_call(clock: ManualClock) -> None:
    async def broken(_: str) -> None:
        raise ConnectionError("socket closed")

    player = Playout(STREAM, broken, clock=clock)
    player.play(_audio(1))
    await _settle()
    with pytest.raises(PlayoutClosedError):
        player.play(_audio(1))
    await asyncio.wait_for(player.wait_idle(), 1)
    await player.close()


async def test_clear_during_a_slow_send_sends_nothing_stale_after_it(clock: ManualClock) -> None:
    """A transport that stalls mid-frame: the clear waits for that frame, and nothing follows it."""
    sent: list[str] = []
    gate = asyncio.Event()

    async def slow_send(text: str) -> None:
        if json.loads(text)["event"] == "media" and not gate.is_set():
            await gate.wait()
        sent.append(json.loads(text)["event"])

    player = Playout(STREAM, slow_send, clock=clock, lead_ms=100)
    player.play(_audio(10), text="Your balance is twenty dollars.")
    await _settle()  # the first frame is stuck in the transport
    clearing = asyncio.ensure_future(player.clear())
    await _settle()
    assert not clearing.done()  # waits for the frame being written
    gate.set()
    report = await asyncio.wait_for(clearing, 1)
    await clock.advance(1.0)
    assert sent == ["media", "clear"]
    assert report.cleared_chunks == (0,)
    await player.close()


async def test_audio_queued_while_a_mark_is_being_sent_is_not_stranded(clock: ManualClock) -> None:
    """The next sentence arrives while the previous one's mark is still being written: it plays
    without waiting for yet more audio."""
    sent: list[str] = []
    mark_gate = asyncio.Event()

    async def send(text: str) -> None:
        if json.loads(text)["event"] == "mark" and not mark_gate.is_set():
            await mark_gate.wait()
        sent.append(json.loads(text)["event"])

    player = Playout(STREAM, send, clock=clock, lead_ms=100)
    player.begin_chunk("First.")  # streamed TTS: the audio first, the end of the sentence later
    player.add_audio(_audio(2))
    await clock.advance(0.2)
    player.end_chunk()
    await clock.advance(0.02)  # both frames out; the mark is stuck in the transport
    assert sent == ["media", "media"]
    player.play(_audio(2), text="Second.")
    await _settle()
    mark_gate.set()
    await clock.advance(0.2)
    assert sent == ["media", "media", "mark", "media", "media", "mark"]
    await player.close()


def test_lead_must_cover_a_frame(clock: ManualClock, wire: Wire) -> None:
    with pytest.raises(ValueError):
        Playout(STREAM, wire.send, clock=clock, lead_ms=10)
