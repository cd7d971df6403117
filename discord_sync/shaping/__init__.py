"""Pure transforms from platform payloads to table rows: rows, anonymization, channel types."""
