"""`GuildSpec`: the few numbers from which a whole guild is generated."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class GuildSpec:
    """Recipe for one generated guild.

    `layout="default"` builds the guild with every shape the product must handle; `scale` multiplies its
    message counts (page-boundary channels keep their exact counts). `layout="uniform"` builds `channels`
    text channels with `threads_per_channel` active public threads each, `messages_per_channel` messages per
    channel and `messages_per_thread` (default: the same) per thread, spread evenly in time; `scale` is
    ignored there because the counts are given exactly.
    """

    seed: int = 1
    scale: float = 1.0
    layout: str = "default"
    channels: int = 10
    threads_per_channel: int = 0
    messages_per_channel: int = 100
    messages_per_thread: int | None = None
    # Uniform layout: archived public threads per channel, and how many of its channels hide from the bot.
    archived_threads_per_channel: int = 0
    hidden_channels: int = 0
    # Whether the bot's role holds Manage Threads (without it, private archived threads are listed only if joined).
    bot_manage_threads: bool = True
    name: str | None = None
    # How many members the guild lists (its generated people and the bot at least); None: just those.
    members: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as the control API sends it."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GuildSpec:
        """Inverse of `to_dict`; unknown keys are an error so typos do not pass silently."""
        return cls(**data)
