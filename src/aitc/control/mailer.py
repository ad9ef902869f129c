"""The mailer: sends the e-mail that jobs ask for (``--mail-type``), from the store's outbox.

It runs beside the controller in ``aitc serve``, a thread of its own, and never in an API
request or the controller's pass: ``transition`` queues each mail in the transaction that
changes the job (``aitc.control.store.outbox``), so what commits is mailed even if the server
stops the moment after. Each pass (every ``MailSettings.tick_s``):

1. queues the warnings before the time limit that running jobs have reached (``TIME_LIMIT_50``
   …, by the injected clock);
2. reads the due mails and, outside any transaction, hands them to the SMTP server on one
   connection (``smtplib``);
3. records each outcome: ``sent``; a refused address ``failed`` (and a line in the job's
   history); anything else (server down, timeout, a temporary 4xx) tried again after a
   backoff that doubles from ``retry_s`` up to ``max_retry_s``, until ``give_up_s`` after the
   mail was queued. Without an SMTP host the mails are ``dropped``, and each job's history
   says once that this server sends no mail.

A crash after the SMTP server took a mail and before ``sent`` was written sends it again after
the restart: a duplicate, never a loss. Each send, retry and failure is logged.
"""

from __future__ import annotations

import logging
import smtplib
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from aitc.control.clock import Clock
from aitc.control.store import Store
from aitc.control.store.outbox import (
    OutboxMail,
    due_mail,
    mail_dropped,
    mail_failed,
    mail_retry,
    mail_sent,
    queue_time_limit_mail,
)
from aitc.control.ticker import Ticker

log = logging.getLogger(__name__)
# Subjects as Slurm's run past 78 characters: kept on one line (RFC 5322 allows 998).
_POLICY = policy.default.clone(max_line_length=998)
NO_SMTP = "this server sends no e-mail (aitc serve has no --smtp-host)"


@dataclass(frozen=True, slots=True)
class MailSettings:
    """Where the mailer hands its mail (``aitc serve --smtp-host`` …); ``smtp_host`` None: no
    mail is sent. ``public_url``: the server's address as members reach it, for links."""

    smtp_host: str | None = None
    smtp_port: int = 25
    mail_from: str = f"aitc@{socket.getfqdn()}"
    public_url: str | None = None
    tick_s: float = 5.0
    timeout_s: float = 30.0
    retry_s: float = 60.0
    max_retry_s: float = 3600.0
    give_up_s: float = 3 * 86400.0


@dataclass(frozen=True, slots=True)
class MailPass:
    """What one pass did, by outbox id."""

    sent: tuple[int, ...] = ()
    retried: tuple[int, ...] = ()
    failed: tuple[int, ...] = ()
    dropped: tuple[int, ...] = ()
    warnings_queued: int = 0


class Mailer(Ticker):
    """Empties the outbox into the SMTP server (see the module docstring)."""

    thread_name = "aitc-mailer"

    def __init__(self, *, store: Store, clock: Clock, settings: MailSettings) -> None:
        super().__init__(settings.tick_s)
        self.store, self.clock, self.settings = store, clock, settings

    def step(self) -> MailPass:
        """One pass (see the module docstring)."""
        now = self.clock.now()
        with self.store.session() as s:
            warnings = queue_time_limit_mail(session=s, now=now)
        with self.store.session() as s:
            due = due_mail(session=s, now=now)
        if not due:
            return MailPass(warnings_queued=warnings)
        if self.settings.smtp_host is None:
            with self.store.session() as s:
                mail_dropped(session=s, mails=due, reason=NO_SMTP, now=now)
            log.info("dropped %d mails: %s", len(due), NO_SMTP)
            return MailPass(dropped=tuple(m.id for m in due), warnings_queued=warnings)
        done = self._send_all(due, now)
        return MailPass(**done, warnings_queued=warnings)

    def _send_all(self, due: Sequence[OutboxMail], now: float) -> dict[str, tuple[int, ...]]:
        sent: list[int] = []
        refused: dict[int, str] = {}
        error = ""
        try:
            with self._connect() as smtp:
                for mail in due:
                    try:
                        smtp.send_message(self.message(mail))
                    except smtplib.SMTPRecipientsRefused as exc:
                        refused[mail.id] = _refusal(exc)
                        continue
                    sent.append(mail.id)
                    log.info(
                        "mail %d (job %s, %s) sent to %s",
                        mail.id,
                        mail.job_id,
                        mail.kind,
                        mail.to_address,
                    )
        except (OSError, smtplib.SMTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"
        return self._record(due, sent, refused, error, now)

    def _record(
        self,
        due: Sequence[OutboxMail],
        sent: list[int],
        refused: dict[int, str],
        error: str,
        now: float,
    ) -> dict[str, tuple[int, ...]]:
        retried, failed = [], []
        with self.store.session() as s:
            if sent:
                mail_sent(session=s, ids=sent, now=now)
            for mail in due:
                if mail.id in sent:
                    continue
                why = refused.get(mail.id)
                if why is None and now - mail.created_at >= self.settings.give_up_s:
                    why = (
                        f"the SMTP server failed for {self.settings.give_up_s / 3600:g} h: {error}"
                    )
                if why is not None:
                    mail_failed(session=s, mail=mail, error=why, now=now)
                    failed.append(mail.id)
                    log.error(
                        "mail %d (job %s) to %s not sent: %s",
                        mail.id,
                        mail.job_id,
                        mail.to_address,
                        why,
                    )
                    continue
                wait = min(self.settings.retry_s * 2**mail.tries, self.settings.max_retry_s)
                mail_retry(session=s, mail_id=mail.id, error=error, at=now + wait)
                retried.append(mail.id)
        if retried:
            log.warning(
                "%d mails not sent (%s); trying again from %.0f s",
                len(retried),
                error,
                min(self.settings.retry_s * 2**m.tries for m in due if m.id in retried),
            )
        return {"sent": tuple(sent), "retried": tuple(retried), "failed": tuple(failed)}

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        return smtplib.SMTP(s.smtp_host or "", s.smtp_port, timeout=s.timeout_s)

    def message(self, mail: OutboxMail) -> EmailMessage:
        """The message of an outbox mail, with a link to the job's page when the server knows
        its public address."""
        msg = EmailMessage(policy=_POLICY)
        msg["From"] = self.settings.mail_from
        msg["To"] = mail.to_address
        msg["Subject"] = mail.subject
        msg["Date"] = formatdate(self.clock.now(), usegmt=True)
        msg["Message-ID"] = make_msgid(f"aitc.{mail.job_id}.{mail.id}")
        body = mail.body
        if self.settings.public_url:
            body += f"\n{self.settings.public_url.rstrip('/')}/jobs/{mail.job_id}\n"
        msg.set_content(body)
        return msg


def _refusal(exc: smtplib.SMTPRecipientsRefused) -> str:
    """The SMTP server's answer for a refused address (a 5xx is for good; a 4xx is not)."""
    codes = [code for code, _ in exc.recipients.values()]
    answer = "; ".join(f"{c} {m.decode(errors='replace')}" for c, m in exc.recipients.values())
    if all(code >= 500 for code in codes):
        return f"refused: {answer}"
    raise smtplib.SMTPException(f"address refused for now: {answer}")
