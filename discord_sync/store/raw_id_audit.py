"""Finding and removing raw user ids in what is stored: the SQL of the `no_raw_user_ids` check and of
`discord-sync scrub-mentions`.

Which columns to read comes from the database's own catalog (`information_schema`), not from a list kept by hand:
every `text`, `varchar`, `json`/`jsonb` column and array of them, of every table of the product's schema. A
column or table added later is audited and scrubbed without a change here.

Cost follows change. Each tenant's audit reads only the rows written since its last passing audit
(`raw_id_audits.audited_through`): a table's rows by their write-time column (`WRITTEN_AT`), reactions and
attachments with their message (a message's reactions and attachments are rewritten with it), and a table with
neither (small ones: `tenants`, `api_keys`) whole. A first audit, and any audit asked for one, reads everything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from discord_sync.shaping.anonymize import HASH_HEX_CHARS, RAW_USER_ID_PATTERN, Anonymizer
from discord_sync.store.schema import raw_id_audits

PRODUCT_SCHEMA = "public"
SAMPLE_SIZE = 20

# When a row was last written, per table: the columns whose greatest value says it. `messages.synced_at` moves
# whenever the writer changes a message (and when a deletion or a scrub does).
WRITTEN_AT: dict[str, tuple[str, ...]] = {
    "messages": ("synced_at",),
    "channels": ("last_seen_at",),
    "sync_progress": ("updated_at",),
    "sync_runs": ("updated_at",),
    "channel_sync_jobs": ("started_at", "progress_at", "finished_at"),
    "api_audit_log": ("at",),
    "tenant_changes": ("changed_at",),
    "members": ("last_seen_at",),
    "roles": ("last_seen_at",),
    "member_syncs": ("updated_at",),
    "message_reactors": ("synced_at",),
    "message_reactor_syncs": ("synced_at",),
    # Community metrics: rows are rewritten (computed_at) only for the days a sync changed.
    "metric_changed_days": ("noted_at",),
    "daily_communicators": ("computed_at",),
    "communicator_first_messages": ("computed_at",),
    "thread_first_replies": ("computed_at",),
    "daily_responsiveness": ("computed_at",),
}
# `messages.synced_at` (and so its reactions' and attachments') is the database's clock at the write; the other
# tables' times may come from a process's clock a little before the row is written (`channels.last_seen_at` is
# taken before the catalog is stored): they are read back this much further, which costs little (they are small).
APPLICATION_CLOCK_MARGIN = timedelta(minutes=10)
# Tables whose rows are written with their message's: audited when the message is.
WRITTEN_WITH_MESSAGE = frozenset({"message_emoji_reactions", "message_attachments"})
# Columns that must hold a user hash (32 hex characters) and nothing else.
USER_HASH_COLUMNS = frozenset(
    {
        ("messages", "author_hash"),
        ("messages", "mentioned_user_hashes"),
        ("channels", "owner_hash"),
        ("members", "member_hash"),
        ("message_reactors", "member_hash"),
        ("daily_communicators", "author_hash"),
        ("communicator_first_messages", "author_hash"),
    }
)
_HASH = f"^[0-9a-f]{{{HASH_HEX_CHARS}}}$"
_RAW_USER_ID = re.compile(RAW_USER_ID_PATTERN, re.IGNORECASE)

_COLUMNS_SQL = sa.text(
    """
    SELECT c.table_name, c.column_name, c.data_type, c.udt_name
    FROM information_schema.columns c
    JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
    WHERE c.table_schema = :schema AND t.table_type = 'BASE TABLE'
    ORDER BY c.table_name, c.ordinal_position
    """
)
_TEXT_TYPES = frozenset({"text", "character varying", "character", "json", "jsonb"})
_TEXT_ARRAYS = frozenset({"_text", "_varchar", "_bpchar", "_json", "_jsonb"})

# The moment up to which every row is visible to this transaction's snapshot: no transaction still running began
# earlier. A row's write time is its transaction's start (`now()`), so every row this audit cannot see yet carries
# a write time at or after it. (The sync, the checks and the commands connect as one user, so
# `pg_stat_activity` shows their transactions.)
_VISIBLE_THROUGH = sa.text(
    """
    SELECT least(now(), (SELECT min(xact_start) FROM pg_stat_activity
                          WHERE datname = current_database() AND xact_start IS NOT NULL))
    """
)


@dataclass(frozen=True)
class StoredTable:
    """A table of the product's schema, as the catalog describes it: its text-bearing columns and how its rows
    are found per tenant (`tenant_column`: `tenant_id`, or `id` for `tenants`; None: rows of no tenant)."""

    name: str
    text_columns: tuple[str, ...]
    tenant_column: str | None
    timestamp_columns: tuple[str, ...]
    columns: tuple[str, ...]

    def clause(self) -> sa.TableClause:
        """The table as a SQL expression (its names quoted by SQLAlchemy), with `ctid` for tables without a key."""
        return sa.table(self.name, *(sa.column(c) for c in self.columns), sa.column("ctid"))


@dataclass
class AuditResult:
    """What one audit of a tenant found: per `table.column`, how many of the rows read hold a raw user id (or, in
    a user-hash column, something that is not a hash); how many rows each table had read; a few offenders."""

    since: datetime | None
    findings: dict[str, int] = field(default_factory=dict)
    rows_read: dict[str, int] = field(default_factory=dict)
    sample: list[dict[str, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.findings.values())


def stored_tables(conn: sa.Connection) -> list[StoredTable]:
    """Every table of the product's schema with a text, varchar, json/jsonb column (or an array of them), read
    from the database catalog."""
    by_table: dict[str, list[sa.Row]] = {}
    for row in conn.execute(_COLUMNS_SQL, {"schema": PRODUCT_SCHEMA}):
        by_table.setdefault(row.table_name, []).append(row)
    tables = []
    for name, columns in by_table.items():
        texts = tuple(
            c.column_name
            for c in columns
            if c.data_type in _TEXT_TYPES or (c.data_type == "ARRAY" and c.udt_name in _TEXT_ARRAYS)
        )
        if not texts:
            continue
        names = {c.column_name for c in columns}
        tenant_column = "tenant_id" if "tenant_id" in names else ("id" if name == "tenants" else None)
        stamps = tuple(c.column_name for c in columns if c.data_type == "timestamp with time zone")
        tables.append(StoredTable(name, texts, tenant_column, stamps, tuple(c.column_name for c in columns)))
    return tables


def text_columns(conn: sa.Connection) -> list[tuple[str, str]]:
    """(table, column) of every stored text, varchar and json/jsonb column of the product's schema."""
    return [(table.name, column) for table in stored_tables(conn) for column in table.text_columns]


