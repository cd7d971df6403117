"""Writes `openapi.json` here: the part of Discord's official OpenAPI spec that the tests validate against.

Kept: the `GET` operations of the routes the emulator serves (the ones the product reads), with every component
they reference, directly or through other components. Nothing else of the 1.2 MB document is read by a test.

    python -m discord_sync_tests.discord_openapi.make_subset /path/to/discord-api-spec/specs/openapi.json

Source: github.com/discord/discord-api-spec (MIT, see LICENSE here); the commit used is in README.md here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
ROUTES = (
    "/users/@me",
    "/oauth2/applications/@me",
    "/applications/@me",
    "/guilds/{guild_id}",
    "/guilds/{guild_id}/channels",
    "/guilds/{guild_id}/threads/active",
    "/guilds/{guild_id}/members",
    "/guilds/{guild_id}/members/{user_id}",
    "/channels/{channel_id}",
    "/channels/{channel_id}/messages",
    "/channels/{channel_id}/messages/{message_id}",
    "/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}",
    "/channels/{channel_id}/threads/archived/public",
    "/channels/{channel_id}/threads/archived/private",
    "/channels/{channel_id}/users/@me/threads/archived/private",
)


def _references(node: Any) -> set[str]:
    """Every `$ref` inside `node`."""
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _references(value)
        return found
    if isinstance(node, list):
        return set().union(*map(_references, node)) if node else set()
    return set()


def subset(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec with only `ROUTES`' GET operations and the components they reach."""
    paths = {route: {"get": spec["paths"][route]["get"]} for route in ROUTES}
    components: dict[str, dict[str, Any]] = {}
    pending = _references(paths)
    seen: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        _, section, kind, name = ref.split("/", 3)  # "#/components/<kind>/<name>"
        assert section == "components", ref
        node = spec["components"][kind][name]
        components.setdefault(kind, {})[name] = node
        pending |= _references(node)
    return {
        "openapi": spec["openapi"],
        "info": spec["info"],
        "paths": paths,
        "components": {kind: dict(sorted(nodes.items())) for kind, nodes in sorted(components.items())},
    }


def main(source: str) -> None:
    spec = json.loads(Path(source).read_text())
    (HERE / "openapi.json").write_text(json.dumps(subset(spec), indent=1, sort_keys=False) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
