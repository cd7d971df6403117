"""Members, roles and reactors as rows: every user id becomes its keyed hash, and nothing that identifies a person
(username, nickname, avatar, banner) is kept."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from discord_sync.shaping.anonymize import Anonymizer
from discord_sync.shaping.rows import parse_time

BIGINT_MAX = 2**63 - 1


class MemberPayloadError(ValueError):
    """A member or role payload is malformed; the message names the object and the field."""


def member_row(tenant_id: str, payload: dict[str, Any], anonymizer: Anonymizer, seen_at: datetime) -> dict[str, Any]:
    """The `members` row of one `GET /guilds/{id}/members` item: the user's hash and the membership facts only."""
    user = payload.get("user") or {}
    try:
        user_id = int(user["id"])
        role_ids = sorted({int(r) for r in payload.get("roles") or []})
        joined_at = parse_time(payload.get("joined_at"))
        premium_since = parse_time(payload.get("premium_since"))
    except (KeyError, TypeError, ValueError) as error:
        raise MemberPayloadError(f"malformed member payload ({type(error).__name__}: {error})") from None
    return {
        "tenant_id": tenant_id,
        "member_hash": anonymizer.user_hash(user_id),
        "joined_at": joined_at,
        "role_ids": role_ids,
        "is_bot": bool(user.get("bot", False)),
        "pending": bool(payload.get("pending", False)),
        "premium_since": premium_since,
        "last_seen_at": seen_at,
        "left_at": None,
    }


def role_row(tenant_id: str, payload: dict[str, Any], anonymizer: Anonymizer, seen_at: datetime) -> dict[str, Any]:
    """The `roles` row of one role of `GET /guilds/{id}`; its name scrubbed of user ids like every stored text."""
    try:
        role_id = int(payload["id"])
        permissions = int(payload.get("permissions") or 0)
        row = {
            "tenant_id": tenant_id,
            "id": role_id,
            "name": anonymizer.scrub(str(payload.get("name") or "")),
            "color": int(payload.get("color") or 0),
            "position": int(payload.get("position") or 0),
            "permissions": permissions,
            "managed": bool(payload.get("managed", False)),
            "mentionable": bool(payload.get("mentionable", False)),
            "hoist": bool(payload.get("hoist", False)),
            "last_seen_at": seen_at,
            "deleted_at": None,
        }
    except (KeyError, TypeError, ValueError) as error:
        raise MemberPayloadError(f"malformed role payload ({type(error).__name__}: {error})") from None
    if not 0 <= permissions <= BIGINT_MAX:
        raise MemberPayloadError(
            f"role {role_id}: permissions {permissions} do not fit roles.permissions (bigint, below 2^63)"
        )
    return row


def reactor_hashes(users: list[dict[str, Any]], anonymizer: Anonymizer) -> list[str]:
    """The hashes of the users of a `GET .../reactions/{emoji}` page."""
    return [anonymizer.user_hash(int(user["id"])) for user in users]


def emoji_in_url(emoji_key: str, emoji_id: int | None, emoji_name: str | None) -> str:
    """How Discord names a reaction's emoji in a URL: the Unicode emoji itself, or `name:id` for a custom one
    (`message_emoji_reactions.emoji_key` is the custom emoji's id alone)."""
    if emoji_id is None:
        return emoji_key
    return f"{emoji_name or '_'}:{emoji_id}"
