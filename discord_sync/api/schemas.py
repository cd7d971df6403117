"""The API's request and response bodies (pydantic); they are its OpenAPI document.

Requests refuse unknown fields and wrong types. Snowflake ids travel as strings of digits: JSON numbers lose
precision past 2**53 in most consumers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from discord_sync.control.runs import CancelAction
from discord_sync.store.sync_runs import SyncRun
from discord_sync.store.sync_status import RunOutcome
from discord_sync.store.tenants import (
    SLUG_RULE,
    SNOWFLAKE_RULE,
    TenantError,
    validate_guild_id,
    validate_tenant_id,
    validate_tenant_name,
)

Snowflake = Annotated[str, Field(pattern=r"^[0-9]{1,20}$", examples=["81384788765712384"])]


class ErrorDetail(BaseModel):
    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["no tenant 'acme'"])


class ErrorBody(BaseModel):
    """Every error: a stable code and a plain-words message."""

    error: ErrorDetail


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TenantCreate(_Request):
    """A new tenant: its slug, display name and Discord guild id."""

    id: Annotated[str, StringConstraints(max_length=63)] = Field(description="slug: a-z, 0-9, '_' and '-'")
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    guild_id: Annotated[str, StringConstraints(max_length=20)] | Annotated[int, Field(strict=True)] = Field(
        description="the Discord guild (server) id, as a string of digits"
    )

    # The messages state the rule, never the value sent: an error must not echo input back.
    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        try:
            return validate_tenant_id(value)
        except TenantError:
            raise ValueError(f"not a valid slug: {SLUG_RULE}") from None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        try:
            return None if value is None else validate_tenant_name(value)
        except TenantError as error:
            raise ValueError(str(error)) from None

    @field_validator("guild_id")
    @classmethod
    def _guild(cls, value: str | int) -> str:
        try:
            return str(validate_guild_id(value))
        except TenantError:
            raise ValueError(f"not a Discord snowflake: {SNOWFLAKE_RULE}") from None


class TenantSettings(_Request):
    """Tenant options to change; an option left out keeps its value."""

    who_reacted: bool | None = Field(
        default=None,
        description="list who reacted to recent messages into `message_reactors` (costs Discord requests, "
        "within SYNC_REACTORS_REQUEST_BUDGET per run)",
    )


class ResetRequest(_Request):
    """What to reset: one channel or thread, or (no body, or no `channel_id`) the whole tenant."""

    channel_id: Snowflake | None = None


class Onboarding(BaseModel):
    """Where the tenant's first sync stands."""

    state: Literal["pending", "syncing", "complete", "failed"]
    error: str | None = None
    completed_at: datetime | None = None


class SyncRunSummary(BaseModel):
    """One run that synced the tenant's messages: when, how it ended, its counts and errors."""

    run_id: str
    outcome: RunOutcome
    started_at: datetime
    finished_at: datetime | None
    channels_total: int
    channels_unchanged: int
    channels_complete: int
    channels_skipped: int
    channels_failed: int
    messages: int
    messages_per_second: float
    discord_requests: int
    rate_limit_hits: int
    limiter_wait_seconds: float
    error: str | None

    @classmethod
    def of(cls, run: SyncRun) -> SyncRunSummary:
        return cls.model_validate(run, from_attributes=True)


class TenantOut(BaseModel):
    """A tenant, its onboarding state, its last sync and when the next is due."""

    id: str
    name: str
    platform: str
    guild_id: Snowflake
    created_at: datetime | None
    who_reacted: bool = Field(default=False, description="whether who reacted is synced (`message_reactors`)")
    onboarding: Onboarding
    last_sync: SyncRunSummary | None
    active_run_id: str | None = Field(description="the queued or running sync, if any")
    next_sync_due: datetime = Field(description="the hourly schedule's next tick")


class SyncStarted(BaseModel):
    """The run that will sync (or is syncing) the tenant; Dagster's status in lower case."""

    run_id: str
    status: str = Field(examples=["queued"])


class RunCanceled(BaseModel):
    """What the cancel did to one run: Dagster's status before and after it, lower case."""

    run_id: str
    was: str = Field(description="the run's status when the cancel arrived", examples=["started"])
    status: str = Field(
        description="its status now: `canceled`, or `canceling` while the run launcher stops a running worker",
        examples=["canceling"],
    )
    action: CancelAction = Field(
        description="`removed_from_queue` (it was queued), `stop_requested` (it was running: its worker is being "
        "stopped), `marked_canceled` (it was still starting, or its worker was gone: a worker that comes up later does "
        "not execute it), `already_canceling` (an earlier cancel is under way)"
    )


class SyncCanceled(BaseModel):
    """The runs asked to stop (empty when nothing was queued or running), and what was done to each."""

    canceled: list[str] = Field(description="the ids of `runs`")
    runs: list[RunCanceled]


class RunState(BaseModel):
    """The latest run: Dagster's status and, once it syncs messages, its outcome."""

    run_id: str
    status: str = Field(description="Dagster's run status, lower case: queued, started, success, failure, canceled")
    outcome: RunOutcome | None
    started_at: datetime | None
    finished_at: datetime | None
    progress_at: datetime | None = Field(description="when the live numbers were last written")


class Progress(BaseModel):
    """The run's totals so far."""

    channels_total: int
    channels_done: int
    channels_unchanged: int
    channels_skipped: int
    channels_failed: int
    channels_running: int
    messages: int
    messages_per_second: float
    discord_requests: int
    rate_limit_hits: int
    limiter_wait_seconds: float


class ChannelProgress(BaseModel):
    """One channel of the tenant: its state and checkpoint, and the latest run's numbers if that run touched it."""

    id: Snowflake
    name: str
    status: str = Field(description="pending (never synced), running, complete, failed or skipped")
    last_message_id: Snowflake | None = Field(description="the checkpoint: newest message stored in order")
    last_synced_at: datetime | None = Field(description="when a sync of the channel last ended")
    reason: str | None = Field(
        description="why the channel is not synced: its error, why the bot cannot read it, or 'deleted on Discord'"
    )
    run_status: str | None = Field(description="the channel's attempt in the latest run; null if it did not touch it")
    messages: int = Field(description="messages the latest run stored in the channel so far (0 if not touched)")
    messages_stored: int = Field(description="messages stored for the channel by every run")
    messages_per_second: float | None
    error: str | None


class SyncStatus(BaseModel):
    """The latest run of the tenant and its live progress."""

    tenant_id: str
    run: RunState | None
    progress: Progress | None
    channels: list[ChannelProgress]


class SyncHistory(BaseModel):
    """A page of past runs, newest first; `next_offset` is null on the last page."""

    runs: list[SyncRunSummary]
    limit: int
    offset: int
    next_offset: int | None


class QueuedRun(BaseModel):
    """A queued or running sync; `position` is its place in the queue (null once it runs)."""

    tenant_id: str
    run_id: str
    status: str
    position: int | None
    age_seconds: float
    created_at: datetime | None


class Queue(BaseModel):
    """Every tenant's queued and running syncs, and whether the Dagster daemon that launches them is alive."""

    daemon_alive: bool
    queued: int
    running: int
    runs: list[QueuedRun]


class Health(BaseModel):
    """Whether the database and the Dagster daemon answer."""

    status: Literal["ok", "degraded", "down"]
    database: bool
    daemon: bool
