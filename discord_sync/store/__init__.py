"""The product's PostgreSQL: schema, migrations, the writer, tenants, sync status, retention, connections."""
