"""The tenant-facing HTTP API (FastAPI): tenants, their syncs and live progress, admin queue, health and metrics.

Dagster stays the engine: the API starts, finds and cancels runs only through `control/runs.py`'s `RunControl` (one per app) and reads
progress from the product's tables. `app.create_app` builds it; `discord-sync api` serves it with uvicorn.
"""
