"""A real SMTP server on loopback (aiosmtpd) for tests of the e-mail channel.

It speaks SMTP as any relay does (EHLO, optional AUTH PLAIN/LOGIN, MAIL/RCPT/DATA) in a background
thread on 127.0.0.1, records every accepted message (parsed with the stdlib ``email`` package), and
can refuse recipients the way real servers do:

    with SmtpServer(username="u", password="p") as smtp:
        smtp.reject_permanently.add("gone@example.com")   # 550 at RCPT
        smtp.fail_next(1)                                 # next RCPT: 451 (try again later)
        ...  # smtp.messages[0]["Subject"], smtp.messages[0].get_body(("plain",)).get_content()
"""

from __future__ import annotations

import socket
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self._server = server

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        with self._server.lock:
            transient = self._server._transient > 0
            if transient:
                self._server._transient -= 1
        if transient:
            return "451 4.3.0 Temporary failure, try again later"
        if address.lower() in self._server.reject_permanently:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self._server.lock:
            self._server.messages.append(parsed)
            self._server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SmtpServer:
    """Context manager around an aiosmtpd ``Controller`` (plain SMTP; AUTH allowed without TLS)."""

    def __init__(self, *, username: str | None = None, password: str | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = _free_port()
        self.username = username
        self.password = password
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.reject_permanently: set[str] = set()
        self.auth_attempts = 0
        self.lock = threading.Lock()
        self._transient = 0
        kwargs: dict[str, Any] = {}
        if username is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True, auth_require_tls=False)
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port, **kwargs)

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        with self.lock:
            self.auth_attempts += 1
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == self.username
            and data.password.decode() == self.password
        )
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535 itself

    def fail_next(self, n: int = 1) -> None:
        """Answer the next ``n`` RCPT commands with 451 (a temporary failure)."""
        with self.lock:
            self._transient += n

    def reset(self) -> None:
        with self.lock:
            self.messages.clear()
            self.envelopes.clear()
            self.reject_permanently.clear()
            self._transient = 0

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()
