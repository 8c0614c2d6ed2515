"""Twilio Media Streams messages: a typed parse of what Twilio sends, builders for what we send back.

Twilio → server (JSON text frames; every numeric field arrives as a *string*):
``connected``, ``start`` (with ``customParameters``), ``media``, ``dtmf``, ``mark``, ``stop``.
Server → Twilio (bidirectional streams only): ``media`` (base64 raw 8 kHz mu-law, no file header),
``mark`` and ``clear``.

``parse_message`` turns one frame into a frozen dataclass or raises ``MediaStreamMessageError`` naming
the field at fault; it never returns half-parsed data. Unknown extra keys are ignored (Twilio adds
fields over time); missing or mistyped required ones are errors.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ConnectedEvent",
    "DtmfEvent",
    "InboundMessage",
    "MarkEvent",
    "MediaEvent",
    "MediaFormat",
    "MediaStreamMessageError",
    "StartEvent",
    "StopEvent",
    "build_clear",
    "build_mark",
    "build_media",
    "parse_message",
]


class MediaStreamMessageError(ValueError):
    """A Media Streams frame that is not valid JSON or lacks/mistypes a required field."""


@dataclass(frozen=True, slots=True)
class ConnectedEvent:
    protocol: str
    version: str


@dataclass(frozen=True, slots=True)
class MediaFormat:
    encoding: str
    sample_rate: int
    channels: int


@dataclass(frozen=True, slots=True)
class StartEvent:
    sequence_number: int
    stream_sid: str
    account_sid: str
    call_sid: str
    tracks: tuple[str, ...]
    media_format: MediaFormat
    custom_parameters: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MediaEvent:
    sequence_number: int
    stream_sid: str
    track: str
    chunk: int
    timestamp_ms: int
    payload: bytes
    """Raw 8 kHz mu-law bytes (already base64-decoded)."""


@dataclass(frozen=True, slots=True)
class DtmfEvent:
    sequence_number: int
    stream_sid: str
    track: str
    digit: str


@dataclass(frozen=True, slots=True)
class MarkEvent:
    sequence_number: int
    stream_sid: str
    name: str


@dataclass(frozen=True, slots=True)
class StopEvent:
    sequence_number: int
    stream_sid: str
    account_sid: str
    call_sid: str


InboundMessage = ConnectedEvent | StartEvent | MediaEvent | DtmfEvent | MarkEvent | StopEvent


_DTMF_DIGITS = frozenset("0123456789*#ABCD")
_DECIMAL = re.compile(r"[0-9]{1,18}")


def _obj(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise MediaStreamMessageError(f"{where}.{key}: expected an object, got {type(value).__name__}")
    return value


def _str(data: Mapping[str, Any], key: str, where: str, *, allow_empty: bool = False) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise MediaStreamMessageError(f"{where}.{key}: expected a string, got {type(value).__name__}")
    if not value and not allow_empty:
        raise MediaStreamMessageError(f"{where}.{key}: must not be empty")
    return value


def _int(data: Mapping[str, Any], key: str, where: str) -> int:
    """Twilio sends numbers as decimal strings; accept a JSON integer too (``mediaFormat`` uses them)."""
    value = data.get(key)
    if isinstance(value, bool):
        raise MediaStreamMessageError(f"{where}.{key}: expected a number, got a boolean")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DECIMAL.fullmatch(value):
        number = int(value)
    else:
        raise MediaStreamMessageError(f"{where}.{key}: expected a non-negative integer string, got {value!r}")
    if number < 0:
        raise MediaStreamMessageError(f"{where}.{key}: must not be negative")
    return number


def parse_message(raw: str | bytes | Mapping[str, Any]) -> InboundMessage:
    """Parse one Twilio → server Media Streams frame."""
    if isinstance(raw, Mapping):
        data: Any = raw
    else:
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MediaStreamMessageError(f"not valid JSON: {exc}") from exc
    if not isinstance(data, Mapping):
        raise MediaStreamMessageError("message: expected a JSON object")
    event = data.get("event")
    if event == "connected":
        return ConnectedEvent(
            protocol=_str(data, "protocol", "connected"), version=_str(data, "version", "connected")
        )
    if event == "start":
        return _parse_start(data)
    if event == "media":
        media = _obj(data, "media", "media")
        payload_b64 = _str(media, "payload", "media.media", allow_empty=True)
        try:
            payload = base64.b64decode(payload_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MediaStreamMessageError(f"media.media.payload: not valid base64: {exc}") from exc
        return MediaEvent(
            sequence_number=_int(data, "sequenceNumber", "media"),
            stream_sid=_str(data, "streamSid", "media"),
            track=_str(media, "track", "media.media"),
            chunk=_int(media, "chunk", "media.media"),
            timestamp_ms=_int(media, "timestamp", "media.media"),
            payload=payload,
        )
    if event == "dtmf":
        dtmf = _obj(data, "dtmf", "dtmf")
        digit = _str(dtmf, "digit", "dtmf.dtmf")
        if digit not in _DTMF_DIGITS:
            raise MediaStreamMessageError(f"dtmf.dtmf.digit: not a keypad digit: {digit!r}")
        return DtmfEvent(
            sequence_number=_int(data, "sequenceNumber", "dtmf"),
            stream_sid=_str(data, "streamSid", "dtmf"),
            track=_str(dtmf, "track", "dtmf.dtmf"),
            digit=digit,
        )
    if event == "mark":
        mark = _obj(data, "mark", "mark")
        return MarkEvent(
            sequence_number=_int(data, "sequenceNumber", "mark"),
            stream_sid=_str(data, "streamSid", "mark"),
            name=_str(mark, "name", "mark.mark"),
        )
    if event == "stop":
        stop = _obj(data, "stop", "stop")
        return StopEvent(
            sequence_number=_int(data, "sequenceNumber", "stop"),
            stream_sid=_str(data, "streamSid", "stop"),
            account_sid=_str(stop, "accountSid", "stop.stop"),
            call_sid=_str(stop, "callSid", "stop.stop"),
        )
    if not isinstance(event, str):
        raise MediaStreamMessageError("message.event: missing or not a string")
    raise MediaStreamMessageError(f"message.event: unknown event {event!r}")


def _parse_start(data: Mapping[str, Any]) -> StartEvent:
    start = _obj(data, "start", "start")
    tracks_raw = start.get("tracks")
    if not isinstance(tracks_raw, list) or not all(isinstance(t, str) for t in tracks_raw):
        raise MediaStreamMessageError("start.start.tracks: expected a list of strings")
    fmt = _obj(start, "mediaFormat", "start.start")
    params_raw = start.get("customParameters", {})
    if params_raw is None:
        params_raw = {}
    if not isinstance(params_raw, Mapping):
        raise MediaStreamMessageError("start.start.customParameters: expected an object")
    params: dict[str, str] = {}
    for key, value in params_raw.items():
        if not isinstance(value, str):
            raise MediaStreamMessageError(f"start.start.customParameters.{key}: expected a string")
        params[str(key)] = value
    stream_sid = _str(start, "streamSid", "start.start")
    outer_sid = data.get("streamSid")
    if outer_sid is not None and outer_sid != stream_sid:
        raise MediaStreamMessageError("start.streamSid: differs from start.start.streamSid")
    return StartEvent(
        sequence_number=_int(data, "sequenceNumber", "start"),
        stream_sid=stream_sid,
        account_sid=_str(start, "accountSid", "start.start"),
        call_sid=_str(start, "callSid", "start.start"),
        tracks=tuple(tracks_raw),
        media_format=MediaFormat(
            encoding=_str(fmt, "encoding", "start.start.mediaFormat"),
            sample_rate=_int(fmt, "sampleRate", "start.start.mediaFormat"),
            channels=_int(fmt, "channels", "start.start.mediaFormat"),
        ),
        custom_parameters=params,
    )


def _dump(message: Mapping[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


def build_media(stream_sid: str, mulaw: bytes) -> str:
    """A server → Twilio ``media`` frame: raw 8 kHz mu-law, base64, no container header."""
    if not stream_sid:
        raise ValueError("stream_sid must not be empty")
    payload = base64.b64encode(mulaw).decode("ascii")
    return _dump({"event": "media", "streamSid": stream_sid, "media": {"payload": payload}})


def build_mark(stream_sid: str, name: str) -> str:
    """A ``mark``: Twilio echoes it once the audio sent before it has played (or been cleared)."""
    if not stream_sid or not name:
        raise ValueError("stream_sid and name must not be empty")
    return _dump({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def build_clear(stream_sid: str) -> str:
    """A ``clear``: Twilio drops its buffered audio and echoes every pending mark."""
    if not stream_sid:
        raise ValueError("stream_sid must not be empty")
    return _dump({"event": "clear", "streamSid": stream_sid})
