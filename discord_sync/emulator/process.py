"""`EmulatorProcess`: the emulator serving from a child process, with its own interpreter, GIL and garbage collector.

An emulator in a thread of the process that also runs the tests (or a benchmark's bookkeeping) shares that
process's pauses: a full garbage collection of a large heap stops its event loop for hundreds of milliseconds,
and the requests that queued meanwhile are stamped as one burst, which its global 50/s check then refuses. In
its own process its clock is its own, and its CPU time can be read apart from the sync's.
"""

from __future__ import annotations

import multiprocessing
import threading
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

from .handle import EmulatorClient
from .runner import DEFAULT_TOKEN, Emulator
from .spec import GuildSpec

START_TIMEOUT_SECONDS = 120


def _serve(
    specs: list[dict], token: str, latency_ms: float, bucket: tuple[int, float], global_limit: int, ready: Any
) -> None:
    emulator = Emulator(
        [GuildSpec.from_dict(s) for s in specs],
        token=token,
        latency_ms=latency_ms,
        message_bucket=bucket,
        global_limit=global_limit,
    )
    emulator.start()
    ready.send((emulator.base_url, emulator.guild_ids))
    threading.Event().wait()


@dataclass
class EmulatorProcess:
    """An emulator serving in a separate process; stop it with `stop()` or use it as a context manager."""

    process: BaseProcess
    base_url: str
    guild_ids: list[int]

    @classmethod
    def start(
        cls,
        specs: list[GuildSpec],
        *,
        token: str = DEFAULT_TOKEN,
        latency_ms: float = 50,
        bucket: tuple[int, float] = (50, 1.0),
        global_limit: int = 50,
    ) -> EmulatorProcess:
        context = multiprocessing.get_context("spawn")
        receive, send = context.Pipe(duplex=False)
        process = context.Process(
            target=_serve,
            args=([s.to_dict() for s in specs], token, latency_ms, bucket, global_limit, send),
            daemon=True,
        )
        process.start()
        if not receive.poll(START_TIMEOUT_SECONDS):
            process.kill()
            raise RuntimeError(
                f"the emulator process did not start within {START_TIMEOUT_SECONDS} s (exit code {process.exitcode})"
            )
        base_url, guild_ids = receive.recv()
        return cls(process, base_url, guild_ids)

    @property
    def client(self) -> EmulatorClient:
        return EmulatorClient(self.base_url, timeout=600)

    def cpu_seconds(self) -> float:
        """User plus system CPU time the emulator process has used so far (needs psutil)."""
        import psutil

        times = psutil.Process(self.process.pid).cpu_times()
        return times.user + times.system

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(10)

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
