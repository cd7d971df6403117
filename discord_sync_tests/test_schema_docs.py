"""docs/schema.md documents every table and column, and its example queries run."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from discord_sync.store.schema import metadata
from discord_sync_tests.fault_harness import REPO as REPO_ROOT

DOC = (REPO_ROOT / "docs" / "schema.md").read_text()


def documented_columns(table: str) -> set[str]:
    section = re.search(rf"^## `{table}`\n(.*?)(?=^## |\Z)", DOC, re.S | re.M)
    assert section, f"docs/schema.md has no section for table {table}"
    # Column rows: | `name` | type | null (yes/no) | meaning |
    return set(re.findall(r"^\| `(\w+)` \| [^|]+ \| (?:yes|no) \|", section.group(1), re.M))


@pytest.mark.parametrize("table", sorted(metadata.tables))
def test_every_column_of_every_table_is_documented(table):
    assert documented_columns(table) == {column.name for column in metadata.tables[table].columns}


@pytest.mark.parametrize("query", re.findall(r"```sql\n(.*?)```", DOC, re.S))
def test_example_queries_run(engine, query):
    with engine.connect() as conn:
        for statement in filter(str.strip, query.split(";")):
            conn.execute(sa.text(statement.replace(":", r"\:")))
