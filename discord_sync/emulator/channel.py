"""A channel or thread: its settings plus a message timeline that is arithmetic underneath and mutable on top.

Base message `i` has an id computed from `base_start_ms + i * base_step_ms`, so the timeline costs no memory
however long it is and a cursor is found by bisection. Added, edited and deleted messages live in a small
overlay on top of it.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from discord_sync.shaping.channel_types import MESSAGE_BEARING_TYPES, THREAD_TYPES

from .records import MessageRecord, Tag
from .snowflakes import DISCORD_EPOCH_MS

BOT_USER_ID = 1100000000000000001
VIEW_CHANNEL = 1 << 10
READ_MESSAGE_HISTORY = 1 << 16
MANAGE_THREADS = 1 << 34
ADMINISTRATOR = 1 << 3


@dataclass
class Channel:
    """A guild channel (types 0, 2, 4, 5, 13, 15, 16) or thread (11 public, 12 private)."""

    id: int
    guild_id: int
    ordinal: int
    type: int
    name: str
    position: int = 0
    parent_id: int | None = None
    topic: str | None = None
    base_count: int = 0
    base_start_ms: int = 0
    base_step_ms: int = 1
    shape_mode: str = "mixed"
    # Layout shorthands for overwrites that deny the bot a permission; `overwrites` is what Discord serves.
    can_view: bool = True
    can_read_history: bool = True
    private_archive_forbidden: bool = False
    # permission_overwrites: {"id", "type" (0 role, 1 member), "allow", "deny"} with integer bits.
    overwrites: list[dict] = field(default_factory=list)
    available_tags: tuple[Tag, ...] = ()
    owner_id: int | None = None
    archived: bool = False
    archive_ms: int | None = None
    locked: bool = False
    bot_joined: bool = False
    applied_tags: tuple[int, ...] = ()
    created_ms: int = 0
    deleted_ids: set[int] = field(default_factory=set)
    edits: dict[int, tuple[str, int]] = field(default_factory=dict)
    # Fields of a message changed after it was posted (reactions, pins, flags, poll votes), by message id.
    changes: dict[int, dict[str, Any]] = field(default_factory=dict)
    added: list[MessageRecord] = field(default_factory=list)
    added_ids: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        deny = (
            (0 if self.can_view else VIEW_CHANNEL)
            | (0 if self.can_read_history else READ_MESSAGE_HISTORY)
            | (MANAGE_THREADS if self.private_archive_forbidden else 0)
        )
        if deny and not self.overwrites:
            self.overwrites = [{"id": BOT_USER_ID, "type": 1, "allow": 0, "deny": deny}]

    @property
    def is_thread(self) -> bool:
        """Whether this is a thread (forum and media posts included)."""
        return self.type in THREAD_TYPES

    @property
    def bears_messages(self) -> bool:
        """Whether messages can be read here (categories, forums and media channels hold none themselves)."""
        return self.type in MESSAGE_BEARING_TYPES

    @property
    def low_bits(self) -> int:
        """The low 22 bits of every base message id: they keep ids of different channels apart."""
        return ((self.ordinal % 1024) << 12) | ((self.ordinal // 1024) % 4096)

    def base_id(self, index: int) -> int:
        """Id of base message `index`."""
        low = ((self.ordinal % 1024) << 12) | ((self.ordinal // 1024) % 4096)  # self.low_bits, inlined
        # make_snowflake(self.base_start_ms + index * self.base_step_ms, low), inlined: pages call this a lot.
        return ((self.base_start_ms + index * self.base_step_ms - DISCORD_EPOCH_MS) << 22) | low

    def base_index(self, message_id: int) -> int | None:
        """Index of the base message with this id, or None when no base message has it."""
        offset = (message_id >> 22) + DISCORD_EPOCH_MS - self.base_start_ms  # snowflake_ms(message_id) - start
        index, rest = divmod(offset, self.base_step_ms)
        # With the time part matching base message `index`, the id is its id when the low bits match too.
        if offset < 0 or rest or index >= self.base_count or (message_id & 0x3FFFFF) != self.low_bits:
            return None
        return index

    def add(self, record: MessageRecord) -> None:
        """Append an added message, keeping the overlay sorted by id."""
        position = bisect.bisect_left(self.added_ids, record.id)
        self.added_ids.insert(position, record.id)
        self.added.insert(position, record)

    def added_record(self, message_id: int) -> MessageRecord | None:
        """The added message with this id, if any."""
        if not self.added_ids:
            return None
        position = bisect.bisect_left(self.added_ids, message_id)
        if position < len(self.added_ids) and self.added_ids[position] == message_id:
            return self.added[position]
        return None

    def exists(self, message_id: int) -> bool:
        """Whether a message with this id is currently in the channel."""
        if message_id in self.deleted_ids:
            return False
        return self.base_index(message_id) is not None or self.added_record(message_id) is not None

    def _base_ids_after(self, cursor: int) -> Iterator[int]:
        start = bisect.bisect_right(range(self.base_count), cursor, key=self.base_id)
        for index in range(start, self.base_count):
            message_id = self.base_id(index)
            if message_id not in self.deleted_ids:
                yield message_id

    def _base_ids_before(self, cursor: int) -> Iterator[int]:
        end = bisect.bisect_left(range(self.base_count), cursor, key=self.base_id)
        for index in range(end - 1, -1, -1):
            message_id = self.base_id(index)
            if message_id not in self.deleted_ids:
                yield message_id

    def ids_after(self, cursor: int, limit: int) -> list[int]:
        """Up to `limit` message ids just after `cursor` (exclusive), oldest first."""
        found = _take(self._base_ids_after(cursor), limit)
        start = bisect.bisect_right(self.added_ids, cursor)
        found += _take((i for i in self.added_ids[start:] if i not in self.deleted_ids), limit)
        return sorted(found)[:limit]

    def ids_before(self, cursor: int, limit: int) -> list[int]:
        """Up to `limit` message ids just before `cursor` (exclusive), newest first."""
        found = _take(self._base_ids_before(cursor), limit)
        end = bisect.bisect_left(self.added_ids, cursor)
        found += _take((i for i in reversed(self.added_ids[:end]) if i not in self.deleted_ids), limit)
        return sorted(found, reverse=True)[:limit]

    def all_ids(self) -> Iterator[int]:
        """Every current message id, oldest first (a generator, so huge channels stream)."""
        added = [i for i in self.added_ids if i not in self.deleted_ids]
        base = self._base_ids_after(-1)
        if not added:
            yield from base
            return
        # Added messages are normally newer than the generated past, but merging keeps order honest.
        yield from heapq.merge(base, iter(added))

    def count(self) -> int:
        """How many messages the channel holds now."""
        deleted_base = sum(1 for i in self.deleted_ids if self.base_index(i) is not None)
        live_added = sum(1 for i in self.added_ids if i not in self.deleted_ids)
        return self.base_count - deleted_base + live_added

    def total_sent(self) -> int:
        """How many messages were ever posted here, deleted ones included (Discord's `total_message_sent`)."""
        return self.base_count + len(self.added_ids)

    def last_message_id(self) -> int | None:
        """Id of the newest message, or None for an empty channel."""
        newest = self.ids_before(1 << 63, 1)
        return newest[0] if newest else None


def _take(ids: Iterator[int], limit: int) -> list[int]:
    taken: list[int] = []
    for message_id in ids:
        if len(taken) >= limit:
            break
        taken.append(message_id)
    return taken
