"""Which failed Discord requests are asked again, and after how long (`source.discord.retry_policy`)."""

from __future__ import annotations

import aiohttp
import pytest

from discord_sync.source.discord.retry_policy import LONGEST_RETRY_SECONDS, is_transient, retry_delay

pytestmark = pytest.mark.unit


def test_retry_waits_double_from_half_a_second_and_stop_growing_at_eight() -> None:
    assert [retry_delay(attempt) for attempt in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert retry_delay(60) == LONGEST_RETRY_SECONDS


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        pytest.param(aiohttp.ServerDisconnectedError(), True, id="dropped-connection"),
        pytest.param(aiohttp.ClientConnectionError(), True, id="connection-error"),
        pytest.param(TimeoutError(), True, id="request-timeout"),
        pytest.param(ConnectionResetError(), True, id="reset-by-peer"),
        pytest.param(ValueError("bad payload"), False, id="a-bug-is-not-retried"),
        pytest.param(PermissionError(), False, id="os-permission-error"),
    ],
)
def test_only_failures_that_may_pass_when_asked_again_are_retried(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient
