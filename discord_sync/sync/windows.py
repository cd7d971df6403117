"""A channel's history as windows, and the pure decisions about them: where the stored prefix ends (the
checkpoint), what a fetched page means for a window, which window to split and where.

A window is a range of message ids (snowflakes, so a range of time) that one worker fetches oldest first. These
types and functions do no I/O; `channel_windows.ChannelSyncer` runs the windows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from discord_sync.source.protocol import TransientFailure
from discord_sync.store.sync_status import ChannelSyncStatus


@dataclass
class ChannelPlan:
    """A channel that has new messages: where its stored history ends and where Discord says it ends."""

    channel_id: int
    name: str
    checkpoint: int  # every message with id <= checkpoint is stored (0: nothing yet)
    last_message_id: int


@dataclass
class ChannelOutcome:
    """How one channel's sync ended, for `sync_progress`, `channel_sync_jobs` and the run's metadata."""

    plan: ChannelPlan
    status: ChannelSyncStatus = ChannelSyncStatus.RUNNING  # until it ends: complete, failed or skipped
    error: str | None = None
    messages: int = 0
    reactions: int = 0
    attachments: int = 0
    requests: int = 0
    item_errors: list[tuple[int | None, str]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    checkpoint: int = 0

    @property
    def seconds(self) -> float:
        return max((self.finished or time.monotonic()) - self.started, 1e-6)


@dataclass(eq=False)
class Window:
    """Part of one channel's history: messages with start < id <= end (end None: up to the newest)."""

    channel: ChannelInProgress
    start: int
    end: int | None
    cursor: int
    flushed: int
    complete: bool = False
    messages_seen: int = 0
    running: bool = False

    def estimated_remaining(self) -> float:
        upper = self.end if self.end is not None else self.channel.outcome.plan.last_message_id
        covered = self.cursor - self.start
        if self.messages_seen == 0 or covered <= 0 or upper <= self.cursor:
            return 0.0
        return self.messages_seen / covered * (upper - self.cursor)


@dataclass(eq=False)
class ChannelInProgress:
    """One channel during the run: its outcome so far and its windows."""

    outcome: ChannelOutcome
    windows: list[Window] = field(default_factory=list)
    stopped: bool = False

    def contiguous_checkpoint(self, including: tuple[Window, int] | None = None) -> int:
        """The end of the stored prefix: windows in order, each flushed part extending the last.

        `including` counts one window as flushed up to a point, for the transaction that is about to store it.
        """
        checkpoint = self.outcome.plan.checkpoint
        for window in sorted(self.windows, key=lambda w: w.start):
            if window.start > checkpoint:
                break
            flushed = window.flushed
            if including is not None and including[0] is window:
                flushed = max(flushed, including[1])
            checkpoint = max(checkpoint, flushed)
            if not window.complete or flushed < (window.end if window.end is not None else window.cursor):
                break
        return checkpoint

    def active_windows(self) -> int:
        return sum(1 for w in self.windows if w.running)


@dataclass(frozen=True)
class PageRead:
    """What one page of a window's messages gives: those inside the window, how far they go, whether it ended."""

    messages: list[dict]
    top: int  # the newest id among `messages` (the cursor if there is none)
    reached_end: bool


def read_page(page: list, *, cursor: int, end: int | None, last_message_id: int, fetch_size: int) -> PageRead:
    """Decide what a fetched page (`after=cursor`) means for a window ending at `end` (None: open).

    The window ends at a short page, at a message past its end, or (open window) at the newest message discovery
    saw, without asking for an empty page: anything newer is the next sync's, since its ids are greater than the
    checkpoint this one leaves. A full page that does not move past the cursor is Discord misbehaving: retried.
    """
    ids = [_id(m) for m in page]
    inside = [(m, i) for m, i in zip(page, ids, strict=True) if end is None or i <= end]
    reached_end = (
        len(page) < fetch_size or len(inside) < len(page) or (end is None and max(ids, default=0) >= last_message_id)
    )
    top = max((i for _, i in inside), default=cursor)
    if top <= cursor and inside and not reached_end:
        raise TransientFailure(f"Discord returned no message after {cursor} in a full page")
    return PageRead([m for m, _ in inside], top, reached_end)


def window_to_split(
    channels: list[ChannelInProgress], *, max_windows_per_channel: int, fetch_size: int
) -> Window | None:
    """The running window with the most messages left (estimated), if splitting it is worth a worker.

    Only channels still under `max_windows_per_channel` qualify, and only a window with at least two pages left:
    a smaller split costs more requests than it saves time.
    """
    candidates = [
        window
        for channel in channels
        if not channel.stopped and 0 < channel.active_windows() < max_windows_per_channel
        for window in channel.windows
        if window.running and not window.complete
    ]
    best = max(candidates, key=Window.estimated_remaining, default=None)
    if best is None or best.estimated_remaining() < 2 * fetch_size:
        return None
    return best


def split_window(window: Window) -> Window:
    """Split a running window at the middle of what it has left; returns the new upper half (not started yet).

    Snowflakes encode time, so the middle id is the middle moment. The upper half keeps the open end, so messages
    newer than discovery still land in some window.
    """
    upper = window.end if window.end is not None else window.channel.outcome.plan.last_message_id
    middle = window.cursor + (upper - window.cursor) // 2
    new = Window(window.channel, middle, window.end, middle, middle)
    window.end = middle
    window.channel.windows.append(new)
    return new


def _id(message: object) -> int:
    try:
        return int(message["id"])  # type: ignore[index]
    except (TypeError, KeyError, ValueError):
        return -1
