"""What a tenant sync may do (its options) and what it did (its report, the materializations' metadata)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from discord_sync.store.sync_status import ChannelSyncStatus
from discord_sync.sync.windows import ChannelOutcome


@dataclass(frozen=True)
class SyncOptions:
    """How hard a tenant's sync may push: workers, windows per channel, page and write batch sizes, and how often
    it writes its progress. No defaults here: `settings.py` holds them, the `sync` resource hands them down."""

    max_channel_workers: int
    max_windows_per_channel: int
    message_fetch_size: int
    write_batch_messages: int
    progress_interval_seconds: float


@dataclass
class TenantSyncReport:
    """What one tenant sync did; becomes the materializations' metadata."""

    channels_unchanged: int = 0
    # Channels the bot's permissions do not let it read: recorded `skipped`, no request sent.
    channels_not_readable: int = 0
    outcomes: list[ChannelOutcome] = field(default_factory=list)
    seconds: float = 0.0
    peak_concurrent_channels: int = 0
    request_stats: dict[str, Any] = field(default_factory=dict)
    refresh_stats: dict[str, Any] = field(default_factory=dict)  # what the re-reads did (`refresh.RefreshReport`)

    def count(self, status: ChannelSyncStatus) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def messages(self) -> int:
        return sum(o.messages for o in self.outcomes)

    @property
    def all_failed(self) -> bool:
        """Whether every channel the bot could read failed: only then is the run failed (and retried).

        A skipped channel (no access, gone) is not a failure: an hour that only met hidden channels succeeds."""
        readable = [o for o in self.outcomes if o.status != ChannelSyncStatus.SKIPPED]
        return bool(readable) and all(o.status == ChannelSyncStatus.FAILED for o in readable)

    def metadata(self) -> dict[str, Any]:
        seconds = max(self.seconds, 1e-6)
        return {
            "channels_synced": self.count(ChannelSyncStatus.COMPLETE),
            "channels_unchanged": self.channels_unchanged,
            "channels_skipped": self.count(ChannelSyncStatus.SKIPPED) + self.channels_not_readable,
            "channels_not_readable": self.channels_not_readable,
            "channels_failed": self.count(ChannelSyncStatus.FAILED),
            "messages_synced": self.messages,
            "reactions_synced": sum(o.reactions for o in self.outcomes),
            "attachments_synced": sum(o.attachments for o in self.outcomes),
            "malformed_items": sum(len(o.item_errors) for o in self.outcomes),
            "messages_per_second": round(self.messages / seconds, 1),
            "channels_per_minute": round(len(self.outcomes) / seconds * 60, 1),
            "peak_concurrent_channels": self.peak_concurrent_channels,
            "sync_seconds": round(self.seconds, 2),
            **self.request_stats,
            **self.refresh_stats,
        }
