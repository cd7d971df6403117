"""Helpers for the reliability and security tests: syncs in killable processes, and what stored data must satisfy.

A tenant sync in its own OS process costs ~5 s of imports; the crash trials need dozens of them. So sync
processes are forked by a small fork server (`python -m discord_sync_tests.fault_harness`) that imported the
product once: each sync is still a separate OS process that a test SIGKILLs, with its own connections and its own
advisory lock, exactly like a Dagster run worker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
import sqlalchemy as sa

from discord_sync.store.schema import message_attachments, message_emoji_reactions, messages, sync_progress

REPO = Path(__file__).resolve().parent.parent
# A sync process starts in a few seconds and these tests' guilds sync in well under a minute: the bound only ends
# a test whose sync died or hung, instead of the whole session's timeout.
WAIT_SECONDS = 120


def wait_until(condition: Callable[[], bool], *, what: str, seen: Callable[[], str]) -> None:
    """Poll `condition` until it holds; after `WAIT_SECONDS`, fail naming what was awaited and what was seen."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {WAIT_SECONDS} s for {what}; seen: {seen()}")
        time.sleep(0.02)


def process_state(pid: int) -> str:
    """A sync process's state in words, for a failure message: running, exited (not reaped yet) or gone."""
    try:
        status = psutil.Process(pid).status()
    except psutil.NoSuchProcess:
        return f"process {pid} is gone"
    return f"process {pid} has exited" if status == psutil.STATUS_ZOMBIE else f"process {pid} is {status}"


class SyncProcesses:
    """Starts tenant syncs as separate OS processes, forked from a server that has the product imported."""

    def __init__(self) -> None:
        self._server = subprocess.Popen(
            [sys.executable, "-m", "discord_sync_tests.fault_harness"],
            cwd=REPO,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._ask({"command": "ping"}) == "pong"

    def _ask(self, request: dict[str, Any]) -> Any:
        assert self._server.stdin is not None and self._server.stdout is not None
        self._server.stdin.write(json.dumps(request) + "\n")
        self._server.stdin.flush()
        line = self._server.stdout.readline()
        if not line:
            raise RuntimeError("the sync fork server died")
        return json.loads(line)

    def start(self, tenant_id: str, env: dict[str, str] | None = None) -> int:
        """Start the tenant's full sync (channels, then messages) in a new process; returns its pid."""
        return int(self._ask({"command": "sync", "tenant": tenant_id, "env": dict(env or os.environ)}))

    def wait(self, pid: int) -> int:
        """Wait for a sync process to end; returns its exit code (0 ok, 1 failed run, -9 killed)."""
        return int(self._ask({"command": "wait", "pid": pid}))

    def close(self) -> None:
        if self._server.poll() is None:
            assert self._server.stdin is not None
            self._server.stdin.close()
            self._server.wait(timeout=30)

    def __enter__(self) -> SyncProcesses:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _serve() -> None:
    import discord_sync_tests.sync_harness  # noqa: F401 - imported once here, inherited by every fork

    for line in sys.stdin:
        request = json.loads(line)
        if request["command"] == "ping":
            answer: Any = "pong"
        elif request["command"] == "sync":
            pid = os.fork()
            if pid == 0:
                os._exit(_sync_child(request["tenant"], request["env"]))
            answer = pid
        else:
            _, status = os.waitpid(request["pid"], 0)
            answer = os.waitstatus_to_exitcode(status)
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


def _sync_child(tenant_id: str, env: dict[str, str]) -> int:
    try:
        sys.stdin.close()
        os.dup2(2, 1)  # the server's stdout is its answer channel; the sync's output goes to stderr
        os.environ.clear()
        os.environ.update(env)
        from discord_sync_tests.sync_harness import materialize_tenant

        return 0 if materialize_tenant(tenant_id, raise_on_error=False).success else 1
    except BaseException:  # noqa: BLE001 - the child must never fall back into the server loop
        import traceback

        traceback.print_exc()
        return 2


@dataclass(frozen=True)
class GuildTruth:
    """What a perfect sync of a guild stores: message ids per channel, and each message's children."""

    message_ids: dict[int, list[int]]
    reactions: dict[int, int]  # message id -> reaction rows (distinct emoji)
    attachments: dict[int, int]  # message id -> attachment rows

    @property
    def reaction_rows(self) -> int:
        return sum(self.reactions.values())

    @property
    def attachment_rows(self) -> int:
        return sum(self.attachments.values())


def guild_truth(emulator_client: Any, guild_id: int) -> GuildTruth:
    """The emulator's ground truth of a guild, children included (one control call per channel)."""
    ids = {c: sorted(m) for c, m in emulator_client.ground_truth(guild_id).items() if m}
    reactions: dict[int, int] = {}
    attachments: dict[int, int] = {}
    for channel_id in ids:
        for payload in emulator_client.ground_truth_messages(channel_id):
            message_id = int(payload["id"])
            emoji = {(r["emoji"].get("id") or r["emoji"].get("name")) for r in payload.get("reactions") or []}
            reactions[message_id] = len(emoji)
            attachments[message_id] = len(payload.get("attachments") or [])
    return GuildTruth(ids, reactions, attachments)


@dataclass(frozen=True)
class StoredState:
    """What one tenant has in the database right now."""

    message_ids: dict[int, list[int]]
    reactions: Counter
    attachments: Counter
    checkpoints: dict[int, int | None]


def stored_state(engine: sa.Engine, tenant_id: str) -> StoredState:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(messages.c.channel_id, messages.c.id)
            .where(messages.c.tenant_id == tenant_id)
            .order_by(messages.c.channel_id, messages.c.id)
        ).all()
        reactions = Counter(
            dict(
                conn.execute(
                    sa.select(message_emoji_reactions.c.message_id, sa.func.count())
                    .where(message_emoji_reactions.c.tenant_id == tenant_id)
                    .group_by(message_emoji_reactions.c.message_id)
                ).all()
            )
        )
        attachments = Counter(
            dict(
                conn.execute(
                    sa.select(message_attachments.c.message_id, sa.func.count())
                    .where(message_attachments.c.tenant_id == tenant_id)
                    .group_by(message_attachments.c.message_id)
                ).all()
            )
        )
        checkpoints = dict(
            conn.execute(
                sa.select(sync_progress.c.channel_id, sync_progress.c.last_message_id).where(
                    sync_progress.c.tenant_id == tenant_id
                )
            ).all()
        )
    ids: dict[int, list[int]] = defaultdict(list)
    for channel_id, message_id in rows:
        ids[channel_id].append(message_id)
    return StoredState(dict(ids), reactions, attachments, checkpoints)


