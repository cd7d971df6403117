"""What generated message `i` of a channel says: its shape, author, reactions and attachments.

Each message draws from its own `random.Random` seeded by (guild seed, channel, index), so any message can be
produced on demand, in any order, identically every time.
"""

from __future__ import annotations

import itertools
import random
from typing import Protocol

from .channel import Channel
from .records import Attachment, MessageRecord, Reaction

SHAPES = (
    "plain",
    "reply",
    "reply_to_deleted",
    "unicode_reactions",
    "custom_reactions",
    "burst_reactions",
    "attachments",
    "edited",
    "pin_system",
    "join_system",
    "webhook",
    "user_mentions",
    "role_mentions",
    "long",
    "empty",
    "non_bmp",
)
_MIXED_CUM_WEIGHTS = tuple(itertools.accumulate((40, 8, 2, 6, 3, 2, 8, 5, 1, 1, 3, 5, 2, 1, 1, 3)))
UNICODE_EMOJI = ("👍", "👨‍👩‍👧", "🇫🇷", "❤️", "😂", "🎉", "🏳️‍🌈", "👩🏽‍💻")
NON_BMP_TEXT = ("𝔘𝔫𝔦𝔠𝔬𝔡𝔢 text", "emoji 😀🎉🦄 everywhere", "math 𝒳 ∈ 𝔸", "mixed 日本語 and 🇯🇵", "𝕯𝖎𝖘𝖈𝖔𝖗𝖉 🚀")
WORDS = (
    "the sync keeps every message safe in postgres while the bot reads channel history page by page "
    "hello world release notes deploy tonight anyone seen the logs thanks great idea café naïve résumé "
    "über straße привет мир مرحبا שלום こんにちは 你好 안녕하세요"
).split()
BURST_COLORS = ("#ff6f61", "#6b5b95", "#88b04b", "#f7cac9")
IMAGE_TYPES = (("png", "image/png"), ("jpg", "image/jpeg"), ("gif", "image/gif"), ("webp", "image/webp"))
FILE_TYPES = (("txt", "text/plain; charset=utf-8"), ("pdf", "application/pdf"), ("zip", "application/zip"))


class Palette(Protocol):
    """What the generator needs from its guild: who can speak and what can be mentioned."""

    seed: int
    member_ids: list[int]
    role_ids: list[int]
    webhook_ids: list[int]
    custom_emoji: list[tuple[int, str, bool]]


def shape_of(channel: Channel, index: int, rng: random.Random) -> str:
    """The shape of base message `index`: cycling through all shapes, or drawn with realistic weights."""
    if channel.shape_mode == "cycle":
        return SHAPES[index % len(SHAPES)]
    if channel.shape_mode == "plain":
        return "plain"
    return rng.choices(SHAPES, cum_weights=_MIXED_CUM_WEIGHTS)[0]


def generate_message(palette: Palette, channel: Channel, index: int) -> MessageRecord:
    """Base message `index` of `channel`, identical on every call."""
    # An integer seed is several times cheaper than a string one, and serving pages is the hot path.
    rng = random.Random((palette.seed * 1_000_003 + channel.ordinal) * 4_294_967_311 + index)
    message_id = channel.base_id(index)
    timestamp_ms = channel.base_start_ms + index * channel.base_step_ms
    shape = shape_of(channel, index, rng)
    if index == 0 and shape in ("reply", "pin_system"):
        shape = "plain"
    record = MessageRecord(
        id=message_id,
        channel_id=channel.id,
        author_id=rng.choice(palette.member_ids),
        timestamp_ms=timestamp_ms,
        content=_sentence(rng),
    )
    _apply_shape(record, shape, palette, channel, index, rng)
    if shape == "plain" and rng.random() < 0.15:
        record.reactions = _unicode_reactions(rng)
    return record


def _apply_shape(
    record: MessageRecord, shape: str, palette: Palette, channel: Channel, index: int, rng: random.Random
) -> None:
    if shape == "reply":
        record.type = 19
        record.reply_to = channel.base_id(index - rng.randint(1, min(index, 20)))
    elif shape == "reply_to_deleted":
        record.type = 19
        # An id between two real messages: a reply to a message deleted long before the sync.
        record.reply_to = channel.base_id(max(index - 1, 0)) + 1
    elif shape == "unicode_reactions":
        record.reactions = _unicode_reactions(rng)
    elif shape == "custom_reactions":
        picks = rng.sample(palette.custom_emoji, k=min(2, len(palette.custom_emoji)))
        record.reactions = tuple(
            Reaction(emoji_name=name, emoji_id=emoji_id, animated=animated, count=rng.randint(1, 9))
            for emoji_id, name, animated in picks
        ) + (Reaction(emoji_name="👨‍👩‍👧", count=1),)
    elif shape == "burst_reactions":
        normal, burst = rng.randint(0, 5), rng.randint(1, 4)
        record.reactions = (Reaction(emoji_name="🔥", count=normal + burst, burst=burst),)
    elif shape == "attachments":
        count = (index // len(SHAPES)) % 11 if channel.shape_mode == "cycle" else rng.randint(1, 10)
        record.attachments = tuple(_attachment(record.id, n, rng) for n in range(count))
    elif shape == "edited":
        record.edited_ms = record.timestamp_ms + rng.randint(1_000, 3_600_000)
        record.content += " (edited)"
    elif shape == "pin_system":
        record.type = 6
        record.content = ""
        record.reply_to = channel.base_id(index - 1)
    elif shape == "join_system":
        record.type = 7
        record.content = ""
    elif shape == "webhook":
        record.webhook_id = rng.choice(palette.webhook_ids)
        record.author_id = record.webhook_id
    elif shape == "user_mentions":
        first, second = rng.sample(palette.member_ids, k=2)
        record.content = f"hey <@{first}> and <@!{second}>, {record.content}"
        record.mention_ids = (first, second)
    elif shape == "role_mentions":
        role = rng.choice(palette.role_ids)
        record.content = f"ping <@&{role}> {record.content}"
        record.mention_role_ids = (role,)
    elif shape == "long":
        record.content = _long_text(rng, 4000)
    elif shape == "empty":
        record.content = ""
        if index % 2 == 0:
            record.attachments = (_attachment(record.id, 0, rng),)
    elif shape == "non_bmp":
        record.content = rng.choice(NON_BMP_TEXT)


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(3, 20)))


def _long_text(rng: random.Random, length: int) -> str:
    text = " ".join(rng.choices(WORDS, k=length // 3))
    while len(text) < length:
        text += " " + " ".join(rng.choices(WORDS, k=length // 3))
    return text[:length]


def _unicode_reactions(rng: random.Random) -> tuple[Reaction, ...]:
    names = rng.sample(UNICODE_EMOJI, k=rng.randint(1, 4))
    return tuple(Reaction(emoji_name=name, count=rng.randint(1, 30)) for name in names)


def _attachment(message_id: int, number: int, rng: random.Random) -> Attachment:
    if rng.random() < 0.6:
        extension, content_type = rng.choice(IMAGE_TYPES)
        return Attachment(
            id=message_id + number + 1,
            filename=f"image_{number}.{extension}",
            size=rng.randint(1_000, 8_000_000),
            content_type=content_type,
            width=rng.randint(16, 4096),
            height=rng.randint(16, 4096),
        )
    extension, content_type = rng.choice(FILE_TYPES)
    return Attachment(
        id=message_id + number + 1,
        filename=f"file_{number}.{extension}",
        size=rng.randint(10, 25_000_000),
        content_type=content_type,
    )
