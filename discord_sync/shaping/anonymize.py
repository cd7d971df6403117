"""User ids never reach the database: authors and mentions become keyed hashes.

`HMAC-SHA256(ANONYMIZATION_KEY, user_id)`, truncated to 128 bits (32 hex characters): the same user gets the
same hash in every tenant and every run, and without the key nobody can test candidate snowflakes against it,
as they could against a plain hash of a (guessable, time-ordered) snowflake.
"""

from __future__ import annotations

import hashlib
import hmac
import re

HASH_HEX_CHARS = 32

# <@123> and <@!123> (the legacy nickname form) mention a user; role (<@&1>) and channel (<#1>) mentions are kept.
_USER_MENTION = re.compile(r"<@!?(\d{1,20})>")


class Anonymizer:
    """Turns raw user ids into stable keyed hashes and scrubs user mentions out of message content."""

    def __init__(self, key: str) -> None:
        if not key:
            raise ValueError("an anonymization key is required")
        self._key = key.encode()
        self._cache: dict[str, str] = {}

    def user_hash(self, user_id: str | int) -> str:
        """The keyed hash that stands for this user everywhere in the database."""
        raw = str(user_id)
        cached = self._cache.get(raw)
        if cached is None:
            digest = hmac.new(self._key, raw.encode(), hashlib.sha256).hexdigest()[:HASH_HEX_CHARS]
            if len(self._cache) < 100_000:
                self._cache[raw] = digest
            cached = digest
        return cached

    def scrub_mentions(self, content: str) -> str:
        """Rewrite `<@id>` and `<@!id>` to `<@hash>` so no raw user id survives in message text."""
        if "<@" not in content:
            return content
        return _USER_MENTION.sub(lambda m: f"<@{self.user_hash(m.group(1))}>", content)
