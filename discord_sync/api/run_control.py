"""The API's one `RunControl`: `create_app` builds it from its settings; routes receive it as a dependency."""

from __future__ import annotations

from fastapi import Request

from discord_sync.control.runs import RunControl


def run_control(request: Request) -> RunControl:
    """The app's run control (FastAPI dependency), so every route starts, finds and cancels runs the same way."""
    control: RunControl = request.app.state.run_control
    return control
