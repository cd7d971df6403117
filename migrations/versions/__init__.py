"""One module per schema revision; Alembic reads them by file name (it skips this one)."""
