"""How rows reach the product's tables: `COPY`, falling back to staging + `INSERT ... ON CONFLICT`.

A batch of messages is first copied straight into `messages` under a savepoint: new messages (the common case,
a sync reads forward from its checkpoint) cost one `COPY`, and their reactions and attachments, which cannot exist
yet, one `COPY` each. If any message is already stored (a reset, an overlapping window, a resumed crash) the copy
fails on the primary key, is rolled back to the savepoint, and the batch goes the general way: `COPY` into a
staging table, then `INSERT ... ON CONFLICT`, and the batch's reactions and attachments replaced. Either way,
re-writing a row that is already stored changes nothing (rows equal to the stored ones are not even rewritten),
so a re-run, a resumed crash or an overlapping window never duplicates. The SQL comes from small pure functions
over the schema's own table and column names; values only ever travel through `COPY` or bound parameters.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence

import pandas as pd
import psycopg
import sqlalchemy as sa
from psycopg import sql
from psycopg.types.json import Jsonb
from sqlalchemy.dialects.postgresql import JSONB

from discord_sync.shaping.rows import ATTACHMENT_COLUMNS, MESSAGE_COLUMNS, REACTION_COLUMNS, MessageRows
from discord_sync.store.progress import store_checkpoint
from discord_sync.store.schema import message_attachments, message_emoji_reactions, messages
from discord_sync.store.sync_status import ChannelSyncStatus


def _driver_connection(conn: sa.Connection) -> psycopg.Connection:
    """The psycopg connection under a SQLAlchemy one, for `COPY` (SQLAlchemy has no COPY of its own)."""
    raw = conn.connection.driver_connection
    assert isinstance(raw, psycopg.Connection), "the writer needs a psycopg 3 connection (postgresql+psycopg://)"
    return raw


def staging_name(table: sa.Table) -> str:
    return f"_staging_{table.name}"


def create_staging_sql(table: sa.Table) -> sql.Composed:
    """A per-connection temporary twin of `table`, emptied at every commit."""
    return sql.SQL(
        "CREATE TEMPORARY TABLE IF NOT EXISTS {stage} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    ).format(stage=sql.Identifier(staging_name(table)), table=sql.Identifier(table.name))


def copy_sql(target: str, columns: Sequence[str]) -> sql.Composed:
    return sql.SQL("COPY {target} ({columns}) FROM STDIN").format(
        target=sql.Identifier(target), columns=sql.SQL(", ").join(map(sql.Identifier, columns))
    )


def upsert_sql(table: sa.Table, columns: Sequence[str], *, skip_unchanged: bool = True) -> sql.Composed:
    """Move the staged rows into `table`: insert new keys, update changed rows, leave equal rows untouched."""
    keys = [c.name for c in table.primary_key.columns]
    updates = [c for c in columns if c not in keys]
    column_list = sql.SQL(", ").join(map(sql.Identifier, columns))
    statement = sql.SQL(
        "INSERT INTO {table} ({columns}) SELECT DISTINCT ON ({keys}) {columns} FROM {stage} ON CONFLICT ({keys}) DO "
    ).format(
        table=sql.Identifier(table.name),
        columns=column_list,
        keys=sql.SQL(", ").join(map(sql.Identifier, keys)),
        stage=sql.Identifier(staging_name(table)),
    )
    if not updates:
        return statement + sql.SQL("NOTHING")
    assignments: list[sql.Composable] = [sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in updates]
    if "synced_at" in table.c and "synced_at" not in columns:
        assignments.append(sql.SQL("synced_at = now()"))
    statement += sql.SQL("UPDATE SET ") + sql.SQL(", ").join(assignments)
    if skip_unchanged:
        statement += sql.SQL(" WHERE ({current}) IS DISTINCT FROM ({incoming})").format(
            current=sql.SQL(", ").join(
                sql.SQL("{t}.{c}").format(t=sql.Identifier(table.name), c=sql.Identifier(c)) for c in updates
            ),
            incoming=sql.SQL(", ").join(sql.SQL("EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in updates),
        )
    return statement


def count_stored_sql(table: sa.Table) -> sql.Composed:
    """How many of a batch's keys are stored already (the batch's re-written rows)."""
    return sql.SQL("SELECT count(*) FROM {table} WHERE tenant_id = %s AND id = ANY(%s)").format(
        table=sql.Identifier(table.name)
    )


def delete_children_sql(table: sa.Table) -> sql.Composed:
    """Remove a batch's reactions or attachments before writing the fresh ones (an edit may remove some)."""
    return sql.SQL("DELETE FROM {table} WHERE tenant_id = %s AND message_id = ANY(%s)").format(
        table=sql.Identifier(table.name)
    )


