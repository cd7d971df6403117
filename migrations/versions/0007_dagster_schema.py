"""the schema `dagster` for Dagster's own storage

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 10:30:00.000000

Dagster's run, event and schedule storage is dagster-postgres's own (`dagster.yaml`: `storage: postgres:`), pointed
at this schema through the connection option `-csearch_path=dagster`, so Dagster's stock webserver and daemon
images and its Helm chart read it without the product's package. dagster-postgres creates its tables on first use
but not the schema: `discord-sync migrate`, the deploy step, creates it before any Dagster process starts.
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS dagster")


def downgrade() -> None:
    # No CASCADE: a schema still holding Dagster's run history refuses to go, rather than losing it silently.
    op.execute("DROP SCHEMA IF EXISTS dagster")
