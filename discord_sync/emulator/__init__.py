"""A faithful emulator of the Discord REST API v10 for tests and benchmarks, served over real HTTP."""

from .cli import main
from .handle import EmulatorClient
from .process import EmulatorProcess
from .runner import Emulator
from .spec import GuildSpec

__all__ = ["Emulator", "EmulatorClient", "EmulatorProcess", "GuildSpec", "main", "serve"]


def serve(argv: list[str] | None = None) -> int:
    """Alias of `main`: run the emulator in the foreground."""
    return main(argv)
