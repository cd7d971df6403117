"""The Alembic migrations of the product's tables, shipped in the wheel as `discord_sync.migrations`."""
