"""DeepgramSpeechToText through the real deepgram-sdk v7 client against the loopback Deepgram server.

The fake "recognises" a tone as speech and answers with scripted transcripts (tests/fakes/deepgram_server.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from telephony.deepgram_stt import DeepgramSpeechToText
from telephony.speech import Final, Partial, SpeechEvent, SpeechProviderError, SpeechStarted, UtteranceEnd
from tests.fakes.deepgram_server import DeepgramFake, silence_audio, speech_audio

KEY = "dg-test-key"


@pytest.fixture
def fake() -> Iterator[DeepgramFake]:
    with DeepgramFake(api_key=KEY) as server:
        yield server


def _stt(fake: DeepgramFake, **kwargs: object) -> DeepgramSpeechToText:
    options: dict[str, object] = {"api_key": KEY, "base_url": fake.url, "reconnect_backoff_s": 0.01}
    options.update(kwargs)
    return DeepgramSpeechToText(**options)  # type: ignore[arg-type]


async def _collect(stt: DeepgramSpeechToText, into: list[SpeechEvent]) -> None:
    async for event in stt.events():
        into.append(event)


async def _until(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not predicate():  # noqa: ASYNC110 - polling a server in another thread
            await asyncio.sleep(0.01)


@pytest.fixture
async def session(fake: DeepgramFake) -> AsyncIterator[tuple[DeepgramSpeechToText, list[SpeechEvent]]]:
    stt = _stt(fake, keyterms=["Bright Smile Dental", "copay"])
    await stt.start()
    events: list[SpeechEvent] = []
    task = asyncio.create_task(_collect(stt, events))
    yield stt, events
    await stt.close()
    await asyncio.wait_for(task, 5)


async def test_socket_is_opened_for_twilio_audio_with_the_key_and_keyterms(
    fake: DeepgramFake, session: tuple[DeepgramSpeechToText, list[SpeechEvent]]
) -> None:
    assert fake.refused == []
    await _until(lambda: bool(fake.connections))
    conn = fake.connections[0]
    assert conn.headers["authorization"] == f"Token {KEY}"
    one = {k: v[0] for k, v in conn.query.items()}
    assert one["model"] == "nova-3"
    assert one["encoding"] == "mulaw" and one["sample_rate"] == "8000" and one["channels"] == "1"
    assert one["interim_results"] == "true" and one["vad_events"] == "true" and one["smart_format"] == "true"
    assert one["endpointing"] == "400" and one["utterance_end_ms"] == "1000"
    assert one["redact"] == "pci"
    assert conn.query["keyterm"] == ["Bright Smile Dental", "copay"]
    assert "keywords" not in conn.query


async def test_older_models_get_keywords_instead_of_keyterm(fake: DeepgramFake) -> None:
    stt = _stt(fake, model="nova-2-phonecall", keyterms=["Bright Smile Dental"])
    await stt.start()
    await stt.close()
    assert fake.connections[0].query["keywords"] == ["Bright Smile Dental"]
    assert "keyterm" not in fake.connections[0].query


async def test_an_utterance_maps_to_started_partials_one_final_and_end(
    fake: DeepgramFake, session: tuple[DeepgramSpeechToText, list[SpeechEvent]]
) -> None:
    stt, events = session
    fake.script.extend(["I want to pay my balance today", "yes"])
    fake.split_finals = 3  # Deepgram sends long utterances as several is_final segments
    stt.feed(silence_audio(200) + speech_audio(1300) + silence_audio(1200))
    stt.feed(speech_audio(300) + silence_audio(500))
    await _until(lambda: sum(isinstance(e, UtteranceEnd) for e in events) == 2)
    kinds = [type(e) for e in events]
    assert kinds[0] is SpeechStarted and events[0] == SpeechStarted(at_ms=200)
    partials = [e.text for e in events if isinstance(e, Partial)]
    assert partials and all("I want to pay my balance today".startswith(p) for p in partials)
    finals = [e for e in events if isinstance(e, Final)]
    assert [f.text for f in finals] == ["I want to pay my balance today", "yes"]
    assert finals[0].confidence == pytest.approx(0.97)
    first_end = kinds.index(UtteranceEnd)
    assert kinds[first_end - 1] is Final and events[first_end] == UtteranceEnd(at_ms=1500)
    assert kinds.count(SpeechStarted) == 2  # one per utterance
    assert kinds[first_end + 1] is SpeechStarted


async def test_while_digits_are_read_a_pause_does_not_end_the_turn(
    fake: DeepgramFake, session: tuple[DeepgramSpeechToText, list[SpeechEvent]]
) -> None:
    stt, events = session
    fake.script.extend(["5 5 5", "0 1 2 3"])
    stt.end_silence_ms = 1200  # above endpointing (400): wait for Deepgram's UtteranceEnd
    stt.feed(speech_audio(500) + silence_audio(600) + speech_audio(500) + silence_audio(1300))
    await _until(lambda: any(isinstance(e, UtteranceEnd) for e in events))
    assert [e.text for e in events if isinstance(e, Final)] == ["5 5 5 0 1 2 3"]
    assert sum(isinstance(e, UtteranceEnd) for e in events) == 1


async def test_with_default_endpointing_the_same_pause_splits_the_turn(
    fake: DeepgramFake, session: tuple[DeepgramSpeechToText, list[SpeechEvent]]
) -> None:
    stt, events = session
    fake.script.extend(["5 5 5", "0 1 2 3"])
    stt.feed(speech_audio(500) + silence_audio(600) + speech_audio(500) + silence_audio(1300))
    await _until(lambda: sum(isinstance(e, UtteranceEnd) for e in events) == 2)
    assert [e.text for e in events if isinstance(e, Final)] == ["5 5 5", "0 1 2 3"]


async def test_keep_alive_holds_an_idle_socket_open(fake: DeepgramFake) -> None:
    fake.idle_timeout_s = 0.4
    stt = _stt(fake, keepalive_interval_s=0.1)
    await stt.start()
    await asyncio.sleep(1.0)  # no audio: on hold
    assert len(fake.connections) == 1 and fake.connections[0].closed_at is None
    assert len(fake.connections[0].keepalive_times) >= 3
    assert stt.keepalives_sent == len(fake.connections[0].keepalive_times)
    await stt.close()


async def test_without_keep_alive_the_idle_socket_is_closed_and_reopened(fake: DeepgramFake) -> None:
    fake.idle_timeout_s = 0.3
    stt = _stt(fake, keepalive_interval_s=30.0)
    await stt.start()
    await _until(lambda: len(fake.connections) == 2)
    assert fake.connections[0].close_code == 1011  # NET-0001
    fake.script.append("hello again")
    events: list[SpeechEvent] = []
    task = asyncio.create_task(_collect(stt, events))
    stt.feed(speech_audio(300) + silence_audio(500))
    await _until(lambda: any(isinstance(e, Final) for e in events))
    assert stt.connects == 2
    await stt.close()
    await asyncio.wait_for(task, 5)


async def test_close_sends_close_stream_and_flushes_the_last_words(fake: DeepgramFake) -> None:
    stt = _stt(fake)
    await stt.start()
    events: list[SpeechEvent] = []
    task = asyncio.create_task(_collect(stt, events))
    fake.script.append("goodbye")
    stt.feed(speech_audio(400))  # hang-up mid-utterance: no trailing silence
    await stt.close()
    await asyncio.wait_for(task, 5)  # events() ended
    conn = fake.connections[0]
    await _until(lambda: conn.closed_at is not None)  # the fake's handler runs in its own thread
    assert conn.controls[-1] == "CloseStream"
    assert conn.audio_bytes == 400 * 8  # every byte reached Deepgram before CloseStream
    assert conn.client_closed_first is False  # Deepgram closed after flushing
    assert [type(e) for e in events] == [SpeechStarted, Final, UtteranceEnd]
    assert events[1] == Final("goodbye", 0.97)
    assert stt.request_ids == [conn.request_id]  # Metadata arrived
    with pytest.raises(RuntimeError):
        stt.feed(b"\xff" * 160)


async def test_close_gives_up_on_a_server_that_never_finishes_the_stream(fake: DeepgramFake) -> None:
    fake.ignore_close_stream = True
    stt = _stt(fake, close_timeout_s=0.3)
    await stt.start()
    events: list[SpeechEvent] = []
    task = asyncio.create_task(_collect(stt, events))
    fake.script.append("are you there")
    stt.feed(speech_audio(300) + silence_audio(500))
    await _until(lambda: any(isinstance(e, UtteranceEnd) for e in events))
    await stt.close()
    await asyncio.wait_for(task, 5)  # events() ended anyway
    await _until(lambda: fake.connections[0].closed_at is not None)  # and our side closed the socket
    assert fake.connections[0].controls[-1] == "CloseStream"


async def test_wrong_key_fails_start_with_a_provider_error(fake: DeepgramFake) -> None:
    stt = DeepgramSpeechToText(api_key="wrong", base_url=fake.url)
    with pytest.raises(SpeechProviderError, match="401"):
        await stt.start()
    assert fake.refused[0][0] == 401
    with pytest.raises(SpeechProviderError):
        async for _ in stt.events():
            pass
    await stt.close()


async def test_events_open_the_socket_and_a_refusal_ends_them_with_a_provider_error(
    fake: DeepgramFake,
) -> None:
    fake.script.append("hello there")
    stt = _stt(fake)  # no start(): the session just iterates events()
    stream = stt.events()
    stt.feed(speech_audio(300) + silence_audio(500))
    assert await anext(stream) == SpeechStarted(at_ms=0)
    await stt.close()
    refused = DeepgramSpeechToText(api_key="wrong", base_url=fake.url)
    with pytest.raises(SpeechProviderError, match="401"):
        await anext(refused.events())
    await refused.close()


async def test_unreachable_deepgram_fails_start(fake: DeepgramFake) -> None:
    fake.reject_next = 1
    stt = _stt(fake)
    with pytest.raises(SpeechProviderError, match="503"):
        await stt.start()
    await stt.close()


async def test_a_dropped_socket_is_reopened_and_stream_time_continues(fake: DeepgramFake) -> None:
    stt = _stt(fake)
    await stt.start()
    events: list[SpeechEvent] = []
    task = asyncio.create_task(_collect(stt, events))
    fake.script.extend(["first", "second"])
    stt.feed(speech_audio(300) + silence_audio(500))
    await _until(lambda: any(isinstance(e, UtteranceEnd) for e in events))
    fake.drop_after_bytes = fake.connections[0].audio_bytes + 800
    stt.feed(silence_audio(200))
    await _until(lambda: len(fake.connections) == 2)
    stt.feed(speech_audio(300) + silence_audio(500))
    await _until(lambda: sum(isinstance(e, UtteranceEnd) for e in events) == 2)
    assert [e.text for e in events if isinstance(e, Final)] == ["first", "second"]
    starts = [e.at_ms for e in events if isinstance(e, SpeechStarted)]
    assert starts[0] == 0 and starts[1] >= 1000  # offset by the audio sent on the first socket
    await stt.close()
    await asyncio.wait_for(task, 5)


async def test_when_reconnecting_fails_events_raise_after_what_was_heard(fake: DeepgramFake) -> None:
    stt = _stt(fake, max_reconnects=2)
    await stt.start()
    events: list[SpeechEvent] = []
    fake.script.append("can you hear me")
    stream = stt.events()
    stt.feed(speech_audio(300) + silence_audio(500))
    while not isinstance(event := await anext(stream), UtteranceEnd):
        events.append(event)
    fake.reject_next = 5
    fake.drop_after_bytes = fake.connections[0].audio_bytes + 160
    stt.feed(silence_audio(40))
    with pytest.raises(SpeechProviderError, match="503"):
        while True:
            events.append(await anext(stream))
    assert Final("can you hear me", 0.97) in events
    assert len(fake.refused) == 2  # two reconnect attempts, both refused
    stt.feed(b"\xff" * 160)  # a failed provider swallows audio; the session has switched away
    await stt.close()