def _json_columns(table: sa.Table, columns: Sequence[str]) -> list[int]:
    return [i for i, c in enumerate(columns) if isinstance(table.c[c].type, JSONB)]


def _copy_rows(
    raw: psycopg.Connection, target: str, table: sa.Table, columns: Sequence[str], rows: Iterable[tuple]
) -> None:
    json_positions = _json_columns(table, columns)
    with raw.cursor() as cursor, cursor.copy(copy_sql(target, columns)) as copy:
        for row in rows:
            if json_positions:
                values = list(row)
                for i in json_positions:
                    values[i] = None if values[i] is None else Jsonb(values[i])
                copy.write_row(values)
            else:
                copy.write_row(row)


def upsert_rows(
    conn: sa.Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[tuple], *, skip_unchanged: bool = True
) -> int:
    """Upsert rows (tuples in `columns` order) into `table` inside the caller's transaction; returns rows staged."""
    if not rows:
        return 0
    raw = _driver_connection(conn)
    with raw.cursor() as cursor:
        cursor.execute(create_staging_sql(table))
        _copy_rows(raw, staging_name(table), table, columns, rows)
        # Emptied in the same round trip, for a second upsert of this table in this transaction (commit empties it
        # too); a DELETE of a temporary table's rows, unlike TRUNCATE, does not replace its file.
        cursor.execute(
            sql.SQL("{upsert}; DELETE FROM {stage}").format(
                upsert=upsert_sql(table, columns, skip_unchanged=skip_unchanged),
                stage=sql.Identifier(staging_name(table)),
            )
        )
    return len(rows)


def frame_rows(frame: pd.DataFrame) -> list[tuple]:
    """A DataFrame's rows as tuples of plain Python values (NaN and NaT become NULL, ids stay exact ints)."""
    cleaned = frame.astype(object).where(frame.notna(), None)
    return list(cleaned.itertuples(index=False, name=None))


def upsert_frame(conn: sa.Connection, table: sa.Table, frame: pd.DataFrame, *, skip_unchanged: bool = True) -> int:
    """Upsert a DataFrame whose columns are columns of `table`."""
    return upsert_rows(conn, table, list(frame.columns), frame_rows(frame), skip_unchanged=skip_unchanged)


def unique_by_key(table: sa.Table, columns: Sequence[str], rows: Sequence[tuple]) -> list[tuple]:
    """The rows with distinct primary keys, the first of each kept: a payload that lists an emoji or an
    attachment twice (or a page that repeats a message) must not fail the whole batch's `COPY`."""
    key = operator.itemgetter(*(list(columns).index(c.name) for c in table.primary_key.columns))
    unique: dict = {}
    for row in rows:
        unique.setdefault(key(row), row)
    return list(unique.values())


def replace_children(
    conn: sa.Connection,
    table: sa.Table,
    columns: Sequence[str],
    tenant_id: str,
    message_ids: list[int],
    rows: Sequence[tuple],
) -> int:
    """Make a batch's reactions or attachments exactly `rows`: delete the stored ones, copy the new ones."""
    if not message_ids:
        return 0
    raw = _driver_connection(conn)
    with raw.cursor() as cursor:
        cursor.execute(delete_children_sql(table), (tenant_id, message_ids))
    if rows:
        _copy_rows(raw, table.name, table, columns, unique_by_key(table, columns, rows))
    return len(rows)


def delete_other_children_sql(table: sa.Table) -> sql.Composed:
    """Remove a batch's children whose key the fresh rows no longer hold (the key past `message_id` is text)."""
    other = next(c.name for c in table.primary_key.columns if c.name not in ("tenant_id", "message_id"))
    return sql.SQL(
        "DELETE FROM {table} WHERE tenant_id = %s AND message_id = ANY(%s) "
        "AND (message_id, {other}) NOT IN (SELECT * FROM unnest(%s::bigint[], %s::text[]))"
    ).format(table=sql.Identifier(table.name), other=sql.Identifier(other))


def update_children(
    conn: sa.Connection,
    table: sa.Table,
    columns: Sequence[str],
    tenant_id: str,
    message_ids: list[int],
    rows: Sequence[tuple],
) -> int:
    """Make a batch's reactions exactly `rows`, touching only those that differ: the ones gone are deleted, new and
    changed ones upserted, equal ones left alone. Unlike `replace_children` (delete all, copy all), a re-read that
    changed nothing writes nothing, so the community metrics' changed-days triggers note nothing for it."""
    if not message_ids:
        return 0
    unique = unique_by_key(table, columns, rows)
    message_at = columns.index("message_id")
    other_at = columns.index(
        next(c.name for c in table.primary_key.columns if c.name not in ("tenant_id", "message_id"))
    )
    raw = _driver_connection(conn)
    with raw.cursor() as cursor:
        cursor.execute(
            delete_other_children_sql(table),
            (tenant_id, message_ids, [r[message_at] for r in unique], [r[other_at] for r in unique]),
        )
    return upsert_rows(conn, table, columns, unique)


