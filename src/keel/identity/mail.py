"""Outgoing mail: SMTP (aiosmtplib) when SMTP_HOST is set, else the message is logged (development)."""

from __future__ import annotations

from email.message import EmailMessage

import structlog

from keel.settings import Settings

log = structlog.get_logger("keel.mail")


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, to: str, subject: str, body: str) -> None:
        """Send, never raise: a mail failure is logged, the request it belongs to still succeeds."""
        s = self.settings
        if not s.smtp_host:
            if s.is_production:
                log.warning("mail_not_sent", reason="SMTP_HOST is empty", to=to, subject=subject)
            else:
                log.info("mail_not_sent_development", to=to, subject=subject, body=body)
            return
        message = EmailMessage()
        message["From"] = s.mail_from
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        import aiosmtplib  # loaded with the first mail, not by every server at start-up

        try:
            await aiosmtplib.send(
                message,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_user or None,
                password=s.smtp_password or None,
                start_tls=s.smtp_starttls,
                timeout=10,
            )
        except Exception as exc:
            log.error("mail_failed", to=to, subject=subject, error=f"{type(exc).__name__}: {exc}"[:300])
