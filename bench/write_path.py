"""Benchmark 4: rows/s through the product's write path beside a bare `COPY` of the same rows (the floor).

The rows are real: a channel's message payloads from the emulator, shaped by `rows.shape_messages`. The product
path writes them the way a sync does, `SYNC_WRITE_BATCH_MESSAGES` messages per transaction through
`writer.write_message_batch` (COPY into staging, `INSERT ... ON CONFLICT` into the indexed tables, reactions and
attachments replaced, checkpoint advanced). The floor copies the same tuples with one `COPY` per table into empty
tables `LIKE` the product's, without indexes or constraints, in one transaction. A second floor copies them the
same way into the product's own tables, emptied: the difference between the two floors is what the schema's
indexes and foreign keys cost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa

from bench.infra import ANONYMIZATION_KEY, EmulatorProcess, Server
from discord_sync.shaping.anonymize import Anonymizer
from discord_sync.shaping.rows import ATTACHMENT_COLUMNS, MESSAGE_COLUMNS, REACTION_COLUMNS, MessageRows, shape_messages
from discord_sync.store.database import create_db_engine
from discord_sync.store.schema import channels, message_attachments, message_emoji_reactions, messages
from discord_sync.store.sync_status import ChannelSyncStatus
from discord_sync.store.tenants import add_tenant
from discord_sync.store.writer import _copy_rows, write_message_batch

TABLES = (
    (messages, MESSAGE_COLUMNS, "messages"),
    (message_emoji_reactions, REACTION_COLUMNS, "reactions"),
    (message_attachments, ATTACHMENT_COLUMNS, "attachments"),
)


@dataclass
class WriteMeasurement:
    """Message rows per second through the product path and through a bare COPY of the same rows."""

    messages: int
    reactions: int
    attachments: int
    product_seconds: float
    copy_seconds: float
    indexed_copy_seconds: float

    @property
    def product_rows_per_second(self) -> float:
        return self.messages / self.product_seconds

    @property
    def copy_rows_per_second(self) -> float:
        return self.messages / self.copy_seconds

    @property
    def indexed_copy_rows_per_second(self) -> float:
        return self.messages / self.indexed_copy_seconds


def _bare_copy(engine: sa.Engine, rows: MessageRows) -> float:
    with engine.begin() as conn:
        for table, _, _ in TABLES:
            conn.execute(sa.text(f'CREATE TABLE "bare_{table.name}" (LIKE "{table.name}" INCLUDING DEFAULTS)'))
    started = time.perf_counter()
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        for table, columns, field in TABLES:
            _copy_rows(raw, f"bare_{table.name}", table, columns, getattr(rows, field))
    return time.perf_counter() - started


def _indexed_copy(engine: sa.Engine, rows: MessageRows) -> float:
    """The same rows with one plain `COPY` per table, in one transaction, into the product's own tables, emptied
    first: what storing these rows costs with the schema's indexes and keys and no write-path logic."""
    with engine.begin() as conn:
        for table, _, _ in reversed(TABLES):
            conn.execute(table.delete())
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("VACUUM ANALYZE"))
    started = time.perf_counter()
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        for table, columns, field in TABLES:
            _copy_rows(raw, table.name, table, columns, getattr(rows, field))
    return time.perf_counter() - started


def measure_write_path(
    server: Server, emulator: EmulatorProcess, channel_id: int, database: str, batch: int
) -> WriteMeasurement:
    """Shape one channel's messages, then time the product write path and the bare COPY on the same rows."""
    payloads = emulator.client.ground_truth_messages(channel_id)
    anonymizer = Anonymizer(ANONYMIZATION_KEY)
    batches = [
        shape_messages("bench", channel_id, payloads[i : i + batch], anonymizer) for i in range(0, len(payloads), batch)
    ]
    del payloads
    everything = MessageRows()
    for rows in batches:
        everything.extend(rows)
    url = server.fresh_database(database)
    engine = create_db_engine(url)
    with engine.begin() as conn:
        add_tenant(conn, "bench", 1)
        conn.execute(
            channels.insert().values(
                tenant_id="bench", id=channel_id, name="huge", type=0, is_thread=False, created_at=sa.func.now()
            )
        )
    started = time.perf_counter()
    for rows in batches:
        with engine.begin() as conn:
            write_message_batch(
                conn, "bench", channel_id, rows, checkpoint=rows.messages[-1][1], status=ChannelSyncStatus.RUNNING
            )
    product_seconds = time.perf_counter() - started
    copy_seconds = _bare_copy(engine, everything)
    indexed_copy_seconds = _indexed_copy(engine, everything)
    engine.dispose()
    return WriteMeasurement(
        len(everything.messages),
        len(everything.reactions),
        len(everything.attachments),
        product_seconds,
        copy_seconds,
        indexed_copy_seconds,
    )
