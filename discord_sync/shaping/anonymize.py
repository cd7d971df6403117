"""User ids never reach the database: authors and mentions become keyed hashes.

`HMAC-SHA256(ANONYMIZATION_KEY, user_id)`, truncated to 128 bits (32 hex characters): the same user gets the
same hash in every tenant and every run, and without the key nobody can test candidate snowflakes against it,
as they could against a plain hash of a (guessable, time-ordered) snowflake.

`Anonymizer.scrub` is the one gate every value that leaves shaping passes through: a text, or a JSON value
(embeds, polls, forwards, tags... walked string by string, so a key added to them later is covered too). It
rewrites the two places a free text carries a user id: a mention (`<@id>`, `<@!id>`) and a profile link
(`discord.com/users/id`, also discordapp.com and the ptb./canary./www. hosts). The id becomes its hash;
everything else is kept as it was. Scrubbing is idempotent: a hash is 32 hex characters, which neither pattern
matches, so scrubbing stored text again changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

HASH_HEX_CHARS = 32

# <@123> and <@!123> (the legacy nickname form) mention a user; role (<@&1>) and channel (<#1>) mentions are kept.
USER_MENTION_PATTERN = r"<@!?([0-9]{1,20})>"
# A profile link. The id must end the path segment: a hash that starts with digits ("/users/12ab…") is not an id.
# Any host ending in discord.com or discordapp.com (ptb., canary., www.) holds this text.
USER_LINK_PATTERN = r"(discord(?:app)?\.com/users/)([0-9]{1,20})(?![0-9A-Za-z])"
# Either, as one pattern both Python and PostgreSQL (`~*`, case-insensitive) read the same way: what an audit of
# stored text looks for.
RAW_USER_ID_PATTERN = f"{USER_MENTION_PATTERN}|{USER_LINK_PATTERN}"
_USER_MENTION = re.compile(USER_MENTION_PATTERN)
_USER_LINK = re.compile(USER_LINK_PATTERN, re.IGNORECASE)


class Anonymizer:
    """Turns raw user ids into stable keyed hashes and scrubs user ids out of every text that is stored."""

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

    def scrub_text(self, text: str) -> str:
        """`text` with every user mention rewritten to `<@hash>` and every profile link's id to its hash."""
        if "<@" in text:
            text = _USER_MENTION.sub(lambda m: f"<@{self.user_hash(m.group(1))}>", text)
        if "/" in text and _USER_LINK.search(text):
            text = _USER_LINK.sub(lambda m: m.group(1) + self.user_hash(m.group(2)), text)
        return text

    def scrub_mentions(self, content: str) -> str:
        """The same as `scrub_text` (the name older callers use)."""
        return self.scrub_text(content)

    def scrub(self, value: Any) -> Any:
        """Any value about to be stored, with no raw user id left in it: a text is scrubbed, a JSON value (dict,
        list, tuple) is rebuilt with every string in it scrubbed (keys too), anything else is returned as is."""
        kind = type(value)
        if kind is str:
            # Most texts hold neither form: answered without a call or a regular expression.
            return self.scrub_text(value) if "<@" in value or "/" in value else value
        if not value:
            return value
        if kind is dict:
            return {self.scrub(key): self.scrub(item) for key, item in value.items()}
        if kind is list:
            return [self.scrub(item) for item in value]
        if kind is tuple:
            return tuple(self.scrub(item) for item in value)
        # Subclasses (rare, so the exact checks come first) become the plain type they extend.
        if isinstance(value, str):
            return self.scrub_text(str(value))
        if isinstance(value, dict):
            return {self.scrub(key): self.scrub(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub(item) for item in value]
        return value
