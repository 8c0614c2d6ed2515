"""Outbound audio to a Twilio Media Stream: paced 20 ms frames, a mark per chunk, barge-in ``clear``.

Why pace at all: Twilio buffers whatever it is sent and plays it in order. Dumping a whole sentence
at once means a ``clear`` is the only way to stop it, and anything sent after the ``clear`` was
issued but before Twilio processed it is still heard ("stale audio after barge-in"). ``Playout``
keeps at most ``lead_ms`` (default 100 ms) of audio queued at Twilio: frames go out as the estimated
playback clock advances, so an interruption costs at most ``lead_ms`` of audio plus network latency.

Marks: after the last frame of each chunk (typically a sentence) a ``mark`` named
``"<prefix>-<epoch>-<chunk>"`` is sent. Twilio echoes a mark when the audio before it has played,
**or** when a ``clear`` empties the buffer. So marks still outstanding when we send ``clear`` are
recorded as cleared and their echoes are never counted as heard (rule 60).

What the caller heard: ``heard()`` / the report from ``clear()`` gives the chunks confirmed by mark
echoes (exact: "heard up to chunk N / character offset C of the text since the last clear") and an
estimate of how far into the following chunk playback got, from the pacing clock.

The class is transport-agnostic: it takes ``send(json_text)`` and an optional ``Clock`` (tests drive
a manual clock; production uses the event loop's monotonic clock).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from telephony.audio import FRAME_BYTES, FRAME_MS, MulawFramer
from telephony.media_streams import build_clear, build_mark, build_media

__all__ = ["Clock", "HeardReport", "LoopClock", "Playout", "PlayoutClosedError"]

_logger = logging.getLogger("telephony.playout")

Send = Callable[[str], Awaitable[None]]


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class LoopClock:
    """The running event loop's monotonic clock."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class PlayoutClosedError(RuntimeError):
    """``play`` after ``close`` or after the transport failed."""


@dataclass(frozen=True, slots=True)
class HeardReport:
    """What the caller heard of the audio played since the previous ``clear``.

    ``chunks_heard``/``char_offset``/``text`` are confirmed by mark echoes. ``estimated_char_offset``
    adds the estimated played fraction of the next chunk (by the pacing clock); use it to decide where
    to resume, and the confirmed values for what the caller was definitely told.
    """

    chunks_heard: tuple[int, ...]
    last_chunk_heard: int | None
    char_offset: int
    text: str
    estimated_char_offset: int
    cleared_chunks: tuple[int, ...] = ()
    all_heard: bool = False


@dataclass(slots=True)
class _Chunk:
    index: int
    epoch: int
    text: str
    char_start: int
    char_end: int
    frames: int = 0
    frames_sent: int = 0
    first_frame_play_at: float | None = None
    mark_name: str | None = None
    closed: bool = False  # all audio for the chunk has been queued


@dataclass(slots=True)
class _Epoch:
    """Chunks since the last clear."""

    number: int
    chunks: list[_Chunk] = field(default_factory=list)
    heard: list[int] = field(default_factory=list)
    char_offset: int = 0


