"""Everything one running emulator holds: guilds, token, settings, rate limiter, faults and statistics."""

from __future__ import annotations

from .channel import Channel
from .faults import FaultPlan
from .guild import Guild
from .layout import build_guild
from .rate_limits import RateLimiter
from .spec import GuildSpec
from .stats import RequestStats


class EmulatorState:
    """Shared by the Discord routes and the control routes; only ever touched from the server's event loop."""

    def __init__(
        self,
        guilds: list[GuildSpec],
        token: str,
        latency_ms: float = 0,
        message_bucket: tuple[int, float] = (50, 1.0),
        global_limit: int = 50,
        rate_limits: bool = True,
    ) -> None:
        self.token = token
        self.latency_ms = latency_ms
        self.limiter = RateLimiter(global_limit=global_limit, message_bucket=message_bucket, enabled=rate_limits)
        self.faults = FaultPlan()
        self.stats = RequestStats()
        # Whether the application has the privileged Server Members intent: "on", "limited" or "off".
        self.members_intent = "on"
        self.guilds: dict[int, Guild] = {}
        for spec in guilds:
            self.add_guild(spec)

    def add_guild(self, spec: GuildSpec) -> Guild:
        """Generate and serve another guild."""
        guild = build_guild(spec)
        if guild.id in self.guilds:
            raise ValueError(f"a guild with seed {spec.seed} is already served")
        self.guilds[guild.id] = guild
        return guild

    def find_channel(self, channel_id: int) -> tuple[Guild, Channel] | None:
        """The guild and channel (or thread) with this id."""
        for guild in self.guilds.values():
            channel = guild.channels.get(channel_id)
            if channel is not None:
                return guild, channel
        return None