FAST_PATH_SAVEPOINT = sql.Identifier("discord_sync_new_rows")


def copy_new_rows(conn: sa.Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[tuple]) -> bool:
    """`COPY` rows with distinct keys straight into `table`, if none of their keys is stored yet.

    Returns False, with nothing written, when a key is already stored: the copy ran under a savepoint and is
    rolled back to it, so the caller's transaction goes on and can upsert the rows instead. Any other error is
    raised as it is.
    """
    raw = _driver_connection(conn)
    with raw.cursor() as cursor:
        cursor.execute(sql.SQL("SAVEPOINT {}").format(FAST_PATH_SAVEPOINT))
        try:
            _copy_rows(raw, table.name, table, columns, rows)
        except psycopg.errors.UniqueViolation:
            cursor.execute(sql.SQL("ROLLBACK TO SAVEPOINT {0}; RELEASE SAVEPOINT {0}").format(FAST_PATH_SAVEPOINT))
            return False
        cursor.execute(sql.SQL("RELEASE SAVEPOINT {}").format(FAST_PATH_SAVEPOINT))
    return True


# A batch commits together with its checkpoint, so a server crash can lose at most the last fraction of a second
# of batches *and* their checkpoints: the next sync fetches them again. The commit need not wait for the WAL flush.
BATCH_SETTINGS_SQL = sql.SQL("SET LOCAL synchronous_commit = off")


def write_messages(conn: sa.Connection, tenant_id: str, rows: MessageRows, *, stored: bool = False) -> tuple[bool, int]:
    """Write messages with their reactions and attachments in the caller's transaction, without touching any
    checkpoint: the path of a re-read (`sync/refresh.py`, `stored=True`: the messages are known to be stored, so
    the `COPY` of new rows is not even tried), and the first half of `write_message_batch`.

    Returns whether every message was new (one `COPY` each; else the batch was upserted: changed rows updated,
    equal rows left untouched, the batch's reactions brought up to date row by row and its attachments replaced), and
    how many messages were not stored before (a re-read counts none).
    """
    raw = _driver_connection(conn)
    with raw.cursor() as cursor:
        cursor.execute(BATCH_SETTINGS_SQL)
    batch = unique_by_key(messages, MESSAGE_COLUMNS, rows.messages)
    new = bool(batch) and not stored and copy_new_rows(conn, messages, MESSAGE_COLUMNS, batch)
    if new:
        # The messages did not exist a moment ago, so neither did any reaction or attachment of theirs.
        for table, columns, children in (
            (message_emoji_reactions, REACTION_COLUMNS, rows.reactions),
            (message_attachments, ATTACHMENT_COLUMNS, rows.attachments),
        ):
            if children:
                _copy_rows(raw, table.name, table, columns, unique_by_key(table, columns, children))
        return True, len(batch)
    already_stored = len(batch)
    if batch:
        message_ids = [row[1] for row in batch]
        if not stored:
            with raw.cursor() as cursor:
                counted = cursor.execute(count_stored_sql(messages), (tenant_id, message_ids)).fetchone()
                already_stored = counted[0] if counted else 0
        upsert_rows(conn, messages, MESSAGE_COLUMNS, batch)
        update_children(conn, message_emoji_reactions, REACTION_COLUMNS, tenant_id, message_ids, rows.reactions)
        replace_children(conn, message_attachments, ATTACHMENT_COLUMNS, tenant_id, message_ids, rows.attachments)
    return False, len(batch) - already_stored


def write_message_batch(
    conn: sa.Connection,
    tenant_id: str,
    channel_id: int,
    rows: MessageRows,
    *,
    checkpoint: int | None,
    status: ChannelSyncStatus = ChannelSyncStatus.RUNNING,
) -> bool:
    """Write a batch's messages, reactions and attachments, and advance the channel's checkpoint, in the caller's
    transaction: either all of it is stored or none of it. The transaction commits without waiting for its WAL
    flush (`synchronous_commit = off`, see `BATCH_SETTINGS_SQL`).

    Returns True when the batch took the fast path (all its messages were new), False when it was upserted.
    """
    new, newly_stored = write_messages(conn, tenant_id, rows)
    store_checkpoint(conn, tenant_id, channel_id, checkpoint, status, new_messages=newly_stored)
    return new
