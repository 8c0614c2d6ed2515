"""A call's ElevenLabs view (``WarmElevenLabs``): each sentence takes a socket opened while the previous one
played, the wire protocol per socket is unchanged, and the spare is closed when the call ends."""

from __future__ import annotations

import asyncio
import time

import pytest

from telephony.elevenlabs_tts import ElevenLabsTextToSpeech
from telephony.speech import SpeechProviderError
from tests.fakes.elevenlabs_server import ElevenLabsFake

KEY = "el-test-key"


async def _audio(tts: object, text: str) -> bytes:
    return b"".join([chunk async for chunk in tts.synthesize(text)])  # type: ignore[attr-defined]


async def test_the_next_sentence_socket_is_open_before_the_sentence() -> None:
    with ElevenLabsFake(api_key=KEY, ms_per_char=2) as el:
        warm = ElevenLabsTextToSpeech(api_key=KEY, voice_id="v", base_url=el.url).for_call()
        assert await _audio(warm, "Hello there.")
        await asyncio.sleep(0.3)  # the caller listens; the spare opens meanwhile
        asked = time.monotonic()
        assert await _audio(warm, "Second sentence.")
        await warm.aclose()
        async with asyncio.timeout(5):
            while any(c.closed_at is None for c in el.connections):  # noqa: ASYNC110 - server thread
                await asyncio.sleep(0.02)
        used = [c for c in el.connections if c.texts]
        assert [c.texts for c in used] == [["Hello there. "], ["Second sentence. "]]
        assert used[1].opened_at < asked  # no handshake on the second sentence's path
        for conn in used:  # each sentence's socket was initialised as documented
            assert conn.first_message is not None and conn.first_message["text"] == " "
            assert not conn.violations
        assert len(el.connections) <= 3  # at most one spare beyond the sentences, closed at the end


async def test_a_refused_spare_still_fails_loudly_at_use() -> None:
    with ElevenLabsFake(api_key=KEY) as el:
        warm = ElevenLabsTextToSpeech(api_key="revoked", voice_id="v", base_url=el.url).for_call()
        warm.warm()
        await asyncio.sleep(0.2)
        with pytest.raises(SpeechProviderError):
            await _audio(warm, "Hello.")
        await warm.aclose()
        assert el.refused
