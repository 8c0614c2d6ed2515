"""One pacing tick for many playouts: order and lead per stream, isolation from a stalled socket, idle stop.

Driven by a manual clock; assertions are on counts and ordering, never on wall time.
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field

import pytest

from telephony.audio import FRAME_BYTES
from telephony.pacer import Pacer
from telephony.playout import Playout
from tests.telephony.manual_clock import ManualClock, settle

FRAME_S = 0.02
LEAD_S = 0.1


@dataclass
class Wire:
    """One stream's socket: what was sent, stamped with the manual clock; media can be held at a gate."""

    clock: ManualClock
    sent: list[tuple[float, dict[str, object]]] = field(default_factory=list)
    gate: asyncio.Event | None = None  # while set to an unset event, media sends block on it

    async def send(self, text: str) -> None:
        message, t = json.loads(text), self.clock.now()  # stamped when the playout wrote it
        if message["event"] == "media" and self.gate is not None:
            await self.gate.wait()
        self.sent.append((t, message))

    def media(self) -> list[tuple[float, bytes]]:
        return [
            (t, base64.b64decode(m["media"]["payload"]))  # type: ignore[index]
            for t, m in self.sent
            if m["event"] == "media"
        ]

    def events(self) -> list[str]:
        return [str(m["event"]) for _, m in self.sent]


def _numbered(frames: int) -> bytes:
    """Frame i is filled with byte i, so order on the wire is checkable."""
    return b"".join(bytes([i % 256]) * FRAME_BYTES for i in range(frames))


def _assert_in_order_within_lead(wire: Wire, frames: int) -> None:
    media = wire.media()
    assert [payload[0] for _, payload in media] == [i % 256 for i in range(frames)]
    play_end = 0.0  # Twilio's playback of what it was sent, as the playout estimates it
    for t, _ in media:
        play_end = max(play_end, t) + FRAME_S
        assert play_end - t <= LEAD_S + 1e-9  # never more than the lead queued


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


async def test_many_playouts_share_one_tick_in_order_and_within_the_lead(clock: ManualClock) -> None:
    pacer = Pacer(clock)
    wires = [Wire(clock) for _ in range(20)]
    players = [Playout(f"MZ{i}", w.send, pacer=pacer, lead_ms=100) for i, w in enumerate(wires)]
    frames = 30
    for i, player in enumerate(players):
        player.play(_numbered(frames), text="Your balance is due.")
        await clock.advance(0.003 * (i % 7))  # streams start at different phases of the tick
    most_timers = 0
    for _ in range(160):  # 0.8 s in 5 ms steps
        await clock.advance(FRAME_S / 4)
        most_timers = max(most_timers, clock.sleepers)
    for wire in wires:
        _assert_in_order_within_lead(wire, frames)
        assert wire.events()[-1] == "mark"  # the chunk's mark after its last frame
    assert most_timers == 1  # one timer for all twenty streams, never one per stream
    # At most one wake-up per 20 ms, however many streams (per-stream timers: one per frame, 500 here).
    assert pacer.ticks <= round(clock.t / FRAME_S) + 1
    for player in players:
        await player.close()


async def test_a_stalled_send_does_not_hold_up_the_other_streams(clock: ManualClock) -> None:
    pacer = Pacer(clock)
    wires = [Wire(clock) for _ in range(5)]
    players = [Playout(f"MZ{i}", w.send, pacer=pacer, lead_ms=100) for i, w in enumerate(wires)]
    for player in players:
        player.play(_numbered(40))
    await settle()
    for _ in range(3):
        await clock.advance(FRAME_S)
    stalled = wires[2]
    stalled.gate = asyncio.Event()  # its socket stops taking writes mid-call
    counts = [len(w.media()) for w in wires]
    for _ in range(10):
        await clock.advance(FRAME_S)
        now = [len(w.media()) for w in wires]
        for i, (before, after) in enumerate(zip(counts, now, strict=True)):
            # every other stream gets its frame on every tick; the stalled one gets nothing through
            assert after - before == (0 if i == 2 else 1)
        counts = now
    stalled.gate.set()  # the write completes; the stream catches up without exceeding the lead
    for _ in range(30):
        await clock.advance(FRAME_S)
    for wire in wires:
        _assert_in_order_within_lead(wire, 40)
    for player in players:
        await player.close()