def _finding(table: StoredTable, t: sa.TableClause, column: str) -> sa.ColumnElement[bool]:
    """True for a row whose column holds a raw user id (or, in a user-hash column, anything but a hash)."""
    value = t.c[column]
    found = sa.cast(value, sa.Text).regexp_match(RAW_USER_ID_PATTERN, flags="i")
    if (table.name, column) in USER_HASH_COLUMNS:
        # A user-hash column is checked for its shape as well: a raw id there is a bare number, no pattern.
        shape: sa.ColumnElement[bool]
        if column.endswith("_hashes"):
            element = sa.func.unnest(value).column_valued("h")
            shape = sa.exists(sa.select(element).where(~element.regexp_match(_HASH)))
        else:
            shape = sa.and_(value.is_not(None), ~value.regexp_match(_HASH))
        found = sa.or_(found, shape)
    return sa.func.coalesce(found, sa.false())


def _written_since(table: StoredTable, t: sa.TableClause, tenant_id: str, since: datetime) -> sa.ColumnElement[bool]:
    """True for a row written at or after `since`; a table with no way to tell is read whole."""
    if table.name in WRITTEN_WITH_MESSAGE:
        messages = sa.table("messages", sa.column("tenant_id"), sa.column("id"), sa.column("synced_at"))
        written = sa.select(messages.c.id).where(messages.c.tenant_id == tenant_id, messages.c.synced_at >= since)
        return t.c.message_id.in_(written)
    stamps = [t.c[c] for c in WRITTEN_AT.get(table.name, ()) if c in table.timestamp_columns]
    if not stamps:
        return sa.true()
    return sa.func.greatest(*stamps) >= (since if table.name == "messages" else since - APPLICATION_CLOCK_MARGIN)


