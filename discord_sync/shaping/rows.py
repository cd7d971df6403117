"""Pure shaping: Discord payloads (raw JSON dicts) into rows of the product's tables.

No I/O here. Every user id is replaced by its keyed hash on the way through; text is cleaned of what PostgreSQL
`text` cannot hold (NUL bytes, lone surrogates). A message that cannot be shaped becomes an `ItemError` with its
id instead of failing the batch.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

from discord_sync.shaping import message_kinds
from discord_sync.shaping.anonymize import Anonymizer
from discord_sync.shaping.channel_types import THREAD_TYPES

DISCORD_EPOCH_MS = 1420070400000
Row = TypeVar("Row", bound=tuple)


class MessageRow(NamedTuple):
    """A row of `messages` (docs/schema.md), in the table's column order as the writer copies it."""

    tenant_id: str
    id: int
    channel_id: int
    author_hash: str | None
    author_is_bot: bool
    is_webhook: bool
    type: int
    content: str
    created_at: datetime
    edited_at: datetime | None
    reply_to_id: int | None
    reply_to_channel_id: int | None
    thread_id: int | None
    pinned: bool
    mention_everyone: bool
    mentioned_user_hashes: list[str]
    mentioned_role_ids: list[int | None]
    flags: int
    deleted_at: datetime | None
    embeds: list[dict] | None
    sticker_items: list[dict] | None
    poll: dict | None
    forwarded: dict | None


class ReactionRow(NamedTuple):
    """A row of `message_emoji_reactions`: one emoji's counts on one message."""

    tenant_id: str
    message_id: int
    emoji_key: str
    emoji_id: int | None
    emoji_name: str | None
    emoji_animated: bool
    count: int  # type: ignore[assignment]  # the column's name; shadows tuple.count, which nothing here calls
    normal_count: int
    burst_count: int


class AttachmentRow(NamedTuple):
    """A row of `message_attachments`: one file's metadata."""

    tenant_id: str
    id: int | None
    message_id: int
    filename: str
    url: str
    proxy_url: str | None
    size: int
    content_type: str | None
    width: int | None
    height: int | None
    description: str | None
    url_expires_at: datetime | None


MESSAGE_COLUMNS = MessageRow._fields
REACTION_COLUMNS = ReactionRow._fields
ATTACHMENT_COLUMNS = AttachmentRow._fields
CHANNEL_COLUMNS = (
    "tenant_id",
    "id",
    "parent_id",
    "name",
    "type",
    "is_thread",
    "position",
    "topic",
    "nsfw",
    "owner_hash",
    "archived",
    "locked",
    "archived_at",
    "available_tags",
    "applied_tag_ids",
    "message_count",
    "total_message_sent",
    "last_message_id",
    "created_at",
    "last_seen_at",
    "deleted_at",
    "unreadable_reason",
)


@dataclass(frozen=True)
class ItemError:
    """A payload item that could not be stored, kept with its id so an operator can find it: it is
    reported in the run's metadata and in `sync_progress.last_error`, and the batch is stored without it."""

    item_id: int | None
    error: str


@dataclass
class MessageRows:
    """The rows one page or batch of messages becomes."""

    messages: list[MessageRow] = field(default_factory=list)
    reactions: list[ReactionRow] = field(default_factory=list)
    attachments: list[AttachmentRow] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)
    # Messages that replies say are deleted: a reply whose `referenced_message` is null answers a deleted message.
    deleted_referenced_ids: list[int] = field(default_factory=list)

    def extend(self, other: MessageRows) -> None:
        self.messages.extend(other.messages)
        self.reactions.extend(other.reactions)
        self.attachments.extend(other.attachments)
        self.errors.extend(other.errors)
        self.deleted_referenced_ids.extend(other.deleted_referenced_ids)


