"""ElevenLabsTextToSpeech against the loopback ElevenLabs server (tests/fakes/elevenlabs_server.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from telephony.audio import float32_to_ulaw
from telephony.elevenlabs_tts import ElevenLabsTextToSpeech
from telephony.speech import SpeechProviderError, TextToSpeech
from tests.fakes.elevenlabs_server import ElevenLabsConnection, ElevenLabsFake, tone_for

KEY = "el-test-key"
VOICE = "voice-ava-01"


@pytest.fixture
def fake() -> Iterator[ElevenLabsFake]:
    with ElevenLabsFake(api_key=KEY) as server:
        yield server


def _tts(fake: ElevenLabsFake, **kwargs: object) -> ElevenLabsTextToSpeech:
    options: dict[str, object] = {"api_key": KEY, "voice_id": VOICE, "base_url": fake.url}
    options.update(kwargs)
    return ElevenLabsTextToSpeech(**options)  # type: ignore[arg-type]


async def _until(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not predicate():  # noqa: ASYNC110 - polling a server in another thread
            await asyncio.sleep(0.01)


async def _closed(fake: ElevenLabsFake) -> ElevenLabsConnection:
    await _until(lambda: bool(fake.connections) and fake.connections[-1].closed_at is not None)
    return fake.connections[-1]


async def test_a_sentence_is_requested_as_ulaw_8000_and_streamed_back_without_a_header(
    fake: ElevenLabsFake,
) -> None:
    tts = _tts(fake)
    assert isinstance(tts, TextToSpeech)
    chunks = [chunk async for chunk in tts.synthesize("Your balance is $120.50.")]
    conn = await _closed(fake)
    assert conn.voice_id == VOICE
    assert conn.param("output_format") == "ulaw_8000" and conn.param("model_id") == "eleven_flash_v2_5"
    assert conn.headers["xi-api-key"] == KEY
    assert conn.first_message is not None
    assert conn.first_message["text"] == " " and conn.first_message["xi-api-key"] == KEY
    assert set(conn.first_message["voice_settings"]) == {"stability", "similarity_boost", "speed"}
    assert conn.first_message["generation_config"] == {"chunk_length_schedule": [50, 90, 120, 150]}
    spoken = "Your balance is one hundred twenty dollars and fifty cents."
    assert conn.texts == [spoken + " "]  # normalised, one trailing space
    assert conn.flushes == 1 and conn.end_of_input and conn.violations == []
    assert conn.final_sent and conn.client_closed_first is False  # ended by isFinal, server closed
    assert len(chunks) > 1  # streamed in pieces
    assert b"".join(chunks) == float32_to_ulaw(tone_for(spoken, fake.ms_per_char))  # raw mu-law


async def test_a_turn_streams_sentence_by_sentence_audio_before_the_text_is_complete(
    fake: ElevenLabsFake,
) -> None:
    first_audio = asyncio.Event()

    async def brain() -> AsyncIterator[str]:
        yield "Hi, this is Ava from Bright Smile Dental."
        await first_audio.wait()  # the second sentence only exists once the first is audible
        yield "How can I help?"

    received = 0
    async for _chunk in _tts(fake).stream(brain()):
        received += 1
        first_audio.set()
    conn = await _closed(fake)
    assert conn.texts == ["Hi, this is Ava from Bright Smile Dental. ", "How can I help? "]
    assert conn.flushes == 2 and conn.end_of_input and received > 2


async def test_aclose_on_barge_in_closes_the_socket_before_the_audio_is_done(fake: ElevenLabsFake) -> None:
    fake.chunk_interval_ms = 30
    text = "This is a long sentence that would take a few seconds to speak out loud."
    stream = _tts(fake).synthesize(text)
    await anext(stream)
    await anext(stream)
    await stream.aclose()
    conn = await _closed(fake)
    assert conn.client_closed_first is True
    assert not conn.final_sent
    total = -(-len(float32_to_ulaw(tone_for(text, fake.ms_per_char))) // (fake.chunk_ms * 8))
    assert conn.chunks_sent < total


async def test_cancelling_the_consumer_closes_the_socket(fake: ElevenLabsFake) -> None:
    fake.chunk_interval_ms = 30
    got_audio = asyncio.Event()

    async def play() -> None:
        async for _chunk in _tts(fake).synthesize("Another long sentence, long enough to still be playing."):
            got_audio.set()

    task = asyncio.create_task(play())
    await got_audio.wait()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    conn = await _closed(fake)
    assert conn.client_closed_first is True and not conn.final_sent


async def test_a_wrong_key_is_a_provider_error(fake: ElevenLabsFake) -> None:
    with pytest.raises(SpeechProviderError, match="401"):
        async for _chunk in _tts(fake, api_key="wrong").synthesize("Hello."):
            pass
    assert fake.refused[0][0] == 401


async def test_unavailable_service_is_a_provider_error(fake: ElevenLabsFake) -> None:
    fake.reject_next = 1
    with pytest.raises(SpeechProviderError, match="503"):
        async for _chunk in _tts(fake).synthesize("Hello."):
            pass


async def test_an_error_mid_stream_is_a_provider_error_after_the_audio_already_sent(
    fake: ElevenLabsFake,
) -> None:
    fake.error_after_chunks = 2
    received: list[bytes] = []
    with pytest.raises(SpeechProviderError, match="internal_error"):
        async for chunk in _tts(fake).synthesize("A sentence long enough for several chunks of audio."):
            received.append(chunk)
    assert len(received) == 2


async def test_a_failing_text_source_raises_its_own_error_and_closes_the_socket(fake: ElevenLabsFake) -> None:
    class BrainDied(Exception):
        pass

    async def brain() -> AsyncIterator[str]:
        yield "Let me check that."
        raise BrainDied

    with pytest.raises(BrainDied):
        async for _chunk in _tts(fake).stream(brain()):
            pass
    conn = await _closed(fake)
    assert not conn.end_of_input


def test_base_url_may_be_https_or_wss() -> None:
    url = ElevenLabsTextToSpeech(
        api_key="k", voice_id="v/1", base_url="https://api.eu.residency.example/"
    ).url
    assert url.startswith("wss://api.eu.residency.example/v1/text-to-speech/v%2F1/stream-input?")
    assert "output_format=ulaw_8000" in url
    with pytest.raises(ValueError):
        ElevenLabsTextToSpeech(api_key="k", voice_id="v", chunk_length_schedule=(10,))
