"""JSON payloads in the shapes of Discord's OpenAPI schemas (MessageResponse, ThreadResponse, ...)."""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from hashlib import blake2b
from typing import Any

from discord_sync.shaping.channel_types import FORUM_TYPES, THREAD_PARENT_TYPES, VOICE_TYPES, ChannelType

from .channel import BOT_USER_ID, Channel
from .guild import Guild
from .records import Attachment, Embed, Forward, MessageRecord, Poll, Reaction, Sticker, User
from .snowflakes import iso_timestamp

CDN = "https://cdn.discordapp.com"
MEDIA = "https://media.discordapp.net"
BOT_USER = User(id=BOT_USER_ID, username="discord-sync-bot", global_name="Discord Sync", bot=True)
BURST_COLORS = ["#ff6f61", "#6b5b95"]
# Discord signs attachment URLs: `is` when issued, `ex` when they stop working (hex Unix seconds), `hm` the
# signature. A URL issued in one hour stays the same for that hour, as a cached CDN signature does.
URL_SIGNING_PERIOD_S = 3600
URL_LIFETIME_S = 86_400
THREAD_COUNTERS_SINCE_MS = 1_656_633_600_000  # 2022-07-01: older threads stopped counting at 50
OLD_THREAD_COUNTER_CAP = 50
FORWARD_REFERENCE = 1
HAS_SNAPSHOT_FLAG = 1 << 14


def user(person: User) -> dict[str, Any]:
    """A UserResponse."""
    payload: dict[str, Any] = {
        "id": str(person.id),
        "username": person.username,
        "avatar": person.avatar,
        "discriminator": "0000" if person.bot else "0",
        "public_flags": 0,
        "flags": 0,
        "global_name": person.global_name,
        "primary_guild": None,
    }
    if person.bot:
        payload["bot"] = True
    return payload


@functools.lru_cache(maxsize=4096)
def _cached_user(person: User) -> dict[str, Any]:
    # Users are few and immutable, and json.dumps never mutates, so pages can share one dict per author.
    return user(person)


def bot_user() -> dict[str, Any]:
    """The UserPIIResponse of `GET /users/@me`."""
    return {**user(BOT_USER), "mfa_enabled": False, "locale": "en-US", "verified": True, "email": None}


def application(flags: int = 0) -> dict[str, Any]:
    """The PrivateApplicationResponse of `GET /oauth2/applications/@me` and `GET /applications/@me`; `flags`
    carries the intents the application was granted."""
    return {
        "id": str(BOT_USER.id),
        "name": BOT_USER.global_name,
        "icon": None,
        "description": "Emulated bot",
        "type": None,
        "verify_key": "0" * 64,
        "flags": flags,
        "flags_new": str(flags),
        "redirect_uris": [],
        "interactions_endpoint_url": None,
        "role_connections_verification_url": None,
        "owner": user(BOT_USER),
        "approximate_guild_count": 1,
        "approximate_user_install_count": 0,
        "approximate_user_authorization_count": 0,
        "explicit_content_filter": 0,
        "team": None,
        "eligible_oauth2_scopes": ["bot"],
        "bot_public": False,
        "bot_require_code_grant": False,
    }


def guild(model: Guild, with_counts: bool) -> dict[str, Any]:
    """A GuildWithCountsResponse (the counts only when asked for, as Discord does)."""
    payload: dict[str, Any] = {
        "id": str(model.id),
        "name": model.name,
        "icon": None,
        "description": None,
        "home_header": None,
        "splash": None,
        "discovery_splash": None,
        "features": ["COMMUNITY", "NEWS"],
        "banner": None,
        "owner_id": str(model.member_ids[0]),
        "application_id": None,
        "region": "deprecated",
        "afk_channel_id": None,
        "afk_timeout": 300,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "widget_enabled": False,
        "widget_channel_id": None,
        "verification_level": 1,
        "roles": [_role(model, role_id, n) for n, role_id in enumerate(model.role_permissions)],
        "default_message_notifications": 1,
        "mfa_level": 0,
        "explicit_content_filter": 2,
        "max_presences": None,
        "max_members": 500000,
        "max_stage_video_channel_users": 50,
        "max_video_channel_users": 25,
        "vanity_url_code": None,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "rules_channel_id": None,
        "safety_alerts_channel_id": None,
        "public_updates_channel_id": None,
        "premium_progress_bar_enabled": False,
        "nsfw": False,
        "nsfw_level": 0,
        "emojis": [],
        "stickers": [],
        "incidents_data": None,
    }
    if with_counts:
        payload["approximate_member_count"] = len(model.member_ids) + 1
        payload["approximate_presence_count"] = len(model.member_ids) // 3
    return payload