async def test_the_tick_stops_when_idle_and_restarts_with_new_audio(clock: ManualClock) -> None:
    pacer = Pacer(clock)
    wires = [Wire(clock) for _ in range(3)]
    players = [Playout(f"MZ{i}", w.send, pacer=pacer, lead_ms=100) for i, w in enumerate(wires)]
    for player in players:
        player.play(_numbered(12))
    await settle()
    assert pacer.running
    for _ in range(10):
        await clock.advance(FRAME_S)
    assert all(len(w.media()) == 12 for w in wires)
    assert not pacer.running and pacer.scheduled == 0 and clock.sleepers == 0
    ticks = pacer.ticks
    await clock.advance(1.0)
    assert pacer.ticks == ticks  # no idle wake-ups

    players[0].play(_numbered(8))
    await settle()
    assert len(wires[0].media()) == 12 + 5  # the lead goes out at once, before any tick
    assert pacer.running
    for _ in range(5):
        await clock.advance(FRAME_S)
    assert len(wires[0].media()) == 12 + 8
    assert not pacer.running
    for player in players:
        await player.close()


async def test_clear_between_the_tick_and_the_send_sends_nothing_stale(clock: ManualClock) -> None:
    pacer = Pacer(clock)
    first, second = Wire(clock), Wire(clock)
    armed = False
    woken_when_cleared: list[bool] = []

    async def send_a(text: str) -> None:
        await first.send(text)
        if armed and not woken_when_cleared:
            # a's send runs before b's on every tick (a scheduled first): b is already woken for
            # this tick's frame but has not sent it.
            woken_when_cleared.append(pacer.scheduled == 0 and b.queued_frames > 0)
            await b.clear()

    a = Playout("MZa", send_a, pacer=pacer, lead_ms=100)
    b = Playout("MZb", second.send, pacer=pacer, lead_ms=100)
    a.play(_numbered(30))
    b.play(_numbered(30))
    await settle()
    await clock.advance(FRAME_S)
    armed = True
    await clock.advance(FRAME_S)
    assert woken_when_cleared == [True]
    events = second.events()
    assert events[-1] == "clear" and events.count("media") == 6
    for _ in range(10):
        await clock.advance(FRAME_S)
    assert second.events() == events  # nothing of the cleared epoch after the clear
    assert b.queued_frames == 0 and len(first.media()) == 5 + 12

    b.play(_numbered(3))  # a new epoch starts at once, with its own lead
    await settle()
    assert second.events()[len(events) :] == ["media", "media", "media", "mark"]
    for player in (a, b):
        await player.close()
    assert not pacer.running


async def test_clear_while_waiting_for_the_tick_drops_the_stream_from_it(clock: ManualClock) -> None:
    pacer = Pacer(clock)
    wire = Wire(clock)
    player = Playout("MZa", wire.send, pacer=pacer, lead_ms=100)
    player.play(_numbered(20))
    await settle()
    assert pacer.scheduled == 1
    await player.clear()
    assert pacer.scheduled == 0 and not pacer.running and clock.sleepers == 0
    await clock.advance(1.0)
    assert len(wire.media()) == 5
    await player.close()


async def test_pacer_wakes_each_entry_on_the_first_tick_at_or_after_its_due_time(clock: ManualClock) -> None:
    pacer = Pacer(clock, tick_ms=20)
    woken: dict[int, float] = {}
    dues = {i: 0.005 + 0.0007 * i for i in range(40)}  # 5 ms .. 32.3 ms
    for key, due in dues.items():
        pacer.schedule(key, due, lambda key=key: woken.setdefault(key, clock.now()))
    for _ in range(10):
        await clock.advance(0.005)
    # The grid is anchored at the earliest due time (5 ms) and ticks every 20 ms: 5, 25, 45 ms.
    for key, due in dues.items():
        assert woken[key] == pytest.approx(0.005 if due <= 0.005 + 1e-9 else 0.025 if due <= 0.025 else 0.045)
    assert pacer.ticks == 3
    assert not pacer.running


def test_the_shared_pacer_is_per_event_loop() -> None:
    async def shared() -> tuple[Pacer, Pacer]:
        return Pacer.shared(), Pacer.shared()

    one, again = asyncio.run(shared())
    other, _ = asyncio.run(shared())
    assert one is again
    assert other is not one


async def test_a_playout_on_the_loop_clock_uses_the_shared_pacer() -> None:
    sent: list[bytes] = []
    all_sent = asyncio.Event()

    async def send(text: str) -> None:
        message = json.loads(text)
        if message["event"] == "media":
            sent.append(base64.b64decode(message["media"]["payload"]))
        if len(sent) == 8:
            all_sent.set()

    player = Playout("MZa", send, lead_ms=40)
    player.play(_numbered(8))
    await asyncio.wait_for(all_sent.wait(), 10)
    assert [frame[0] for frame in sent] == list(range(8))
    await settle()
    assert not Pacer.shared().running  # nothing left to pace: the tick stopped
    await player.close()