def _tenant_rows(
    table: StoredTable, t: sa.TableClause, tenant_id: str, since: datetime | None
) -> list[sa.ColumnElement[bool]]:
    """The tenant's rows of the table, only those written since `since` when it is given."""
    where = [t.c[table.tenant_column or ""] == tenant_id]
    return where if since is None else [*where, _written_since(table, t, tenant_id, since)]


def audit_rows(conn: sa.Connection, tenant_id: str, since: datetime | None) -> AuditResult:
    """Count, per text column of every tenant table, the tenant's rows written since `since` (all when None) that
    hold a raw user id; with a sample of offending rows (table, column and the row's key, never the text)."""
    result = AuditResult(since=since)
    for table in stored_tables(conn):
        if table.tenant_column is None:
            continue
        t = table.clause()
        counts = [sa.func.count().filter(_finding(table, t, c)) for c in table.text_columns]
        row = conn.execute(sa.select(sa.func.count(), *counts).where(*_tenant_rows(table, t, tenant_id, since))).one()
        result.rows_read[table.name] = int(row[0])
        for column, count in zip(table.text_columns, row[1:], strict=True):
            if count:
                result.findings[f"{table.name}.{column}"] = int(count)
                if len(result.sample) < SAMPLE_SIZE:
                    result.sample.extend(
                        _sample(conn, table, column, tenant_id, since, SAMPLE_SIZE - len(result.sample))
                    )
    return result


def _sample(
    conn: sa.Connection, table: StoredTable, column: str, tenant_id: str, since: datetime | None, limit: int
) -> list[dict[str, str]]:
    t = table.clause()
    key = [c for c in _primary_key(conn, table.name) if c != table.tenant_column] or ["ctid"]
    query = (
        sa.select(*(sa.cast(t.c[c], sa.Text) for c in key))
        .where(*_tenant_rows(table, t, tenant_id, since), _finding(table, t, column))
        .limit(limit)
    )
    return [
        {"table": table.name, "column": column, "key": "/".join(str(v) for v in row)} for row in conn.execute(query)
    ]


def _primary_key(conn: sa.Connection, table: str) -> list[str]:
    constraint = sa.inspect(conn).get_pk_constraint(table, schema=PRODUCT_SCHEMA)
    return list(constraint.get("constrained_columns") or ())


def audit_tenant(engine: sa.Engine, tenant_id: str, *, full_scan: bool = False) -> AuditResult:
    """Audit the tenant's rows written since its last passing audit (everything on a first audit or when
    `full_scan`), and move its mark to what this audit saw when nothing was found.

    A failing audit leaves the mark where it was, so the check stays red until the offending rows are fixed
    (`discord-sync scrub-mentions`) rather than turning green on the next run that no longer reads them.
    """
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
        # First statement: it takes the transaction's snapshot, which every later read shares.
        visible_through = conn.execute(_VISIBLE_THROUGH).scalar_one()
        mark = conn.execute(
            sa.select(raw_id_audits.c.audited_through).where(raw_id_audits.c.tenant_id == tenant_id)
        ).scalar_one_or_none()
        since = None if full_scan else mark
        result = audit_rows(conn, tenant_id, since)
        if result.total == 0:
            _save_mark(conn, tenant_id, visible_through, full_scan=since is None)
    return result


