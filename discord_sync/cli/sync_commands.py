"""`discord-sync sync start|status|reset|reconcile|cancel`: drive tenant syncs on the running Dagster deployment.

Starting, resetting and canceling go through the Dagster webserver (`DAGSTER_WEBSERVER_URL`), as the UI does;
status reads the product's tables and the runs of `DAGSTER_HOME`'s instance.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

import sqlalchemy as sa

from discord_sync.control.runs import ACTIVE_STATUSES, CancelAction, RunControl, TenantRun
from discord_sync.run_names import PURGE_TAG, RECONCILE_TAG, RESET_CHANNEL_TAG, RESET_TAG
from discord_sync.settings import Settings
from discord_sync.store.channels import known_channel
from discord_sync.store.migrate import migrated_engine
from discord_sync.store.purge import count_purge
from discord_sync.store.status import ChannelState, TenantState, channel_states, tenant_states
from discord_sync.store.sync_runs import SyncRun, get_run, run_history
from discord_sync.store.tenants import get_tenant, list_tenants, validate_tenant_id

log = logging.getLogger("discord_sync.cli")

DAEMON_NOTE = (
    "note: no Dagster daemon is running; runs and backfills stay queued until `dagster dev` or "
    "`dagster-daemon run` starts"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    sync = subparsers.add_parser("sync", help="start, watch, reset, reconcile or cancel tenant syncs")
    commands = sync.add_subparsers(dest="sync_command", required=True)

    start = commands.add_parser("start", help="queue a sync of one tenant or of every tenant; prints the run ids")
    start.add_argument("--tenant", help="the tenant to sync (default: every tenant)")
    start.set_defaults(handler=run_start)

    status = commands.add_parser("status", help="overall and per-channel state of the syncs")
    which = status.add_mutually_exclusive_group()
    which.add_argument("--tenant", help="one tenant, with its channels")
    which.add_argument("--run-id", help="one run, with the channels it synced")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=run_status)

    reset = commands.add_parser(
        "reset", help="re-sync a tenant (or one channel) from scratch, keeping what is stored (--purge: delete it)"
    )
    reset.add_argument("--tenant", required=True)
    reset.add_argument("--channel", help="only this channel or thread id")
    reset.add_argument(
        "--purge",
        action="store_true",
        help="first DELETE the stored messages, tombstones and messages of deleted or unreadable channels included "
        "(history no re-sync brings back); prints the counts and asks first",
    )
    reset.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    reset.set_defaults(handler=run_reset)

    reconcile = commands.add_parser(
        "reconcile", help="re-read a tenant's whole stored history at a bounded rate and apply every change found"
    )
    reconcile.add_argument("--tenant", required=True)
    reconcile.set_defaults(handler=run_reconcile)

    cancel = commands.add_parser("cancel", help="stop the queued and running syncs of a tenant, or one run")
    target = cancel.add_mutually_exclusive_group(required=True)
    target.add_argument("--tenant")
    target.add_argument("--run-id")
    cancel.set_defaults(handler=run_cancel)


def _command_error(message: str) -> Exception:
    from discord_sync.cli import CommandError  # the package imports this module

    return CommandError(message)


def _tenant_ids(engine: sa.Engine, tenant_id: str | None) -> list[str]:
    with engine.connect() as conn:
        if tenant_id is not None:
            return [get_tenant(conn, validate_tenant_id(tenant_id)).id]
        return [tenant.id for tenant in list_tenants(conn)]


def _note_if_no_daemon(runs: RunControl) -> None:
    if not runs.daemon_is_alive():
        print(DAEMON_NOTE)


def run_start(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    runs = RunControl(settings)
    tenant_ids = _tenant_ids(migrated_engine(settings), args.tenant)
    if not tenant_ids:
        raise _command_error("no tenants to sync: add one with `discord-sync tenant add TENANT --guild GUILD_ID`")
    for tenant_id in tenant_ids:
        waiting = runs.tenant_runs(tenant_id, statuses=ACTIVE_STATUSES, limit=1)
        run_id = runs.start_tenant_sync(tenant_id)
        if waiting and waiting[0].run_id == run_id:
            state = waiting[0].status
            print(f"{tenant_id}: run {run_id} already {state}; not starting a second", flush=True)
        else:
            print(f"{tenant_id}: run {run_id} queued", flush=True)
    _note_if_no_daemon(runs)
    return 0


def run_reset(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    runs = RunControl(settings)
    engine = migrated_engine(settings)
    [tenant_id] = _tenant_ids(engine, args.tenant)
    channel_id = _known_channel(engine, tenant_id, args.channel) if args.channel is not None else None
    if channel_id is not None:
        what, tags = f"channel {channel_id} of tenant {tenant_id}", {RESET_CHANNEL_TAG: str(channel_id)}
    else:
        what, tags = f"tenant {tenant_id}", {RESET_TAG: "true"}
    if args.purge:
        with engine.connect() as conn:
            counts = count_purge(conn, tenant_id, channel_id)
        print(f"--purge deletes {counts.describe()} of {what}; then everything Discord still has is synced again")
        question = "Delete them for good? [y/N] "
        tags[PURGE_TAG] = "true"
    else:
        print(
            f"reset of {what}: checkpoints cleared, every stored message kept, everything read again and updated, "
            "deletions confirmed by a re-read"
        )
        question = "Re-sync it from the start? [y/N] "
    if not args.yes:
        if not sys.stdin.isatty():
            raise _command_error("refusing to reset without confirmation: pass --yes")
        answer = input(question)
        if answer.strip().lower() not in ("y", "yes"):
            print("not reset")
            return 1
    backfill_id = runs.start_backfill([tenant_id], tags=tags)
    if args.purge:
        # The record of a destructive request; the run logs what it actually deleted.
        log.warning(
            "purge of %s requested from the command line (backfill %s): will delete %s",
            what,
            backfill_id,
            counts.describe(),
        )
    print(
        f"{'purge and ' if args.purge else ''}reset of {what} launched as backfill {backfill_id}: its run starts "
        "after any run of the tenant already queued or running"
    )
    _note_if_no_daemon(runs)
    return 0


def run_reconcile(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    runs = RunControl(settings)
    [tenant_id] = _tenant_ids(migrated_engine(settings), args.tenant)
    backfill_id = runs.start_backfill([tenant_id], tags={RECONCILE_TAG: "true"})
    print(
        f"reconcile of tenant {tenant_id} launched as backfill {backfill_id}: its run re-reads the stored history at "
        "SYNC_RECONCILE_REQUESTS_PER_SECOND and applies edits, reactions and deletions"
    )
    _note_if_no_daemon(runs)
    return 0


def _known_channel(engine: sa.Engine, tenant_id: str, channel: str) -> int:
    if not channel.isdigit():
        raise _command_error(f"channel {channel!r} is not a channel id (digits only)")
    with engine.connect() as conn:
        found = known_channel(conn, tenant_id, int(channel))
    if found is None:
        raise _command_error(
            f"tenant {tenant_id} has no channel {channel}; `discord-sync sync status --tenant "
            f"{tenant_id}` lists its channels"
        )
    return found


_CANCEL_WORDS = {
    CancelAction.REMOVED_FROM_QUEUE: "canceled (taken out of the queue)",
    CancelAction.STOP_REQUESTED: "canceling: its worker is being stopped",
    CancelAction.MARKED_CANCELED: "canceled (marked at once: no worker was executing it)",
    CancelAction.ALREADY_CANCELING: "is already canceling",
}


def run_cancel(args: argparse.Namespace) -> int:
    runs = RunControl(Settings.from_env())
    if args.run_id:
        run = runs.find_run(args.run_id)
        if run is None:
            raise _command_error(f"no run {args.run_id}")
        if not run.is_active:
            raise _command_error(f"run {run.run_id} already ended ({run.status})")
        to_cancel = [run]
    else:
        validate_tenant_id(args.tenant)
        to_cancel = runs.tenant_runs(args.tenant, statuses=ACTIVE_STATUSES)
        if not to_cancel:
            print(f"no queued or running sync of tenant {args.tenant}")
            return 0
    for run in to_cancel:
        done = runs.cancel_tenant_run(run.run_id)
        if done is None:
            print(f"{run.tenant_id}: run {run.run_id} had already ended", flush=True)
        else:
            print(f"{run.tenant_id}: run {run.run_id} ({done.was}) {_CANCEL_WORDS[done.action]}", flush=True)
    return 0


def run_status(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    runs = RunControl(settings)
    engine = migrated_engine(settings)
    run = None
    tenant_id = args.tenant
    if args.run_id:
        run = runs.find_run(args.run_id)
        if run is None:
            raise _command_error(f"no run {args.run_id}")
        tenant_id = run.tenant_id
    with engine.connect() as conn:
        if tenant_id is not None:
            get_tenant(conn, tenant_id)
        tenants = tenant_states(conn, tenant_id)
        last_runs = {t.tenant_id: run or _latest_run(t.tenant_id, runs) for t in tenants}
        progress = _run_progress(conn, tenant_id, last_runs.get(tenant_id)) if tenant_id else None
        channel_rows: list[ChannelState] = []
        if args.run_id:
            channel_rows = channel_states(conn, tenant_id, args.run_id)
        elif tenant_id is not None:
            # Every channel of the tenant, the latest run's numbers beside those it touched.
            latest = progress.run_id if progress is not None else None
            channel_rows = channel_states(conn, tenant_id, latest, only_run=False)
    if args.json:
        data = _status_json(tenants, last_runs, channel_rows, tenant_id is not None)
        if tenant_id is not None:
            data["progress"] = _progress_json(progress)
        print(json.dumps(data, indent=2))
    else:
        _print_tenants(tenants, last_runs)
        if tenant_id is not None:
            print()
            _print_progress(progress)
            _print_channels(channel_rows)
    return 0


def _run_progress(conn: sa.Connection, tenant_id: str, run: TenantRun | None) -> SyncRun | None:
    """The live totals of the tenant's latest run (or of its latest recorded run if Dagster has none)."""
    if run is not None:
        return get_run(conn, run.run_id)
    latest = run_history(conn, tenant_id, limit=1)
    return latest[0] if latest else None


