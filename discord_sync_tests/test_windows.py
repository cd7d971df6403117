"""The pure decisions of a channel's windowed sync: the checkpoint, what a page means, which window splits where."""

from __future__ import annotations

import pytest

from discord_sync.source.protocol import TransientFailure
from discord_sync.sync.windows import (
    ChannelInProgress,
    ChannelOutcome,
    ChannelPlan,
    Window,
    read_page,
    split_window,
    window_to_split,
)

pytestmark = pytest.mark.unit


def channel(checkpoint: int = 100, last_message_id: int = 1000) -> ChannelInProgress:
    return ChannelInProgress(ChannelOutcome(plan=ChannelPlan(1, "general", checkpoint, last_message_id)))


def add_window(
    state: ChannelInProgress, start: int, end: int | None, *, flushed: int, cursor: int | None = None, complete=False
) -> Window:
    window = Window(state, start, end, cursor if cursor is not None else flushed, flushed, complete=complete)
    state.windows.append(window)
    return window


# Each window as (start, end, flushed, complete); the plan's checkpoint is 100.
@pytest.mark.parametrize(
    ("windows", "expected"),
    [
        pytest.param([(100, None, 100, False)], 100, id="nothing-flushed-yet"),
        pytest.param([(100, None, 250, False)], 250, id="one-window-part-flushed"),
        pytest.param([(100, 500, 500, True), (500, None, 700, False)], 700, id="finished-window-extends-to-next"),
        pytest.param([(100, 500, 300, False), (500, None, 700, False)], 300, id="gap-stops-at-unfinished-window"),
        pytest.param([(100, 500, 500, False), (500, None, 700, False)], 500, id="flushed-to-end-but-not-complete"),
        pytest.param([(500, None, 700, False), (100, 500, 500, True)], 700, id="windows-taken-in-start-order"),
        pytest.param([(300, None, 700, False)], 100, id="window-after-the-checkpoint-is-not-contiguous"),
        pytest.param([(100, 300, 300, True), (300, 600, 600, True), (600, None, 650, True)], 650, id="all-complete"),
    ],
)
def test_checkpoint_covers_only_the_contiguous_flushed_prefix(windows: list[tuple], expected: int) -> None:
    state = channel(checkpoint=100)
    for start, end, flushed, complete in windows:
        add_window(state, start, end, flushed=flushed, complete=complete)
    assert state.contiguous_checkpoint() == expected


def test_checkpoint_counts_the_batch_about_to_be_stored_for_its_own_window_only() -> None:
    state = channel(checkpoint=100)
    first = add_window(state, 100, 500, flushed=200, cursor=400)
    second = add_window(state, 500, None, flushed=500, cursor=800)
    assert state.contiguous_checkpoint(including=(first, 400)) == 400
    assert state.contiguous_checkpoint(including=(second, 800)) == 200, "the gap below the second window holds"


def page(*ids: int) -> list[dict]:
    return [{"id": str(i)} for i in ids]


@pytest.mark.parametrize(
    ("ids", "end", "fetch_size", "expected_ids", "top", "reached_end"),
    [
        pytest.param((101, 102, 103), None, 3, [101, 102, 103], 103, False, id="full-page-open-window-goes-on"),
        pytest.param((101, 102), None, 3, [101, 102], 102, True, id="short-page-ends"),
        pytest.param((), None, 3, [], 100, True, id="empty-page-ends-at-cursor"),
        pytest.param((101, 102, 103), 102, 3, [101, 102], 102, True, id="past-the-window-end-is-left-out"),
        pytest.param((101, 102, 103), 103, 3, [101, 102, 103], 103, False, id="exactly-at-end-asks-again"),
        pytest.param((998, 999, 1000), None, 3, [998, 999, 1000], 1000, True, id="newest-known-ends-open-window"),
    ],
)
def test_a_page_keeps_the_window_s_messages_and_says_whether_the_window_ended(
    ids: tuple, end: int | None, fetch_size: int, expected_ids: list[int], top: int, reached_end: bool
) -> None:
    read = read_page(page(*ids), cursor=100, end=end, last_message_id=1000, fetch_size=fetch_size)
    assert [int(m["id"]) for m in read.messages] == expected_ids
    assert (read.top, read.reached_end) == (top, reached_end)


def test_a_full_page_that_does_not_move_past_the_cursor_is_a_transient_failure() -> None:
    with pytest.raises(TransientFailure, match="no message after 100"):
        read_page(page(50, 60, 70), cursor=100, end=None, last_message_id=1000, fetch_size=3)


def test_a_message_without_a_usable_id_ends_nothing_and_is_kept_for_shaping_to_report() -> None:
    read = read_page(
        [{"id": "101"}, {"id": None}, {"id": "103"}], cursor=100, end=None, last_message_id=1000, fetch_size=3
    )
    assert len(read.messages) == 3 and read.top == 103 and not read.reached_end


def running(state: ChannelInProgress, start: int, end: int | None, *, cursor: int, seen: int) -> Window:
    window = add_window(state, start, end, flushed=start, cursor=cursor)
    window.running, window.messages_seen = True, seen
    return window


def test_the_window_with_most_messages_left_is_split_at_the_middle_of_what_it_has_left() -> None:
    small, large = channel(checkpoint=0, last_message_id=10_000), channel(checkpoint=0, last_message_id=100_000)
    running(small, 0, None, cursor=1_000, seen=100)  # ~900 left
    busy = running(large, 0, None, cursor=10_000, seen=1_000)  # ~9,000 left
    chosen = window_to_split([small, large], max_windows_per_channel=5, fetch_size=100)
    assert chosen is busy
    upper = split_window(busy)
    assert (busy.end, upper.start, upper.end, upper.cursor) == (55_000, 55_000, None, 55_000)
    assert large.windows == [busy, upper] and not upper.running


def test_the_upper_half_of_a_bounded_window_keeps_its_end() -> None:
    state = channel(checkpoint=0)
    window = running(state, 0, 2_000, cursor=1_000, seen=500)
    upper = split_window(window)
    assert (window.end, upper.start, upper.end) == (1_500, 1_500, 2_000)


@pytest.mark.parametrize(
    ("seen", "windows_running", "max_windows", "splits"),
    [
        pytest.param(1_000, 1, 5, True, id="much-left"),
        pytest.param(1, 1, 5, False, id="less-than-two-pages-left"),
        pytest.param(1_000, 5, 5, False, id="channel-at-its-window-limit"),
    ],
)
def test_a_window_is_split_only_when_worth_a_worker(
    seen: int, windows_running: int, max_windows: int, splits: bool
) -> None:
    state = channel(checkpoint=0, last_message_id=100_000)
    for n in range(windows_running):
        running(
            state,
            n * 10_000,
            None if n == windows_running - 1 else (n + 1) * 10_000,
            cursor=n * 10_000 + 5_000,
            seen=seen,
        )
    chosen = window_to_split([state], max_windows_per_channel=max_windows, fetch_size=100)
    assert (chosen is not None) == splits


def test_a_stopped_channel_is_never_split() -> None:
    state = channel(checkpoint=0, last_message_id=100_000)
    running(state, 0, None, cursor=10_000, seen=1_000)
    state.stopped = True
    assert window_to_split([state], max_windows_per_channel=5, fetch_size=100) is None