def snowflake_time(snowflake: int) -> datetime:
    """When a snowflake was minted: its top 42 bits are milliseconds since Discord's epoch."""
    return datetime.fromtimestamp(((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000, tz=UTC)


def snowflake_at(moment_ms: int) -> int:
    """The smallest snowflake minted at a Unix time in milliseconds (where a time range starts, in ids)."""
    return max(0, moment_ms - DISCORD_EPOCH_MS) << 22


def clean_text(value: Any) -> str:
    """Text PostgreSQL can store: NUL bytes removed, lone surrogates replaced by U+FFFD."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)
    return text


def optional_text(value: Any) -> str | None:
    return None if value is None else clean_text(value)


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 timestamp as Discord sends it, or None."""
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def snowflake(value: Any) -> int | None:
    """A snowflake field (sent as a string) as an int, or None; anything else is malformed."""
    if value is None:
        return None
    result = int(value)
    if not 0 <= result < 2**63:
        raise ValueError(f"snowflake out of range: {value!r}")
    return result


def required_snowflake(value: Any) -> int:
    """A snowflake field that must be present (an item's own id)."""
    result = snowflake(value)
    if result is None:
        raise ValueError("id is missing")
    return result


def column_int(value: Any, bits: int) -> int:
    """An integer that fits a PostgreSQL column of `bits` bits (smallint 16, integer 32, bigint 64).

    Out of range is malformed here, as one item, rather than a failed `COPY` of the whole batch.
    """
    result = int(value)
    if not -(2 ** (bits - 1)) <= result < 2 ** (bits - 1):
        raise ValueError(f"number out of range: {value!r}")
    return result


def optional_int(value: Any, bits: int) -> int | None:
    return None if value is None else column_int(value, bits)


def _emoji_key(emoji: dict) -> str:
    return str(emoji["id"]) if emoji.get("id") else str(emoji.get("name") or "")


def stored(row_type: type[Row], anonymizer: Anonymizer, *values: Any) -> Row:
    """A row as it may leave shaping: every value that can hold text passes `Anonymizer.scrub`, so no text or JSON
    column, today's or one added later, can carry a raw user id past this point."""
    row = list(values)
    scrub = anonymizer.scrub
    for index in _text_fields(row_type):
        row[index] = scrub(row[index])
    return row_type(*row)


@functools.cache
def _text_fields(row_type: type) -> tuple[int, ...]:
    """The positions of a row type's fields that can hold text: every field but those typed only as numbers,
    booleans, times or None (a field added later, of any other type, is scrubbed without a change here)."""
    plain = {int, bool, float, datetime, type(None)}
    hints = typing.get_type_hints(row_type)
    return tuple(
        index
        for index, name in enumerate(row_type._fields)  # type: ignore[attr-defined]
        if not set(typing.get_args(hints[name]) or (hints[name],)) <= plain
    )


def message_row(tenant_id: str, channel_id: int, payload: dict, anonymizer: Anonymizer) -> MessageRow:
    """The `messages` row of a message payload: authors and mentions as hashes, its kinds as JSON."""
    message_id = required_snowflake(payload["id"])
    author = payload.get("author") or {}
    reference = payload.get("message_reference") or {}
    thread = payload.get("thread") or {}
    is_reply = _is_reply(payload)
    return stored(
        MessageRow,
        anonymizer,
        tenant_id,
        message_id,
        channel_id,
        anonymizer.user_hash(author["id"]) if author.get("id") else None,
        bool(author.get("bot", False)),
        payload.get("webhook_id") is not None,
        column_int(payload.get("type") or 0, 16),
        clean_text(payload.get("content")),
        parse_time(payload.get("timestamp")) or snowflake_time(message_id),
        parse_time(payload.get("edited_timestamp")),
        snowflake(reference.get("message_id")) if is_reply else None,
        snowflake(reference.get("channel_id")) if is_reply and reference.get("channel_id") else None,
        snowflake(thread.get("id")) if thread else None,
        bool(payload.get("pinned", False)),
        bool(payload.get("mention_everyone", False)),
        [anonymizer.user_hash(user["id"]) for user in payload.get("mentions") or () if user.get("id")],
        [snowflake(role) for role in payload.get("mention_roles") or ()],
        column_int(payload.get("flags") or 0, 32),
        None,  # deleted_at: a message Discord returns exists
        message_kinds.embeds(payload.get("embeds")),
        message_kinds.sticker_items(payload.get("sticker_items")),
        message_kinds.poll(payload.get("poll")),
        message_kinds.forwarded(payload, anonymizer),
    )


def reaction_rows(tenant_id: str, message_id: int, payload: dict, anonymizer: Anonymizer) -> list[ReactionRow]:
    """The `message_emoji_reactions` rows of a message payload, one per emoji."""
    rows = []
    for reaction in payload.get("reactions") or ():
        emoji = reaction.get("emoji") or {}
        details = reaction.get("count_details") or {}
        rows.append(
            stored(
                ReactionRow,
                anonymizer,
                tenant_id,
                message_id,
                _emoji_key(emoji),
                snowflake(emoji.get("id")),
                optional_text(emoji.get("name")),
                bool(emoji.get("animated", False)),
                column_int(reaction.get("count") or 0, 32),
                column_int(details.get("normal", reaction.get("count") or 0), 32),
                column_int(details.get("burst", 0), 32),
            )
        )
    return rows


def attachment_rows(tenant_id: str, message_id: int, payload: dict, anonymizer: Anonymizer) -> list[AttachmentRow]:
    """The `message_attachments` rows of a message payload, one per file."""
    return [
        stored(
            AttachmentRow,
            anonymizer,
            tenant_id,
            snowflake(attachment["id"]),
            message_id,
            clean_text(attachment.get("filename")),
            clean_text(attachment.get("url")),
            optional_text(attachment.get("proxy_url")),
            column_int(attachment.get("size") or 0, 64),
            optional_text(attachment.get("content_type")),
            optional_int(attachment.get("width"), 32),
            optional_int(attachment.get("height"), 32),
            optional_text(attachment.get("description")),
            message_kinds.url_expires_at(attachment.get("url")),
        )
        for attachment in payload.get("attachments") or ()
    ]


def deleted_reference(channel_id: int, payload: dict) -> int | None:
    """The id of the message a reply says is deleted, or None.

    Discord sends `referenced_message: null` (the key present) when the answered message was deleted. Only within
    the channel: the bot may be unable to see an answered message elsewhere.
    """
    reference = payload.get("message_reference") or {}
    same_channel = reference.get("channel_id") in (None, str(channel_id))
    if (
        _is_reply(payload)
        and same_channel
        and "referenced_message" in payload
        and payload["referenced_message"] is None
    ):
        return snowflake(reference["message_id"])
    return None


def _is_reply(payload: dict) -> bool:
    # Only a reply (type 19) points at the message it answers; pins, forwards and thread starters also carry a
    # message_reference, to other ends.
    return payload.get("type") == 19 and bool((payload.get("message_reference") or {}).get("message_id"))


def _message_rows(tenant_id: str, channel_id: int, payload: dict, anonymizer: Anonymizer, rows: MessageRows) -> None:
    # Every part is shaped before any is added, so a malformed message adds nothing.
    message = message_row(tenant_id, channel_id, payload, anonymizer)
    reactions = reaction_rows(tenant_id, message.id, payload, anonymizer)
    attachments = attachment_rows(tenant_id, message.id, payload, anonymizer)
    deleted = deleted_reference(channel_id, payload)
    rows.messages.append(message)
    if deleted is not None:
        rows.deleted_referenced_ids.append(deleted)
    rows.reactions.extend(reactions)
    rows.attachments.extend(attachments)


def shape_messages(tenant_id: str, channel_id: int, payloads: Iterable[dict], anonymizer: Anonymizer) -> MessageRows:
    """Rows for a page of message payloads; malformed messages are reported, not raised."""
    rows = MessageRows()
    for payload in payloads:
        try:
            _message_rows(tenant_id, channel_id, payload, anonymizer, rows)
        except Exception as error:  # noqa: BLE001 - one bad payload must never sink the batch
            item_id = payload.get("id") if isinstance(payload, dict) else None
            try:
                item_id = int(item_id) if item_id is not None else None
            except (TypeError, ValueError):
                item_id = None
            # The error text quotes payload values, and is stored (`sync_progress.last_error`): it is scrubbed too.
            text = anonymizer.scrub_text(f"malformed message: {type(error).__name__}: {error}")
            rows.errors.append(ItemError(item_id, text[:500]))
    return rows


def channel_row(tenant_id: str, payload: dict, anonymizer: Anonymizer, seen_at: datetime) -> dict:
    """One row of the channel catalog for a channel, thread, forum post or media post payload."""
    channel_id = required_snowflake(payload["id"])
    channel_type = int(payload["type"])
    metadata = payload.get("thread_metadata") or {}
    tags = payload.get("available_tags")
    row = {
        "tenant_id": tenant_id,
        "id": channel_id,
        "parent_id": snowflake(payload.get("parent_id")),
        "name": clean_text(payload.get("name")),
        "type": channel_type,
        "is_thread": channel_type in THREAD_TYPES,
        "position": payload.get("position"),
        "topic": optional_text(payload.get("topic")),
        "nsfw": bool(payload.get("nsfw", False)),
        "owner_hash": anonymizer.user_hash(payload["owner_id"]) if payload.get("owner_id") else None,
        "archived": metadata.get("archived") if metadata else None,
        "locked": metadata.get("locked") if metadata else None,
        "archived_at": parse_time(metadata.get("archive_timestamp")) if metadata.get("archived") else None,
        "available_tags": tags if tags else None,
        "applied_tag_ids": [snowflake(t) for t in payload["applied_tags"]] if payload.get("applied_tags") else None,
        "message_count": payload.get("message_count"),
        "total_message_sent": payload.get("total_message_sent"),
        "last_message_id": snowflake(payload.get("last_message_id")),
        "created_at": snowflake_time(channel_id),
        "last_seen_at": seen_at,
        "deleted_at": None,
        # Set by the catalog from discovery's permission check.
        "unreadable_reason": None,
    }
    # Names, topics and tag names are free text too: they pass the same gate as every message column.
    return {column: anonymizer.scrub(value) for column, value in row.items()}
