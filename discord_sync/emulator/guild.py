"""A generated guild: its people, channels and threads, plus the mutations made through the control API."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

from discord_sync.shaping.channel_types import FORUM_TYPES, ChannelType

from .channel import ADMINISTRATOR, BOT_USER_ID, MANAGE_THREADS, READ_MESSAGE_HISTORY, VIEW_CHANNEL, Channel
from .content import generate_message
from .records import MessageRecord, User
from .snowflakes import make_snowflake, snowflake_ms, unix_ms
from .spec import GuildSpec

GUILD_EPOCH_MS = unix_ms(2016)
# Discord's default @everyone permissions (View Channel and Read Message History among them, not Manage Threads).
EVERYONE_PERMISSIONS = 104324673
THREAD_CREATED = 18


class Guild:
    """One guild; `layout.build_layout` fills in its channels, messages stay lazy until read."""

    def __init__(self, spec: GuildSpec) -> None:
        self.spec = spec
        self.seed = spec.seed
        rng = random.Random(f"guild:{spec.seed}")
        self.created_ms = GUILD_EPOCH_MS + rng.randrange(3 * 365 * 86_400_000)
        self.id = make_snowflake(self.created_ms, spec.seed % (1 << 22))
        self.name = spec.name or f"Emulated guild {spec.seed}"
        self.users: dict[int, User] = {}
        self.member_ids: list[int] = []
        self.webhook_ids: list[int] = []
        self.role_ids: list[int] = []
        self.custom_emoji: list[tuple[int, str, bool]] = []
        self.channels: dict[int, Channel] = {}
        self.bot_present = True
        # Seconds added to the clock that signs attachment URLs, so tests can make signed URLs expire.
        self.url_clock_offset_s = 0
        self._next_ordinal = 0
        self._last_added_ms = 0
        self._make_people(rng)

    def _make_people(self, rng: random.Random) -> None:
        member_count = 40 if self.spec.layout == "default" else 20
        for number in range(member_count):
            user_id = make_snowflake(unix_ms(2015, 6) + rng.randrange(5 * 365 * 86_400_000), number)
            global_name = rng.choice([None, f"Member {number}", f"Ünïcødé {number} 🦊", f"𝔐𝔢𝔪𝔟𝔢𝔯 {number}"])
            self.users[user_id] = User(id=user_id, username=f"member_{self.seed}_{number}", global_name=global_name)
            self.member_ids.append(user_id)
        for number in range(2):
            hook_id = make_snowflake(self.created_ms + 86_400_000 * (number + 1), 2048 + number)
            self.users[hook_id] = User(id=hook_id, username=f"Webhook {number}", global_name=None, bot=True)
            self.webhook_ids.append(hook_id)
        self.role_ids = [self.id] + [make_snowflake(self.created_ms + 1000 * n, 3000 + n) for n in range(1, 4)]
        # The bot's own role (its integration role) carries Manage Threads unless the spec says otherwise.
        self.bot_role_id = make_snowflake(self.created_ms + 5000, 3999)
        self.role_permissions: dict[int, int] = {role_id: 0 for role_id in self.role_ids}
        self.role_permissions[self.id] = EVERYONE_PERMISSIONS
        self.role_permissions[self.bot_role_id] = MANAGE_THREADS if self.spec.bot_manage_threads else 0
        self.bot_role_ids: list[int] = [self.bot_role_id]
        self.custom_emoji = [
            (make_snowflake(self.created_ms + 5000, 4000), "blobwave", False),
            (make_snowflake(self.created_ms + 6000, 4001), "partyparrot", True),
            (make_snowflake(self.created_ms + 7000, 4002), "kekw", False),
        ]

    def next_ordinal(self) -> int:
        """A channel ordinal unique within the emulator for up to 4,096 channels per guild (see `Channel.base_id`)."""
        ordinal = self._next_ordinal + 4096 * (self.seed % 1024)
        self._next_ordinal += 1
        return ordinal

    def new_channel_id(self, created_ms: int) -> int:
        """A snowflake for a new channel or thread created at `created_ms`.

        Shifted by the seed (under an hour) so that two guilds built from the same layout never share a channel id,
        as no two Discord channels do."""
        return make_snowflake(created_ms + self.seed % 3_600_000, (1 << 21) | (self._next_ordinal % (1 << 21)))

    def put(self, channel: Channel) -> Channel:
        """Add a channel or thread to the guild."""
        self.channels[channel.id] = channel
        return channel

    def children(self, parent_id: int) -> list[Channel]:
        """Threads (or channels of a category) whose parent is `parent_id`."""
        return [c for c in self.channels.values() if c.parent_id == parent_id]

    def top_level(self) -> list[Channel]:
        """Every channel that is not a thread, in position order."""
        return sorted((c for c in self.channels.values() if not c.is_thread), key=lambda c: (c.position, c.id))

    def threads(self) -> list[Channel]:
        """Every thread, newest first."""
        return sorted((c for c in self.channels.values() if c.is_thread), key=lambda c: -c.id)

    def bot_permissions(self, channel: Channel) -> int:
        """The bot's permission bits in `channel`, as Discord computes them; a thread has its parent's."""
        if channel.is_thread and channel.parent_id in self.channels:
            channel = self.channels[channel.parent_id]
        permissions = self.role_permissions.get(self.id, 0)
        for role_id in self.bot_role_ids:
            permissions |= self.role_permissions.get(role_id, 0)
        if permissions & ADMINISTRATOR:
            return (1 << 64) - 1
        overwrites = {(o["type"], int(o["id"])): o for o in channel.overwrites}
        if (0, self.id) in overwrites:
            everyone = overwrites[(0, self.id)]
            permissions = (permissions & ~everyone["deny"]) | everyone["allow"]
        roles = [overwrites[(0, r)] for r in self.bot_role_ids if (0, r) in overwrites]
        permissions &= ~sum_bits(o["deny"] for o in roles)
        permissions |= sum_bits(o["allow"] for o in roles)
        if (1, BOT_USER_ID) in overwrites:
            member = overwrites[(1, BOT_USER_ID)]
            permissions = (permissions & ~member["deny"]) | member["allow"]
        return permissions if permissions & VIEW_CHANNEL else 0

    def visible(self, channel: Channel) -> bool:
        """Whether the bot may view `channel`: View Channel (a thread's parent's); a private thread also needs
        the bot to have joined it or to hold Manage Threads."""
        permissions = self.bot_permissions(channel)
        if not permissions & VIEW_CHANNEL:
            return False
        return channel.type != ChannelType.PRIVATE_THREAD or channel.bot_joined or bool(permissions & MANAGE_THREADS)

    def readable(self, channel: Channel) -> bool:
        """Whether the bot can read the messages of `channel`."""
        return (
            channel.bears_messages
            and self.visible(channel)
            and bool(self.bot_permissions(channel) & READ_MESSAGE_HISTORY)
        )

    def newest_post_id(self, channel: Channel) -> int | None:
        """A forum's or media channel's `last_message_id`: the id of its newest post (None for other channels)."""
        if channel.type not in FORUM_TYPES:
            return None
        return max((c.id for c in self.children(channel.id) if c.is_thread), default=None)

    def message(self, channel: Channel, message_id: int) -> MessageRecord | None:
        """The current state of a message, or None when it does not exist (or was deleted)."""
        if message_id in channel.deleted_ids:
            return None
        record = channel.added_record(message_id)
        if record is None:
            index = channel.base_index(message_id)
            if index is None:
                return None
            record = generate_message(self, channel, index)
        edit = channel.edits.get(message_id)
        if edit is not None:
            record.content, record.edited_ms = edit
        for name, value in channel.changes.get(message_id, {}).items():
            setattr(record, name, value)
        return record

    def add_message(
        self,
        channel: Channel,
        content: str,
        author_id: int | None = None,
        reply_to: int | None = None,
        mention_ids: tuple[int, ...] = (),
    ) -> MessageRecord:
        """Post a new message now; its id is always newer than every message before it."""
        now_ms = self.next_post_ms(channel)
        record = MessageRecord(
            id=make_snowflake(now_ms, channel.ordinal % (1 << 22)),
            channel_id=channel.id,
            author_id=author_id or self.member_ids[0],
            timestamp_ms=now_ms,
            content=content,
            type=19 if reply_to else 0,
            reply_to=reply_to,
            mention_ids=tuple(mention_ids),
        )
        if author_id and author_id not in self.users:
            self.users[author_id] = User(id=author_id, username=f"user_{author_id}", global_name=None)
        channel.add(record)
        return record

    def next_post_ms(self, channel: Channel) -> int:
        """The time of a message posted now: never before the channel's newest message or the last one posted."""
        newest = channel.last_message_id()
        now_ms = max(int(time.time() * 1000), self._last_added_ms + 1, snowflake_ms(newest) + 1 if newest else 0)
        self._last_added_ms = now_ms
        return now_ms

    def edit_message(self, channel: Channel, message_id: int, content: str) -> MessageRecord | None:
        """Change a message's content and stamp `edited_timestamp`; None if it does not exist."""
        if not channel.exists(message_id):
            return None
        channel.edits[message_id] = (content, int(time.time() * 1000))
        return self.message(channel, message_id)

    def delete_message(self, channel: Channel, message_id: int) -> bool:
        """Delete a message; False if it did not exist."""
        if not channel.exists(message_id):
            return False
        channel.deleted_ids.add(message_id)
        channel.edits.pop(message_id, None)
        channel.changes.pop(message_id, None)
        return True

    def create_channel(self, name: str, type: int = 0, parent_id: int | None = None, **settings: object) -> Channel:
        """Create a channel or thread now, with no messages."""
        now_ms = int(time.time() * 1000)
        channel = Channel(
            id=self.new_channel_id(now_ms),
            guild_id=self.id,
            ordinal=self.next_ordinal(),
            type=type,
            name=name,
            position=len(self.channels),
            parent_id=parent_id,
            base_start_ms=now_ms,
            created_ms=now_ms,
            **settings,  # type: ignore[arg-type]
        )
        return self.put(channel)

    def create_thread(self, parent: Channel, name: str, *, private: bool = False, archived: bool = False) -> Channel:
        """Start a thread now (the bot joined); a public thread of a text or announcement channel posts a
        THREAD_CREATED system message in its parent, which moves the parent's `last_message_id`."""
        thread = self.create_channel(
            name, 12 if private else 11, parent_id=parent.id, owner_id=self.member_ids[0], bot_joined=True
        )
        if archived:
            self.archive_thread(thread, True)
        if not private and parent.type in (ChannelType.GUILD_TEXT, ChannelType.GUILD_ANNOUNCEMENT):
            self.add_message(parent, content=name, author_id=self.member_ids[0]).type = THREAD_CREATED
        return thread

    def delete_channel(self, channel_id: int) -> bool:
        """Delete a channel and its threads; False if it did not exist."""
        if channel_id not in self.channels:
            return False
        for child in self.children(channel_id):
            if child.is_thread:
                del self.channels[child.id]
        del self.channels[channel_id]
        return True

    def ground_truth(self) -> Iterator[tuple[int, Iterator[int]]]:
        """(channel id, message ids oldest first) for every channel and thread whose messages the bot can read."""
        for channel in self.channels.values():
            if self.readable(channel):
                yield channel.id, channel.all_ids()

    def archive_thread(self, thread: Channel, archived: bool, locked: bool | None = None) -> None:
        """Archive (stamping `archive_timestamp` now) or unarchive a thread; lock or unlock it if asked."""
        if archived != thread.archived:
            thread.archived = archived
            thread.archive_ms = int(time.time() * 1000)
        if locked is not None:
            thread.locked = locked

    def user_ids(self) -> set[int]:
        """Every raw user id that can appear in any payload of this guild (authors, mentions, owners, webhooks)."""
        ids = set(self.users)
        ids.update(c.owner_id for c in self.channels.values() if c.owner_id)
        return ids


def sum_bits(values: Iterator[int]) -> int:
    """The OR of permission bit sets."""
    bits = 0
    for value in values:
        bits |= value
    return bits
