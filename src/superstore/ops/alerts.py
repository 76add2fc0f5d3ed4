"""Alerting, the SNS replacement: a Slack-compatible webhook and/or SMTP mail.

Both channels are optional and configured by settings (`alert_webhook_url`,
`alert_smtp_*`). Delivery failures are logged, never raised: an alert must
not take the pipeline down with it. Secrets (webhook URL, SMTP password) are
never logged.
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage

from superstore.settings import Settings

__all__ = ["Alert", "Alerter"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alert:
    """Something a human should look at."""

    kind: str  # step_failed | reconciliation_mismatch | dlq_growth | lag_high
    summary: str
    details: dict[str, object] = field(default_factory=dict)

    def text(self) -> str:
        """One Slack-friendly message."""
        extra = "\n".join(f"• {k}: {v}" for k, v in self.details.items())
        return f":rotating_light: superstore {self.kind}: {self.summary}" + (
            f"\n{extra}" if extra else ""
        )


class Alerter:
    """Sends alerts to every configured channel; returns how many accepted it."""

    def __init__(
        self,
        webhook_url: str = "",
        smtp_host: str = "",
        smtp_port: int = 25,
        smtp_from: str = "superstore@localhost",
        smtp_to: tuple[str, ...] = (),
        smtp_user: str = "",
        smtp_password: str = "",
        smtp_starttls: bool = False,
        timeout: float = 5.0,
    ) -> None:
        self.webhook_url = webhook_url
        self.smtp_host = smtp_host
        self.smtp_port = smtp_port
        self.smtp_from = smtp_from
        self.smtp_to = smtp_to
        self.smtp_user = smtp_user
        self._smtp_password = smtp_password
        self.smtp_starttls = smtp_starttls
        self.timeout = timeout
        self.sent: list[Alert] = []

    @classmethod
    def from_settings(cls, settings: Settings) -> Alerter:
        """The channels configured in settings (none configured: alerts are only logged)."""
        return cls(
            webhook_url=settings.alert_webhook_url.get_secret_value()
            if settings.alert_webhook_url
            else "",
            smtp_host=settings.alert_smtp_host,
            smtp_port=settings.alert_smtp_port,
            smtp_from=settings.alert_smtp_from,
            smtp_to=tuple(settings.alert_smtp_to),
            smtp_user=settings.alert_smtp_user,
            smtp_password=settings.alert_smtp_password.get_secret_value()
            if settings.alert_smtp_password
            else "",
            smtp_starttls=settings.alert_smtp_starttls,
        )

    @property
    def configured(self) -> bool:
        """True when at least one delivery channel is set up."""
        return bool(self.webhook_url or (self.smtp_host and self.smtp_to))

    def send(self, alert: Alert) -> int:
        """Deliver to every channel; failures are logged (without secrets), not raised."""
        log.warning("ALERT %s: %s", alert.kind, alert.summary)
        self.sent.append(alert)
        delivered = 0
        if self.webhook_url:
            delivered += self._webhook(alert)
        if self.smtp_host and self.smtp_to:
            delivered += self._smtp(alert)
        return delivered

    def _webhook(self, alert: Alert) -> int:
        body = json.dumps(
            {"text": alert.text(), "kind": alert.kind, "details": alert.details}, default=str
        ).encode()
        request = urllib.request.Request(
            self.webhook_url, data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                ok = 200 <= response.status < 300
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            log.error("alert webhook delivery failed: %s", type(exc).__name__)
            return 0
        if not ok:
            log.error("alert webhook answered HTTP %s", response.status)
        return int(ok)

    def _smtp(self, alert: Alert) -> int:
        msg = EmailMessage()
        msg["Subject"] = f"[superstore] {alert.kind}: {alert.summary}"[:200]
        msg["From"] = self.smtp_from
        msg["To"] = ", ".join(self.smtp_to)
        msg.set_content(alert.text())
        try:
            with smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=self.timeout) as smtp:
                if self.smtp_starttls:
                    smtp.starttls()
                if self.smtp_user:
                    smtp.login(self.smtp_user, self._smtp_password)
                smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            log.error("alert mail delivery failed: %s", type(exc).__name__)
            return 0
        return 1
