"""Which channels and threads a generated guild has: the showcase `default` layout and the `uniform` one."""

from __future__ import annotations

import random

from .channel import Channel
from .guild import Guild
from .records import Tag
from .snowflakes import make_snowflake, unix_ms
from .spec import GuildSpec

HISTORY_START_MS = unix_ms(2021)
HISTORY_END_MS = unix_ms(2025, 6)
DAY_MS = 86_400_000
ARCHIVED_MANY_MIN = 101


def build_guild(spec: GuildSpec) -> Guild:
    """Generate the guild `spec` describes; only channel and thread records are made, never messages."""
    guild = Guild(spec)
    builder = _Builder(guild, random.Random(f"layout:{spec.seed}"))
    if spec.layout == "uniform":
        builder.uniform(spec)
    elif spec.layout == "default":
        builder.default(spec.scale)
    else:
        raise ValueError(f"unknown layout {spec.layout!r}; use 'default' or 'uniform'")
    return guild


class _Builder:
    def __init__(self, guild: Guild, rng: random.Random) -> None:
        self.guild = guild
        self.rng = rng
        self.position = 0

    def channel(
        self,
        name: str,
        type: int,
        messages: int = 0,
        parent: Channel | None = None,
        start_ms: int = HISTORY_START_MS,
        end_ms: int = HISTORY_END_MS,
        **settings: object,
    ) -> Channel:
        created_ms = start_ms - DAY_MS
        step = max(1, (end_ms - start_ms) // max(messages, 1))
        self.position += 1
        channel = Channel(
            id=self.guild.new_channel_id(created_ms),
            guild_id=self.guild.id,
            ordinal=self.guild.next_ordinal(),
            type=type,
            name=name,
            position=self.position,
            parent_id=parent.id if parent else None,
            base_count=messages,
            base_start_ms=start_ms,
            base_step_ms=step,
            created_ms=created_ms,
            **settings,  # type: ignore[arg-type]
        )
        return self.guild.put(channel)

    def thread(
        self,
        parent: Channel,
        name: str,
        messages: int,
        archived: bool = False,
        private: bool = False,
        **settings: object,
    ) -> Channel:
        start_ms = HISTORY_START_MS + self.rng.randrange(HISTORY_END_MS - HISTORY_START_MS - 60 * DAY_MS)
        end_ms = start_ms + self.rng.randrange(DAY_MS, 30 * DAY_MS)
        thread = self.channel(
            name,
            12 if private else 11,
            messages,
            parent=parent,
            start_ms=start_ms,
            end_ms=end_ms,
            owner_id=self.rng.choice(self.guild.member_ids),
            archived=archived,
            archive_ms=end_ms + self.rng.randrange(DAY_MS, 7 * DAY_MS) if archived else None,
            **settings,
        )
        thread.position = 0
        return thread

    def uniform(self, spec: GuildSpec) -> None:
        per_thread = spec.messages_per_thread if spec.messages_per_thread is not None else spec.messages_per_channel
        for number in range(spec.channels):
            hidden = number >= spec.channels - spec.hidden_channels
            channel = self.channel(f"channel-{number}", 0, spec.messages_per_channel, can_view=not hidden)
            for thread_number in range(spec.threads_per_channel):
                self.thread(channel, f"thread-{number}-{thread_number}", per_thread)
            for thread_number in range(spec.archived_threads_per_channel):
                self.thread(channel, f"archived-{number}-{thread_number}", per_thread, archived=True)

    def default(self, scale: float) -> None:
        def scaled(count: int) -> int:
            return max(1, round(count * scale))

        text = self.channel("text", 4)
        general = self.channel("general", 0, scaled(3000), text, topic="Everything and nothing")
        self.channel("all-shapes", 0, 176, text, shape_mode="cycle", topic="Every message shape, in turn")
        self.channel("announcements", 5, scaled(400), text)
        for count in (0, 1, 99, 100, 101, 250):
            self.channel(f"page-boundary-{count}", 0, count, text)
        self.channel("messages-5000", 0, 5000, text)
        self.channel("forbidden", 0, scaled(50), text, can_view=False)
        self.channel("no-history", 0, scaled(50), text, can_read_history=False)
        guarded = self.channel("private-threads-forbidden", 0, scaled(30), text, private_archive_forbidden=True)
        for number in range(3):
            self.thread(guarded, f"guarded-archived-{number}", scaled(5), archived=True)
        self._archived_many(self.channel("archived-many", 0, scaled(20), text), scale, scaled)
        self._threads_hub(self.channel("threads-hub", 0, scaled(200), text), scaled)
        self.thread(general, "general-chatter", scaled(50))
        voice = self.channel("voice-and-stage", 4)
        self.channel("voice-chat", 2, scaled(60), voice)
        self.channel("stage", 13, scaled(30), voice)
        forums = self.channel("forums", 4)
        self._posts(
            self.channel("forum", 15, 0, forums, available_tags=self._tags(["bug", "feature", "question", "🎉 party"])),
            8,
            scaled(30),
            scaled(15),
        )
        self._posts(self.channel("media", 16, 0, forums, available_tags=self._tags(["art", "photo"])), 5, 5, scaled(5))

    def _archived_many(self, channel: Channel, scale: float, scaled) -> None:
        for number in range(max(ARCHIVED_MANY_MIN, round(125 * scale))):
            self.thread(channel, f"archived-public-{number}", 3, archived=True)
        for number in range(6):
            self.thread(
                channel, f"archived-private-{number}", 2, archived=True, private=True, bot_joined=number % 2 == 0
            )

    def _threads_hub(self, hub: Channel, scaled) -> None:
        self.thread(hub, "active-public-thread", scaled(40))
        self.thread(hub, "active-private-thread", scaled(20), private=True, bot_joined=True)
        self.thread(hub, "archived-private-joined", 10, archived=True, private=True, bot_joined=True)
        self.thread(hub, "archived-private-not-joined", 10, archived=True, private=True)
        self.thread(hub, "locked-archived-thread", 10, archived=True, locked=True)
        self.thread(hub, "empty-thread", 0)

    def _posts(self, parent: Channel, active: int, archived: int, messages: int) -> None:
        tag_ids = [tag.id for tag in parent.available_tags]
        for number in range(active + archived):
            tags = tuple(sorted(self.rng.sample(tag_ids, k=self.rng.randint(0, min(2, len(tag_ids))))))
            self.thread(parent, f"{parent.name}-post-{number}", messages, archived=number >= active, applied_tags=tags)

    def _tags(self, names: list[str]) -> tuple[Tag, ...]:
        base_ms = self.guild.created_ms + DAY_MS
        return tuple(
            Tag(id=make_snowflake(base_ms + n, 5000 + n), name=name, emoji_name="🏷️" if n % 2 else None)
            for n, name in enumerate(names)
        )
