"""The alert webhook: a JSON POST to the URL the operator set (`ALERT_WEBHOOK_URL`), any receiver, no vendor.

Slack, Teams, PagerDuty or an in-house service each take a JSON body at a URL (directly or through a relay), so the
product posts one plain payload and leaves the routing to the receiver.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import dagster as dg

WEBHOOK_TIMEOUT_SECONDS = 10.0


class AlertWebhookError(RuntimeError):
    """The receiver did not take the alert; the sensor tick fails and its next tick sends it again."""


class AlertWebhook(dg.ConfigurableResource):
    """Posts alerts as JSON to `url`; with no URL set, alerts only reach the sensor's log in the UI."""

    url: str | None = None

    def post(self, *, payload: dict[str, Any]) -> bool:
        """POST `payload` as JSON; False when no URL is configured, `AlertWebhookError` when the receiver fails."""
        if not self.url:
            return False
        request = urllib.request.Request(
            self.url,
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json", "User-Agent": "discord-sync-alerts"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
                response.read()
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            # The URL may embed a secret token (Slack-style hooks): name only its host.
            host = urllib.parse.urlparse(self.url).netloc
            raise AlertWebhookError(f"the alert webhook at {host} did not accept the alert: {error}") from None
        return True