def _progress_json(progress: SyncRun | None) -> dict | None:
    if progress is None:
        return None
    data = {key: value for key, value in progress.__dict__.items()}
    for key in ("started_at", "updated_at", "finished_at"):
        data[key] = data[key].isoformat() if data[key] else None
    return data


def _print_progress(progress: SyncRun | None) -> None:
    if progress is None:
        return
    done = progress.channels_complete + progress.channels_skipped + progress.channels_failed
    synced = progress.channels_total - progress.channels_unchanged
    print(
        f"run {progress.run_id} {progress.outcome}: {done}/{synced} channels done "
        f"({progress.channels_running} running, {progress.channels_failed} failed, {progress.channels_skipped} "
        f"skipped, {progress.channels_unchanged} unchanged), {progress.messages} messages at "
        f"{progress.messages_per_second:.0f}/s, {progress.rate_limit_hits} 429s, "
        f"{progress.limiter_wait_seconds:.1f} s limiter waits (updated {progress.updated_at:%H:%M:%S})"
    )
    if progress.error:
        print(f"  errors: {progress.error}")
    print()


def _latest_run(tenant_id: str, runs: RunControl) -> TenantRun | None:
    latest = runs.tenant_runs(tenant_id, limit=1)
    return latest[0] if latest else None


def _run_json(run: TenantRun | None) -> dict | None:
    if run is None:
        return None
    # Dagster's own spelling of the status (upper case), as `--json` has always printed it.
    return {"run_id": run.run_id, "status": run.status.upper(), "tags": dict(run.tags)}


