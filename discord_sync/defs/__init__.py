"""Dagster definitions: assets, checks, jobs, partitions, schedules, sensors, resources. Only `definitions.py` imports this package."""
