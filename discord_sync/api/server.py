"""Serving the API with uvicorn: which proxy to believe about the client's address, and an access log that never
shows a key.

Uvicorn believes `X-Forwarded-For` from 127.0.0.1 by default; here only the addresses in `API_TRUSTED_PROXIES`
are believed (none by default), since the throttle on bad keys counts per client address. The access log prints
each request's path and query string: an API key pasted into either is cut to its id, values of query parameters
named like a secret are replaced, and control characters are escaped so a path cannot forge log lines. Headers,
the `Authorization` header among them, are never logged.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI

from discord_sync.settings import Settings

REDACTED = "[redacted]"
# A key anywhere (`dsk_<id>_<secret>`, however mangled): the id stays, it names the key in the audit log.
_KEY = re.compile(r"(dsk_[a-z0-9]{8}_)[^\s&/?#\"]+", re.IGNORECASE)
# A query parameter whose name says it carries a secret (`?key=`, `?api_key=`, `?token=`, `?access_token=` ...).
_SECRET_PARAMETER = re.compile(r"([?&][^=&\s]*(?:key|token|secret|password|auth)[^=&\s]*=)[^&\s#]*", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def redact(text: str) -> str:
    """`text` (a request target) with keys and secret-named query values replaced and control characters escaped."""
    text = _KEY.sub(r"\1" + REDACTED, text)
    text = _SECRET_PARAMETER.sub(r"\1" + REDACTED, text)
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


class RedactKeys(logging.Filter):
    """Rewrites the arguments of uvicorn's access-log records with `redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """`uvicorn.Config` options: proxy headers only from the configured proxies."""
    if not settings.api_trusted_proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": list(settings.api_trusted_proxies)}


def serve(app: FastAPI, settings: Settings, *, host: str, port: int) -> None:
    """Serve `app` until interrupted, as `discord-sync api` does."""
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="info", **uvicorn_options(settings))
    # uvicorn.Config has configured its loggers by now; the filter goes on the logger, so every handler sees it.
    logging.getLogger("uvicorn.access").addFilter(RedactKeys())
    uvicorn.Server(config).run()