def _role(model: Guild, role_id: int, position: int) -> dict[str, Any]:
    return {
        "id": str(role_id),
        "name": "@everyone"
        if role_id == model.id
        else "discord-sync"
        if role_id == model.bot_role_id
        else f"role-{position}",
        "permissions": str(model.role_permissions[role_id]),
        "position": position,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "managed": False,
        "mentionable": True,
        "icon": None,
        "unicode_emoji": None,
        "flags": 0,
    }


def channel(model: Guild, record: Channel) -> dict[str, Any]:
    """A GuildChannelResponse, or a ThreadResponse for threads."""
    last = record.last_message_id() if record.bears_messages else model.newest_post_id(record)
    payload: dict[str, Any] = {
        "id": str(record.id),
        "type": record.type,
        "flags": 0,
        "guild_id": str(model.id),
        "name": record.name,
        "parent_id": str(record.parent_id) if record.parent_id else None,
        "last_message_id": str(last) if last else None,
        "rate_limit_per_user": 0,
    }
    if record.is_thread:
        count, sent = record.count(), record.total_sent()
        if record.created_ms < THREAD_COUNTERS_SINCE_MS:
            count, sent = min(count, OLD_THREAD_COUNTER_CAP), min(sent, OLD_THREAD_COUNTER_CAP)
        payload.update(
            owner_id=str(record.owner_id or model.member_ids[0]),
            message_count=count,
            total_message_sent=sent,
            member_count=min(50, 1 + count // 3),
            applied_tags=[str(tag) for tag in record.applied_tags],
            thread_metadata={
                "archived": record.archived,
                "archive_timestamp": iso_timestamp(record.archive_ms or record.created_ms),
                "auto_archive_duration": 10080,
                "locked": record.locked,
                "create_timestamp": iso_timestamp(record.created_ms),
                **({"invitable": True} if record.type == ChannelType.PRIVATE_THREAD else {}),
            },
        )
        return payload
    payload.update(position=record.position, permission_overwrites=_overwrites(model, record), nsfw=False)
    if record.type in THREAD_PARENT_TYPES:
        payload["topic"] = record.topic
        payload["default_auto_archive_duration"] = 10080
    if record.type in VOICE_TYPES:
        payload.update(bitrate=64000, user_limit=0, rtc_region=None)
    if record.type in FORUM_TYPES:
        payload.update(
            available_tags=[
                {
                    "id": str(t.id),
                    "name": t.name,
                    "moderated": t.moderated,
                    "emoji_id": None,
                    "emoji_name": t.emoji_name,
                }
                for t in record.available_tags
            ],
            default_reaction_emoji=None,
            default_sort_order=None,
            default_forum_layout=0,
            default_thread_rate_limit_per_user=0,
        )
    return payload


def _overwrites(model: Guild, record: Channel) -> list[dict[str, Any]]:
    return [
        {"id": str(o["id"]), "type": o["type"], "allow": str(o["allow"]), "deny": str(o["deny"])}
        for o in record.overwrites
    ]


def member(
    model: Guild, user_id: int, joined_ms: int, role_ids: tuple[int, ...], pending: bool, premium_since_ms: int | None
) -> dict[str, Any]:
    """A GuildMemberResponse of `GET /guilds/{guild_id}/members`: the user with their names, as Discord sends it."""
    person = BOT_USER if user_id == BOT_USER_ID else model.users[user_id]
    return {
        "avatar": None,
        "banner": None,
        "communication_disabled_until": None,
        "flags": 0,
        "joined_at": iso_timestamp(joined_ms),
        "nick": f"nick {person.username}" if user_id % 3 == 0 else None,
        "pending": pending,
        "premium_since": iso_timestamp(premium_since_ms) if premium_since_ms is not None else None,
        "roles": [str(r) for r in role_ids],
        "user": _cached_user(person),
        "mute": False,
        "deaf": False,
    }


def reactor(model: Guild, user_id: int) -> dict[str, Any]:
    """A UserResponse of `GET .../reactions/{emoji}`."""
    return _cached_user(model.users[user_id])


def bot_member(model: Guild) -> dict[str, Any]:
    """The GuildMemberResponse of `GET /guilds/{guild_id}/members/{bot_id}`."""
    return {
        "avatar": None,
        "banner": None,
        "communication_disabled_until": None,
        "flags": 0,
        "joined_at": iso_timestamp(model.created_ms + 86_400_000),
        "nick": None,
        "pending": False,
        "premium_since": None,
        "roles": [str(r) for r in model.bot_role_ids],
        "user": user(BOT_USER),
        "mute": False,
        "deaf": False,
    }


def message(
    model: Guild,
    record: MessageRecord,
    with_reference: bool = True,
    known: Mapping[int, MessageRecord] | None = None,
) -> dict[str, Any]:
    """A MessageResponse; replies carry `referenced_message` (null once the original is gone).

    `known` maps ids to the current records of messages already at hand (the rest of a page), so a reply to one
    of them does not generate it again."""
    users = model.users
    author = users.get(record.author_id)
    author_payload = (
        _cached_user(author)
        if author is not None
        else user(User(id=record.author_id, username="unknown", global_name=None))
    )
    channel_id = str(record.channel_id)
    issued = signing_time(model) if record.attachments else 0
    payload: dict[str, Any] = {
        "type": record.type,
        "content": record.content,
        "mentions": [_cached_user(users[i]) for i in record.mention_ids if i in users] if record.mention_ids else [],
        "mention_roles": [str(i) for i in record.mention_role_ids] if record.mention_role_ids else [],
        "attachments": [_attachment(channel_id, a, issued) for a in record.attachments] if record.attachments else [],
        "embeds": [_embed(e) for e in record.embeds] if record.embeds else [],
        "timestamp": iso_timestamp(record.timestamp_ms),
        "edited_timestamp": iso_timestamp(record.edited_ms) if record.edited_ms else None,
        "flags": record.flags,
        "components": [],
        "id": str(record.id),
        "channel_id": channel_id,
        "author": author_payload,
        "pinned": record.pinned,
        "mention_everyone": False,
        "tts": False,
    }
    if record.reactions:
        payload["reactions"] = [_reaction(r) for r in record.reactions]
    if record.sticker_items:
        payload["sticker_items"] = [_sticker(s) for s in record.sticker_items]
    if record.poll is not None:
        payload["poll"] = _poll(record.poll)
    if record.forward is not None:
        payload["flags"] = record.flags | HAS_SNAPSHOT_FLAG
        payload["message_reference"] = {
            "type": FORWARD_REFERENCE,
            "channel_id": str(record.forward.channel_id),
            "message_id": str(record.forward.message_id),
            "guild_id": str(record.forward.guild_id),
        }
        payload["message_snapshots"] = [{"message": _snapshot(model, record.forward)}]
    if record.webhook_id:
        payload["webhook_id"] = str(record.webhook_id)
    if record.reply_to:
        payload["message_reference"] = {
            "type": 0,
            "channel_id": channel_id,
            "message_id": str(record.reply_to),
            "guild_id": str(model.id),
        }
        if with_reference and record.type == 19:
            referenced = known.get(record.reply_to) if known is not None else None
            if referenced is None:
                referenced = model.message(model.channels[record.channel_id], record.reply_to)
            payload["referenced_message"] = message(model, referenced, with_reference=False) if referenced else None
    return payload


def messages(model: Guild, records: list[MessageRecord]) -> list[dict[str, Any]]:
    """MessageResponses for records of one channel (a page), each original a reply points at generated once."""
    known = {r.id: r for r in records}
    return [message(model, r, known=known) for r in records]


def _reaction(reaction: Reaction) -> dict[str, Any]:
    emoji: dict[str, Any] = {"id": str(reaction.emoji_id) if reaction.emoji_id else None, "name": reaction.emoji_name}
    if reaction.emoji_id:
        emoji["animated"] = reaction.animated
    return {
        "emoji": emoji,
        "count": reaction.count,
        "count_details": {"burst": reaction.burst, "normal": reaction.count - reaction.burst},
        "burst_colors": BURST_COLORS if reaction.burst else [],
        "me_burst": False,
        "me": False,
    }


def signing_time(model: Guild) -> int:
    """Unix seconds at which the attachment URLs served now were issued (moved by the guild's URL clock)."""
    now = int(time.time()) + model.url_clock_offset_s
    return now - now % URL_SIGNING_PERIOD_S


def signed_query(path: str, issued: int) -> str:
    """The `?ex=&is=&hm=&` of a CDN URL issued at `issued`, valid for `URL_LIFETIME_S`."""
    expires = issued + URL_LIFETIME_S
    signature = blake2b(f"{path}:{issued}:{expires}".encode(), digest_size=32).hexdigest()
    return f"?ex={expires:x}&is={issued:x}&hm={signature}&"


def _attachment(channel_id: str, attachment: Attachment, issued: int) -> dict[str, Any]:
    path = f"attachments/{channel_id}/{attachment.id}/{attachment.filename}"
    query = signed_query(path, issued)
    payload: dict[str, Any] = {
        "id": str(attachment.id),
        "filename": attachment.filename,
        "size": attachment.size,
        "url": f"{CDN}/{path}{query}",
        "proxy_url": f"{MEDIA}/{path}{query}",
        "content_type": attachment.content_type,
    }
    if attachment.width is not None:
        payload.update(width=attachment.width, height=attachment.height)
    return payload


def _embed(embed: Embed) -> dict[str, Any]:
    payload: dict[str, Any] = {"type": embed.type}
    for name in ("url", "title", "description"):
        value = getattr(embed, name)
        if value is not None:
            payload[name] = value
    if embed.fields:
        payload["fields"] = [{"name": name, "value": value, "inline": inline} for name, value, inline in embed.fields]
    if embed.footer is not None:
        payload["footer"] = {"text": embed.footer}
    if embed.author is not None:
        payload["author"] = {"name": embed.author}
    return payload


def _sticker(sticker: Sticker) -> dict[str, Any]:
    return {"id": str(sticker.id), "name": sticker.name, "format_type": sticker.format_type}


def _poll(poll: Poll) -> dict[str, Any]:
    """A PollResponse; Discord lists only answers that have votes in `answer_counts`."""
    return {
        "question": {"text": poll.question},
        "answers": [{"answer_id": n + 1, "poll_media": {"text": text}} for n, text in enumerate(poll.answers)],
        "expiry": iso_timestamp(poll.expiry_ms),
        "allow_multiselect": poll.allow_multiselect,
        "layout_type": 1,
        "results": {
            "is_finalized": poll.finalized,
            "answer_counts": [
                {"id": n + 1, "count": votes, "me_voted": False} for n, votes in enumerate(poll.votes) if votes
            ],
        },
    }


def _snapshot(model: Guild, forward: Forward) -> dict[str, Any]:
    """A MinimalContentMessageResponse: what a forward shows of the original, frozen when it was forwarded."""
    issued = signing_time(model) if forward.attachments else 0
    return {
        "type": forward.type,
        "content": forward.content,
        "mentions": [],
        "mention_roles": [],
        "attachments": [_attachment(str(forward.channel_id), a, issued) for a in forward.attachments],
        "embeds": [_embed(e) for e in forward.embeds],
        "timestamp": iso_timestamp(forward.timestamp_ms),
        "edited_timestamp": iso_timestamp(forward.edited_ms) if forward.edited_ms else None,
        "flags": 0,
        "components": [],
    }