def _status_json(
    tenants: list[TenantState], last_runs: dict, channel_rows: list[ChannelState], with_channels: bool
) -> dict:
    data: dict = {
        "tenants": [{**t.as_json(), "last_run": _run_json(last_runs[t.tenant_id])} for t in tenants],
    }
    if with_channels:
        data["channels"] = [c.as_json() for c in channel_rows]
    return data


def _print_tenants(tenants: list[TenantState], last_runs: dict) -> None:
    if not tenants:
        print("no tenants yet: discord-sync tenant add TENANT --guild GUILD_ID")
        return
    print(
        f"{'TENANT':<20} {'LAST RUN':<10} {'RUN ID':<36} {'COMPLETE':>8} {'FAILED':>6} {'SKIPPED':>7} "
        f"{'PENDING':>7} {'MESSAGES':>10}  LAST SYNC"
    )
    for t in tenants:
        run = last_runs[t.tenant_id]
        status = run.status if run else "never"
        run_id = run.run_id if run else "-"
        synced = t.last_synced_at.strftime("%Y-%m-%d %H:%M:%S") if t.last_synced_at else "-"
        print(
            f"{t.tenant_id:<20} {status:<10} {run_id:<36} {t.complete:>8} {t.failed:>6} {t.skipped:>7} "
            f"{t.pending:>7} {t.messages:>10}  {synced}"
        )


def _print_channels(rows: list[ChannelState]) -> None:
    if not rows:
        print("no channels yet: the tenant's first sync lists them")
        return
    print(
        f"{'CHANNEL':<20} {'NAME':<24} {'STATUS':<9} {'LAST MESSAGE':<20} {'LAST SYNC':<19} {'MESSAGES':>9} "
        f"{'RUN MSGS':>8} {'MSG/S':>7}  REASON"
    )
    for c in rows:
        touched = c.run_id is not None and c.run_status is not None
        rate = f"{c.messages_per_second:.1f}" if touched and c.messages_per_second is not None else "-"
        run_messages = str(c.run_messages or 0) if touched else "-"
        last = str(c.last_message_id) if c.last_message_id is not None else "-"
        synced = c.last_synced_at.strftime("%Y-%m-%d %H:%M:%S") if c.last_synced_at else "-"
        reason = c.error or c.reason
        reason = reason.splitlines()[0][:80] if reason else ""
        print(
            f"{c.channel_id:<20} {c.name[:24]:<24} {c.status:<9} {last:<20} {synced:<19} {c.messages:>9} "
            f"{run_messages:>8} {rate:>7}  {reason}"
        )
