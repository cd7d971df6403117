"""What a tenant sync may do (its options) and what it did (its report, the materializations' metadata)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from discord_sync.sync.channel_windows import ChannelOutcome


@dataclass(frozen=True)
class SyncOptions:
    """How hard a tenant's sync may push: workers, windows per channel, page and write batch sizes."""

    max_channel_workers: int = 10
    max_windows_per_channel: int = 5
    message_fetch_size: int = 100
    write_batch_messages: int = 2000
    progress_interval: float = 5.0


@dataclass
class TenantSyncReport:
    """What one tenant sync did; becomes the materializations' metadata."""

    channels_planned: int = 0
    channels_unchanged: int = 0
    outcomes: list[ChannelOutcome] = field(default_factory=list)
    seconds: float = 0.0
    peak_concurrent_channels: int = 0
    request_stats: dict[str, Any] = field(default_factory=dict)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def messages(self) -> int:
        return sum(o.messages for o in self.outcomes)

    @property
    def all_failed(self) -> bool:
        return bool(self.outcomes) and all(o.status in ("failed", "skipped") for o in self.outcomes)

    def metadata(self) -> dict[str, Any]:
        seconds = max(self.seconds, 1e-6)
        return {
            "channels_synced": self.count("complete"),
            "channels_unchanged": self.channels_unchanged,
            "channels_skipped": self.count("skipped"),
            "channels_failed": self.count("failed"),
            "messages_synced": self.messages,
            "reactions_synced": sum(o.reactions for o in self.outcomes),
            "attachments_synced": sum(o.attachments for o in self.outcomes),
            "malformed_items": sum(len(o.item_errors) for o in self.outcomes),
            "messages_per_second": round(self.messages / seconds, 1),
            "channels_per_minute": round(len(self.outcomes) / seconds * 60, 1),
            "peak_concurrent_channels": self.peak_concurrent_channels,
            "sync_seconds": round(self.seconds, 2),
            **self.request_stats,
        }