class Playout:
    def __init__(
        self,
        stream_sid: str,
        send: Send,
        *,
        clock: Clock | None = None,
        lead_ms: int = 100,
        mark_prefix: str = "bl",
        on_frame: Callable[[bytes], None] | None = None,
    ) -> None:
        if lead_ms < FRAME_MS:
            raise ValueError(f"lead_ms must be at least one frame ({FRAME_MS} ms)")
        self.stream_sid = stream_sid
        self._send = send
        self._on_frame = on_frame  # sees each mu-law frame as it is sent (e.g. an echo reference)
        self._clock: Clock = clock or LoopClock()
        self._lead = lead_ms / 1000.0
        self._frame_s = FRAME_MS / 1000.0
        self._prefix = mark_prefix
        self._frames: deque[tuple[_Chunk, bytes]] = deque()
        self._framer = MulawFramer()
        self._open_chunk: _Chunk | None = None
        self._next_index = 0
        self._epoch = _Epoch(0)
        self._marks: dict[str, _Chunk] = {}
        self._cleared_marks: set[str] = set()
        self._play_end = 0.0  # estimated clock time at which Twilio finishes what we sent
        self._send_lock = asyncio.Lock()  # one message at a time on the socket, in order
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._pump_task: asyncio.Task[None] | None = None
        self._closed = False
        self._error: BaseException | None = None
        self.frames_sent = 0

    # ---------------------------------------------------------------------------------------- feeding

    def begin_chunk(self, text: str = "") -> int:
        """Start a chunk (e.g. one sentence); returns its index. Audio follows via ``add_audio``."""
        self._check_open()
        if self._open_chunk is not None:
            self.end_chunk()
        start = self._epoch.chunks[-1].char_end if self._epoch.chunks else 0
        chunk = _Chunk(self._next_index, self._epoch.number, text, start, start + len(text))
        self._next_index += 1
        self._epoch.chunks.append(chunk)
        self._open_chunk = chunk
        return chunk.index

    def add_audio(self, mulaw: bytes) -> None:
        """Queue 8 kHz mu-law for the open chunk (any size; cut into 20 ms frames)."""
        self._check_open()
        if self._open_chunk is None:
            raise RuntimeError("add_audio outside a chunk: call begin_chunk first")
        for frame in self._framer.push(mulaw):
            self._queue_frame(self._open_chunk, frame)

    def end_chunk(self) -> None:
        """Close the open chunk: its last partial frame is padded and its mark follows its audio."""
        chunk = self._open_chunk
        if chunk is None:
            return
        for frame in self._framer.flush():
            self._queue_frame(chunk, frame)
        chunk.closed = True
        self._open_chunk = None
        self._ensure_pump()
        self._wakeup.set()

    def play(self, mulaw: bytes, text: str = "") -> int:
        """One whole chunk at once: ``begin_chunk`` + ``add_audio`` + ``end_chunk``."""
        index = self.begin_chunk(text)
        self.add_audio(mulaw)
        self.end_chunk()
        return index

    def _queue_frame(self, chunk: _Chunk, frame: bytes) -> None:
        chunk.frames += 1
        self._frames.append((chunk, frame))
        self._idle.clear()
        self._ensure_pump()
        self._wakeup.set()

    def _check_open(self) -> None:
        if self._error is not None:
            raise PlayoutClosedError("transport failed") from self._error
        if self._closed:
            raise PlayoutClosedError("playout closed")

    # ---------------------------------------------------------------------------------------- pacing

    def _ensure_pump(self) -> None:
        if self._pump_task is None or self._pump_task.done():
            self._pump_task = asyncio.get_running_loop().create_task(self._pump())

    async def _pump(self) -> None:
        try:
            while not self._closed:
                if not self._frames:
                    # Cleared before the awaits below: audio queued while a mark is being sent
                    # sets it again, so the wait returns at once instead of stranding that audio.
                    self._wakeup.clear()
                    async with self._send_lock:
                        await self._send_ready_marks()
                    self._update_idle()
                    await self._wakeup.wait()
                    continue
                now = self._clock.now()
                ahead = self._play_end - now
                if ahead + self._frame_s > self._lead + 1e-9:
                    await self._clock.sleep(ahead + self._frame_s - self._lead)
                    continue
                async with self._send_lock:
                    # Re-check under the lock: a clear() may have emptied the queue meanwhile.
                    if not self._frames or self._closed:
                        continue
                    chunk, frame = self._frames.popleft()
                    now = self._clock.now()
                    start = max(self._play_end, now)
                    if chunk.first_frame_play_at is None:
                        chunk.first_frame_play_at = start
                    self._play_end = start + self._frame_s * (len(frame) / FRAME_BYTES)
                    chunk.frames_sent += 1
                    self.frames_sent += 1
                    if self._on_frame is not None:
                        self._on_frame(frame)
                    await self._send(build_media(self.stream_sid, frame))
                    await self._send_ready_marks()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # transport failure: stop, surface on next call
            self._error = exc
            self._idle.set()
            _logger.warning("playout send failed: %s", type(exc).__name__)

    async def _send_ready_marks(self) -> None:
        """A mark right after a chunk's last frame (or at once for a chunk with no audio)."""
        for chunk in self._epoch.chunks:
            if chunk.mark_name is not None:
                continue
            if not chunk.closed or chunk.frames_sent < chunk.frames:
                break
            chunk.mark_name = f"{self._prefix}-{chunk.epoch}-{chunk.index}"
            self._marks[chunk.mark_name] = chunk
            await self._send(build_mark(self.stream_sid, chunk.mark_name))

    def _update_idle(self) -> None:
        if not self._frames and self._open_chunk is None and not self._marks:
            self._idle.set()

    # ---------------------------------------------------------------------------------------- marks

    def on_mark(self, name: str) -> bool:
        """Reconcile a mark echoed by Twilio. Returns True when it means "played" (not cleared/unknown)."""
        if name in self._cleared_marks:
            self._cleared_marks.discard(name)
            return False
        chunk = self._marks.pop(name, None)
        if chunk is None or chunk.epoch != self._epoch.number:
            if chunk is None:
                _logger.debug("echo of an unknown mark %s", name)
            return False
        # Twilio plays in order: an echo confirms every earlier chunk of this epoch too.
        for earlier in self._epoch.chunks:
            if earlier.index > chunk.index:
                break
            if earlier.index not in self._epoch.heard:
                self._epoch.heard.append(earlier.index)
                if earlier.mark_name is not None:
                    self._marks.pop(earlier.mark_name, None)
            self._epoch.char_offset = max(self._epoch.char_offset, earlier.char_end)
        self._update_idle()
        return True

    # ---------------------------------------------------------------------------------------- reports

    def heard(self) -> HeardReport:
        return self._report(cleared=())

    def _report(self, cleared: tuple[int, ...]) -> HeardReport:
        ep = self._epoch
        heard = tuple(ep.heard)
        last = heard[-1] if heard else None
        text = "".join(c.text for c in ep.chunks if c.index in ep.heard)
        estimate = ep.char_offset
        now = self._clock.now()
        for chunk in ep.chunks:
            if chunk.index in ep.heard:
                continue
            # Unconfirmed chunks, in order: how much of each has the pacing clock played?
            if chunk.first_frame_play_at is None or not chunk.frames:
                break
            played_s = min(now, self._play_end) - chunk.first_frame_play_at
            fraction = max(0.0, min(1.0, played_s / (chunk.frames * self._frame_s)))
            estimate = max(estimate, chunk.char_start + int(len(chunk.text) * fraction))
            if fraction < 1.0 or not chunk.closed:
                break
        all_heard = bool(ep.chunks) and len(heard) == len(ep.chunks) and self._open_chunk is None
        return HeardReport(
            chunks_heard=heard,
            last_chunk_heard=last,
            char_offset=ep.char_offset,
            text=text,
            estimated_char_offset=estimate,
            cleared_chunks=cleared,
            all_heard=all_heard,
        )

    # ---------------------------------------------------------------------------------------- control

    async def clear(self) -> HeardReport:
        """Barge-in: send ``clear``, drop queued audio, report what the caller heard.

        Every mark sent and not yet echoed becomes "cleared": its echo (which Twilio sends because of
        the clear) is ignored. The next chunk starts a new epoch with character offsets from 0.
        """
        self._check_open()
        unheard = tuple(c.index for c in self._epoch.chunks if c.index not in self._epoch.heard)
        report = self._report(cleared=unheard)
        self._frames.clear()
        self._framer = MulawFramer()
        self._open_chunk = None
        for name in list(self._marks):
            self._cleared_marks.add(name)
        self._marks.clear()
        self._play_end = self._clock.now()
        self._epoch = _Epoch(self._epoch.number + 1)
        self._idle.set()
        try:
            # Queue and marks were settled synchronously above, so nothing stale can be sent after
            # this; the lock only waits for a frame or mark already being written to finish first.
            async with self._send_lock:
                await self._send(build_clear(self.stream_sid))
        except Exception as exc:
            self._error = exc
            raise
        return report

    async def wait_idle(self) -> None:
        """Until everything queued was sent and every mark echoed (or cleared / transport failed)."""
        await self._idle.wait()

    @property
    def buffered_ms(self) -> float:
        """Estimated audio queued at Twilio, in ms."""
        return max(0.0, self._play_end - self._clock.now()) * 1000.0

    @property
    def queued_frames(self) -> int:
        return len(self._frames)

    async def close(self) -> None:
        self._closed = True
        self._wakeup.set()
        task, self._pump_task = self._pump_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
