"""Media Streams messages: Twilio's documented examples parse into typed events; builders round-trip."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import pytest

from telephony.audio import FRAME_BYTES
from telephony.media_streams import (
    ConnectedEvent,
    DtmfEvent,
    MarkEvent,
    MediaEvent,
    MediaStreamMessageError,
    StartEvent,
    StopEvent,
    build_clear,
    build_mark,
    build_media,
    parse_message,
)

ACCOUNT = "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
STREAM = "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
CALL = "CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
PAYLOAD = base64.b64encode(bytes(range(256))[:FRAME_BYTES]).decode()

# The message shapes from Twilio's "Media Streams - WebSocket Messages" documentation.
CONNECTED = {"event": "connected", "protocol": "Call", "version": "1.0.0"}
START = {
    "event": "start",
    "sequenceNumber": "1",
    "start": {
        "accountSid": ACCOUNT,
        "streamSid": STREAM,
        "callSid": CALL,
        "tracks": ["inbound"],
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        "customParameters": {"FirstName": "Jane", "LastName": "Doe", "RemoteParty": "Bob"},
    },
    "streamSid": STREAM,
}
MEDIA = {
    "event": "media",
    "sequenceNumber": "3",
    "media": {"track": "outbound", "chunk": "1", "timestamp": "5", "payload": PAYLOAD},
    "streamSid": STREAM,
}
DTMF = {
    "event": "dtmf",
    "streamSid": STREAM,
    "sequenceNumber": "5",
    "dtmf": {"track": "inbound_track", "digit": "1"},
}
MARK = {"event": "mark", "sequenceNumber": "4", "streamSid": STREAM, "mark": {"name": "my label"}}
STOP = {
    "event": "stop",
    "sequenceNumber": "5",
    "stop": {"accountSid": ACCOUNT, "callSid": CALL},
    "streamSid": STREAM,
}


def test_connected() -> None:
    assert parse_message(json.dumps(CONNECTED)) == ConnectedEvent(protocol="Call", version="1.0.0")


def test_start_with_custom_parameters() -> None:
    event = parse_message(json.dumps(START))
    assert isinstance(event, StartEvent)
    assert event.sequence_number == 1
    assert (event.stream_sid, event.account_sid, event.call_sid) == (STREAM, ACCOUNT, CALL)
    assert event.tracks == ("inbound",)
    assert (event.media_format.encoding, event.media_format.sample_rate, event.media_format.channels) == (
        "audio/x-mulaw",
        8000,
        1,
    )
    assert dict(event.custom_parameters) == {"FirstName": "Jane", "LastName": "Doe", "RemoteParty": "Bob"}


def test_start_without_custom_parameters() -> None:
    msg = json.loads(json.dumps(START))
    del msg["start"]["customParameters"]
    event = parse_message(json.dumps(msg))
    assert isinstance(event, StartEvent)
    assert dict(event.custom_parameters) == {}


def test_media_numeric_strings_and_payload_decoded() -> None:
    event = parse_message(json.dumps(MEDIA).encode())
    assert isinstance(event, MediaEvent)
    assert (event.sequence_number, event.chunk, event.timestamp_ms, event.track) == (3, 1, 5, "outbound")
    assert event.payload == bytes(range(256))[:FRAME_BYTES]


def test_dtmf_mark_stop() -> None:
    assert parse_message(json.dumps(DTMF)) == DtmfEvent(5, STREAM, "inbound_track", "1")
    assert parse_message(json.dumps(MARK)) == MarkEvent(4, STREAM, "my label")
    assert parse_message(json.dumps(STOP)) == StopEvent(5, STREAM, ACCOUNT, CALL)


def test_parse_accepts_an_already_decoded_mapping() -> None:
    assert parse_message(MARK) == MarkEvent(4, STREAM, "my label")


def _mutated(base: Mapping[str, Any], path: tuple[str, ...], value: object) -> str:
    msg = json.loads(json.dumps(base))
    target = msg
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return json.dumps(msg)


_DELETE = object()


@pytest.mark.parametrize(
    ("raw", "message_part"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (json.dumps({"event": "bogus"}), "unknown event 'bogus'"),
        (json.dumps({"protocol": "Call"}), "message.event"),
        (_mutated(MEDIA, ("sequenceNumber",), "three"), "media.sequenceNumber"),
        (_mutated(MEDIA, ("sequenceNumber",), "-3"), "media.sequenceNumber"),
        (_mutated(MEDIA, ("sequenceNumber",), "²"), "media.sequenceNumber"),
        (_mutated(MEDIA, ("media", "timestamp"), " 5"), "media.media.timestamp"),
        (_mutated(MEDIA, ("media", "payload"), "***"), "not valid base64"),
        (_mutated(MEDIA, ("media", "chunk"), _DELETE), "media.media.chunk"),
        (_mutated(MEDIA, ("media",), "x"), "media.media: expected an object"),
        (_mutated(START, ("start", "tracks"), "inbound"), "start.start.tracks"),
        (_mutated(START, ("start", "customParameters"), {"n": 1}), "customParameters.n"),
        (_mutated(START, ("streamSid",), "MZother"), "differs"),
        (_mutated(START, ("start", "mediaFormat", "sampleRate"), True), "sampleRate"),
        (_mutated(DTMF, ("dtmf", "digit"), "x"), "not a keypad digit"),
        (_mutated(MARK, ("mark", "name"), ""), "mark.mark.name: must not be empty"),
        (_mutated(STOP, ("stop", "callSid"), None), "stop.stop.callSid"),
    ],
)
def test_malformed_messages_raise_clear_errors(raw: str, message_part: str) -> None:
    with pytest.raises(MediaStreamMessageError, match=None) as info:
        parse_message(raw)
    assert message_part in str(info.value)


def test_build_media_is_raw_mulaw_base64() -> None:
    audio = bytes([0xFF] * FRAME_BYTES)
    msg = json.loads(build_media(STREAM, audio))
    assert msg == {
        "event": "media",
        "streamSid": STREAM,
        "media": {"payload": base64.b64encode(audio).decode()},
    }
    assert base64.b64decode(msg["media"]["payload"]) == audio


def test_mark_round_trip_through_a_twilio_echo() -> None:
    sent = json.loads(build_mark(STREAM, "bl-0-7"))
    assert sent == {"event": "mark", "streamSid": STREAM, "mark": {"name": "bl-0-7"}}
    echo = {**sent, "sequenceNumber": "9"}  # Twilio echoes the mark with its own sequence number
    assert parse_message(json.dumps(echo)) == MarkEvent(9, STREAM, "bl-0-7")


def test_build_clear() -> None:
    assert json.loads(build_clear(STREAM)) == {"event": "clear", "streamSid": STREAM}


@pytest.mark.parametrize(
    "builder", [lambda: build_clear(""), lambda: build_mark(STREAM, ""), lambda: build_media("", b"")]
)
def test_builders_refuse_empty_identifiers(builder: object) -> None:
    with pytest.raises(ValueError):
        builder()  # type: ignore[operator]
