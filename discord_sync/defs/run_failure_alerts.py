"""Run-failure alerts: every failed tenant sync posts the tenant, the run and what went wrong to the webhook."""

# No `from __future__ import annotations`: Dagster validates the resource annotation as a real type.

import re
from collections.abc import Mapping

import dagster as dg

from discord_sync.defs.alert_webhook import AlertWebhook
from discord_sync.defs.jobs import sync_tenant_batch_job, sync_tenant_job
from discord_sync.run_names import PARTITION_TAG, RANGE_END_TAG, RANGE_START_TAG

# Long enough for the first lines of a traceback's message, short enough for a chat message.
MAX_ERROR_CHARS = 1000


# Dagster's error text starts with the exception's dotted class path and `Failure: `; a reader wants the rest.
_EXCEPTION_PREFIX = re.compile(r"^(?:[A-Za-z_][\w]*\.)+[A-Za-z_]\w*: |^\w*(?:Error|Exception|Failure): ")


def _first_line(message: str) -> str:
    lines = message.strip().splitlines()
    return _EXCEPTION_PREFIX.sub("", lines[0]) if lines else "no message"


def failure_summary(step_errors: list[tuple[str, str]], run_message: str) -> str:
    """`step failed: first line of its error` per failed step, or the run's own failure message."""
    if not step_errors:
        return run_message
    return "; ".join(f"{step} failed: {_first_line(message)}" for step, message in step_errors)[:MAX_ERROR_CHARS]


def run_failure_payload(*, tenant: str | None, run_id: str, job: str, error: str) -> dict[str, str | None]:
    """The JSON body of a run-failure alert."""
    return {"alert": "run_failed", "tenant": tenant, "run_id": run_id, "job": job, "error": error}


def _batch_range(tags: Mapping[str, str]) -> str | None:
    """A batch run's tenants, as `first..last` (its partition range); None for a run without one."""
    if RANGE_START_TAG in tags and RANGE_END_TAG in tags:
        return f"{tags[RANGE_START_TAG]}..{tags[RANGE_END_TAG]}"
    return None


@dg.run_failure_sensor(
    # A batch run fails only when every tenant of it failed (one tenant's failure is retried alone, in a sync_tenant run).
    monitored_jobs=[sync_tenant_job, sync_tenant_batch_job],
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts each failed tenant sync (tenant, run id, the error in plain words) to ALERT_WEBHOOK_URL.",
)
def tenant_run_failure_alert(context: dg.RunFailureSensorContext, alert_webhook: AlertWebhook) -> None:
    """Send the failed run's tenant, id and first error line of each failed step to the alert webhook."""
    run = context.dagster_run
    step_errors = [
        (event.step_key or "run", event.step_failure_data.error.message if event.step_failure_data.error else "")
        for event in context.get_step_failure_events()
    ]
    payload = run_failure_payload(
        tenant=run.tags.get(PARTITION_TAG) or _batch_range(run.tags),
        run_id=run.run_id,
        job=run.job_name,
        error=failure_summary(step_errors, context.failure_event.message or "the run failed"),
    )
    sent = alert_webhook.post(payload=payload)
    context.log.info(f"run {run.run_id} failed ({payload['error']}); alert {'sent' if sent else 'not configured'}")
