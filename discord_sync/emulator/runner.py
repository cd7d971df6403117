"""`Emulator`: runs the server on 127.0.0.1 in a background thread with its own event loop."""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

from aiohttp import web

from .handle import EmulatorClient
from .server import build_app
from .spec import GuildSpec
from .state import EmulatorState

DEFAULT_TOKEN = "emulator-token"


class Emulator:
    """An emulated Discord; use as a context manager or call `start()`/`stop()`."""

    def __init__(
        self,
        guilds: list[GuildSpec] | None = None,
        token: str = DEFAULT_TOKEN,
        latency_ms: float = 0,
        port: int = 0,
        message_bucket: tuple[int, float] = (50, 1.0),
        global_limit: int = 50,
        rate_limits: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        self.state = EmulatorState(
            guilds if guilds is not None else [GuildSpec()],
            token,
            latency_ms=latency_ms,
            message_bucket=message_bucket,
            global_limit=global_limit,
            rate_limits=rate_limits,
        )
        self.token = token
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    @property
    def guild_ids(self) -> list[int]:
        """Ids of the guilds served at start, in the order of their specs."""
        return list(self.state.guilds)

    @property
    def root_url(self) -> str:
        """`http://127.0.0.1:PORT`."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The Discord API base URL this emulator serves (`DISCORD_API_BASE_URL`, `use_api_base_url`)."""
        return self.root_url + "/api/v10"

    @property
    def control_url(self) -> str:
        """Root of the control API."""
        return self.root_url + "/_control"

    @property
    def client(self) -> EmulatorClient:
        """A control handle on this emulator."""
        return EmulatorClient(self.root_url)

    def start(self) -> Emulator:
        """Start serving; returns once the port is bound."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(self._serve())
            except BaseException as error:  # surfaced to the starting thread below
                failure.append(error)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())  # type: ignore[union-attr]
            self._loop.close()

        self._thread = threading.Thread(target=run, name="discord-emulator", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return self

    async def _serve(self) -> None:
        self._runner = web.AppRunner(build_app(self.state), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        """Stop serving and join the thread."""
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