def _save_mark(conn: sa.Connection, tenant_id: str, through: datetime, *, full_scan: bool) -> None:
    values: dict = {"tenant_id": tenant_id, "audited_through": through, "updated_at": sa.func.now()}
    if full_scan:
        values["last_full_scan_at"] = sa.func.now()
    statement = insert(raw_id_audits).values(values)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[raw_id_audits.c.tenant_id],
            set_={k: statement.excluded[k] for k in values if k != "tenant_id"},
        )
    )


@dataclass
class ScrubReport:
    """What a scrub rewrote: rows changed per `table.column`, and rows that matched but that the scrubber left
    as they were (which would mean the database's and Python's reading of the pattern differ: reported, never
    looped on). A bare number in a user-hash column is no text to scrub: the audit reports it, this does not."""

    rewritten: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)


def scrub_stored_texts(
    engine: sa.Engine,
    anonymizer: Anonymizer,
    tenant_ids: Iterable[str],
    *,
    batch_size: int = 1000,
) -> ScrubReport:
    """Rewrite every stored text and JSON value of these tenants through the same scrubber shaping uses
    (`Anonymizer.scrub`), `batch_size` rows per transaction. Only rows that hold a raw user id are read and
    written, so running it again changes nothing; a rewritten message's `synced_at` moves (it was written)."""
    report = ScrubReport()
    with engine.connect() as conn:
        tables = [t for t in stored_tables(conn) if t.tenant_column is not None]
        keys = {t.name: _primary_key(conn, t.name) for t in tables}
    for tenant_id in tenant_ids:
        for table in tables:
            if keys[table.name]:
                _scrub_table(engine, anonymizer, tenant_id, table, keys[table.name], batch_size, report)
    return report


def _scrub_table(
    engine: sa.Engine,
    anonymizer: Anonymizer,
    tenant_id: str,
    table: StoredTable,
    key: list[str],
    batch_size: int,
    report: ScrubReport,
) -> None:
    reflected = sa.Table(table.name, sa.MetaData(), autoload_with=engine, schema=None)
    key_columns = [reflected.c[k] for k in key]
    matches = sa.or_(
        *(sa.cast(reflected.c[c], sa.Text).regexp_match(RAW_USER_ID_PATTERN, flags="i") for c in table.text_columns)
    )
    tenant = reflected.c[table.tenant_column or ""] == tenant_id
    after: tuple | None = None
    while True:
        query = sa.select(*key_columns, *(reflected.c[c] for c in table.text_columns)).where(tenant, matches)
        if after is not None:
            query = query.where(sa.tuple_(*key_columns) > sa.tuple_(*after))
        with engine.begin() as conn:
            rows = conn.execute(query.order_by(*key_columns).limit(batch_size)).all()
            for row in rows:
                _scrub_row(conn, anonymizer, reflected, table, key, row, report)
        if len(rows) < batch_size:
            return
        after = tuple(rows[-1][: len(key)])


def _scrub_row(
    conn: sa.Connection,
    anonymizer: Anonymizer,
    reflected: sa.Table,
    table: StoredTable,
    key: list[str],
    row: sa.Row,
    report: ScrubReport,
) -> None:
    values = dict(zip(table.text_columns, row[len(key) :], strict=True))
    changes = {c: scrubbed for c, v in values.items() if (scrubbed := anonymizer.scrub(v)) != v}
    for column, value in values.items():
        # Only the columns that matched count: a row matches through one column, its others are clean.
        counter = report.rewritten if column in changes else report.unchanged if _holds_raw_id(value) else None
        if counter is not None:
            counter[f"{table.name}.{column}"] = counter.get(f"{table.name}.{column}", 0) + 1
    if not changes:
        return
    if "synced_at" in reflected.c:
        changes["synced_at"] = sa.func.now()
    conn.execute(
        reflected.update()
        .where(*(reflected.c[k] == v for k, v in zip(key, row[: len(key)], strict=True)))
        .values(changes)
    )


def _holds_raw_id(value: object) -> bool:
    return value is not None and _RAW_USER_ID.search(str(value)) is not None
