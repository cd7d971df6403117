"""Pure shaping of what a message carries beside its text: embeds, stickers, polls, forwards, signed URLs.

Each becomes a small JSON value for a `jsonb` column of `messages` (documented in docs/schema.md), in the words
analysts use, with snowflakes kept as strings as Discord sends them (a JSON number loses digits above 2^53).
User ids never pass through: a forwarded message's mentions become keyed hashes like everywhere else.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from discord_sync.shaping.anonymize import Anonymizer

# message_reference.type: 0 is a reply (or a pin notice, a thread starter), 1 a forward (Discord's FORWARD).
FORWARD_REFERENCE = 1
EMBED_FIELDS = ("type", "url", "title", "description")


def _text(value: Any) -> str | None:
    """Text `jsonb` can hold: NUL removed, lone surrogates replaced by U+FFFD (as `rows.clean_text` does)."""
    if value is None:
        return None
    text = (value if isinstance(value, str) else str(value)).replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)
    return text


def url_expires_at(url: Any) -> datetime | None:
    """When a signed Discord CDN URL stops working: its `ex` parameter, hex Unix seconds; None if unsigned."""
    if not url:
        return None
    try:
        raw = parse_qs(urlsplit(str(url)).query).get("ex")
        return datetime.fromtimestamp(int(raw[0], 16), tz=UTC) if raw else None
    except (ValueError, OverflowError, OSError):
        # A URL that cannot be read loses only its expiry, never the attachment or its message.
        return None


def embeds(payloads: Any) -> list[dict] | None:
    """Each embed's type, url, title and description, and when it has them its fields (name, value), footer text
    and author name: the texts a bot's card carries (null when the message has no embed)."""
    if not payloads:
        return None
    return [_embed(embed) for embed in payloads]


def _embed(embed: dict) -> dict:
    shaped: dict[str, Any] = {name: _text(embed.get(name)) for name in EMBED_FIELDS}
    # Only present when the embed has them, so a link preview keeps its four keys.
    if embed.get("fields"):
        shaped["fields"] = [{"name": _text(f.get("name")), "value": _text(f.get("value"))} for f in embed["fields"]]
    if (embed.get("footer") or {}).get("text") is not None:
        shaped["footer"] = _text(embed["footer"]["text"])
    if (embed.get("author") or {}).get("name") is not None:
        shaped["author"] = _text(embed["author"]["name"])
    return shaped


def sticker_items(payloads: Any) -> list[dict] | None:
    """Each sticker's id, name and format type (1 PNG, 2 APNG, 3 Lottie, 4 GIF); null without stickers."""
    if not payloads:
        return None
    return [
        {"id": str(item["id"]), "name": _text(item.get("name")), "format_type": item.get("format_type")}
        for item in payloads
    ]


def poll(payload: Any) -> dict | None:
    """A poll's question and answers, each with its vote count as of the message's last read; null if no poll.

    Discord counts votes approximately until the poll ends (`finalized` false), exactly after.
    """
    if not payload:
        return None
    results = payload.get("results") or {}
    votes = {entry["id"]: entry.get("count", 0) for entry in results.get("answer_counts") or ()}
    answers = []
    for answer in payload.get("answers") or ():
        media = answer.get("poll_media") or {}
        emoji = media.get("emoji") or {}
        answers.append(
            {
                "answer_id": answer["answer_id"],
                "text": _text(media.get("text")),
                "emoji": _text(emoji.get("id") or emoji.get("name")) if emoji else None,
                "votes": int(votes.get(answer["answer_id"], 0)),
            }
        )
    return {
        "question": _text((payload.get("question") or {}).get("text")),
        "answers": answers,
        "expires_at": payload.get("expiry"),
        "allow_multiselect": bool(payload.get("allow_multiselect", False)),
        "finalized": bool(results.get("is_finalized", False)),
    }


def _snapshot(snapshot: dict, anonymizer: Anonymizer) -> dict:
    message = snapshot.get("message") or {}
    return {
        "type": message.get("type", 0),
        "content": anonymizer.scrub_text(_text(message.get("content")) or ""),
        "created_at": message.get("timestamp"),
        "edited_at": message.get("edited_timestamp"),
        "mentioned_user_hashes": [anonymizer.user_hash(u["id"]) for u in message.get("mentions") or () if u.get("id")],
        "attachments": [
            {
                "id": str(a["id"]),
                "filename": _text(a.get("filename")),
                "url": _text(a.get("url")),
                "size": a.get("size"),
                "content_type": _text(a.get("content_type")),
            }
            for a in message.get("attachments") or ()
        ],
        "embeds": embeds(message.get("embeds")),
        "sticker_items": sticker_items(message.get("sticker_items")),
    }


def forwarded(payload: dict, anonymizer: Anonymizer) -> dict | None:
    """What a forwarded message forwards: where it came from and the snapshot of its content and attachments."""
    reference = payload.get("message_reference") or {}
    snapshots = payload.get("message_snapshots")
    if reference.get("type") != FORWARD_REFERENCE and not snapshots:
        return None
    return {
        "message_id": reference.get("message_id"),
        "channel_id": reference.get("channel_id"),
        "guild_id": reference.get("guild_id"),
        "messages": [_snapshot(s, anonymizer) for s in snapshots or ()],
    }
