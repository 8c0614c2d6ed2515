"""The voice side of the running app: speech providers (loaded once, off the loop), grants, deps.

``voice_service(app)`` returns the app's ``VoiceService``, creating it on first use; tests and the
demo may install one with their own providers (``install_voice_service``) before the first call.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import FastAPI

from agent import gc_tuning
from agent.logs import get_logger
from agent.runtime import Runtime
from agent.voice.providers import SpeechProviders, load_speech_providers
from agent.voice.session import CallResult, VoiceConfig, VoiceDeps, VoiceSession
from agent.voice.stream_grants import TOKEN_PARAMETER, StreamGrant, StreamGrants
from telephony.media_streams import InboundMessage, StartEvent

log = get_logger(__name__)


class VoiceService:
    def __init__(
        self, runtime: Runtime, *, providers: SpeechProviders | None = None, config: VoiceConfig | None = None
    ) -> None:
        self.runtime = runtime
        self.deps = VoiceDeps.from_runtime(runtime)
        self.grants = StreamGrants(runtime.state)
        self.config = config or VoiceConfig()
        self._providers = providers
        self._loading: asyncio.Task[SpeechProviders] | None = None

    def warm(self) -> None:
        """Start loading the speech providers (the inbound webhook calls this before the stream)."""
        if self._providers is None and self._loading is None:
            self._loading = asyncio.get_running_loop().create_task(
                load_speech_providers(self.runtime.settings)
            )

    async def providers(self) -> SpeechProviders:
        if self._providers is None:
            self.warm()
            assert self._loading is not None
            self._providers = await asyncio.shield(self._loading)
            gc_tuning.settle_more()  # the speech models stay loaded: freeze, don't walk them
        return self._providers

    async def authorize(self, start: StartEvent) -> StreamGrant | None:
        return await self.grants.redeem(start.custom_parameters.get(TOKEN_PARAMETER))

    async def run_call(
        self,
        messages: AsyncIterator[InboundMessage],
        send: Callable[[str], Awaitable[None]],
        *,
        on_stream_end: Callable[[], Awaitable[None]] | None = None,
    ) -> CallResult:
        """One media stream from ``start`` to the end (any transport)."""
        providers = await self.providers()
        session = VoiceSession(
            self.deps,
            providers,
            send=send,
            authorize=self.authorize,
            config=self.config,
            on_stream_end=on_stream_end,
        )
        return await session.run(messages)


def voice_service(app: FastAPI) -> VoiceService:
    service: VoiceService | None = getattr(app.state, "voice", None)
    if service is None or service.runtime is not app.state.runtime:
        service = VoiceService(app.state.runtime)
        app.state.voice = service
    return service


def install_voice_service(
    app: FastAPI, *, providers: SpeechProviders, config: VoiceConfig | None = None
) -> VoiceService:
    service = VoiceService(app.state.runtime, providers=providers, config=config)
    app.state.voice = service
    return service