def consistency_problems(state: StoredState, truth: GuildTruth) -> list[str]:
    """Everything that would make a resume lose data or show a half-written batch (empty: consistent).

    - every stored message has exactly its reactions and attachments (a batch is written whole or not at all);
    - a checkpoint only covers stored data: every message at or below it is stored, so resuming after it
      loses nothing;
    - no stored message is unknown to Discord, and none is stored in another channel than its own.
    """
    problems: list[str] = []
    truth_channel = {m: c for c, ids in truth.message_ids.items() for m in ids}
    for channel_id, ids in state.message_ids.items():
        for message_id in ids:
            if truth_channel.get(message_id) != channel_id:
                problems.append(f"message {message_id} stored in channel {channel_id}, not in ground truth there")
            elif state.reactions.get(message_id, 0) != truth.reactions[message_id]:
                problems.append(
                    f"message {message_id}: {state.reactions.get(message_id, 0)} reactions stored, "
                    f"{truth.reactions[message_id]} expected"
                )
            elif state.attachments.get(message_id, 0) != truth.attachments[message_id]:
                problems.append(
                    f"message {message_id}: {state.attachments.get(message_id, 0)} attachments stored, "
                    f"{truth.attachments[message_id]} expected"
                )
    for channel_id, checkpoint in state.checkpoints.items():
        if not checkpoint:
            continue
        stored = set(state.message_ids.get(channel_id, []))
        covered = [m for m in truth.message_ids.get(channel_id, []) if m <= checkpoint]
        missing = [m for m in covered if m not in stored]
        if missing:
            problems.append(f"channel {channel_id}: checkpoint {checkpoint} covers {len(missing)} unstored messages")
        if (
            stored
            and checkpoint > max(stored)
            and any(m > max(stored) and m <= checkpoint for m in truth.message_ids.get(channel_id, []))
        ):
            problems.append(f"channel {channel_id}: checkpoint {checkpoint} beyond stored maximum {max(stored)}")
    return problems


def completeness_problems(state: StoredState, truth: GuildTruth) -> list[str]:
    """Differences between the stored tenant and the ground truth (empty: exact copy)."""
    problems = consistency_problems(state, truth)
    for channel_id in set(truth.message_ids) | set(state.message_ids):
        want, have = truth.message_ids.get(channel_id, []), state.message_ids.get(channel_id, [])
        if want != have:
            lost = sorted(set(want) - set(have))
            problems.append(f"channel {channel_id}: {len(have)} stored, {len(want)} expected, lost {lost[:5]}")
    if sum(state.reactions.values()) != truth.reaction_rows:
        problems.append(f"{sum(state.reactions.values())} reaction rows, {truth.reaction_rows} expected")
    if sum(state.attachments.values()) != truth.attachment_rows:
        problems.append(f"{sum(state.attachments.values())} attachment rows, {truth.attachment_rows} expected")
    return problems


if __name__ == "__main__":
    _serve()
