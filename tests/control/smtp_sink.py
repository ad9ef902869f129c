"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it is sent, for the mail tests."""

from __future__ import annotations

import socket
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpSink:
    """Collects messages (``messages``, parsed; ``to``: the envelope's recipients); started
    with ``start()``, stopped with ``stop()``, and may start again on the same port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.messages: list[EmailMessage] = []
        self.to: list[list[str]] = []
        self._controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(
            message_from_bytes(envelope.content, _class=EmailMessage, policy=policy.default)
        )  # type: ignore[arg-type]
        self.to.append(list(envelope.rcpt_tos))
        return "250 OK"

    def start(self) -> SmtpSink:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]
