"""What generated message `i` of a channel says: its shape, author, reactions and attachments.

Each message's randomness is a BLAKE2b digest of (guild seed, channel, index), 64 bytes that every draw below
reads a byte or a few of (a SHAKE128 stream of the same key when a long text or attachments need more), so any
message can be produced on demand, in any order, identically every time and on every platform. Serving pages is
the emulator's hot path: one digest costs a fraction of seeding a `random.Random`, and a sentence's words are
looked up from its bytes without a draw per word.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Sequence
from hashlib import blake2b, shake_128
from operator import itemgetter
from typing import Protocol, TypeVar

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
MIXED_WEIGHTS = (40, 8, 2, 6, 3, 2, 8, 5, 1, 1, 3, 5, 2, 1, 1, 3)
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
PLAIN_REACTION_CHANCE = 38  # in 256: a plain message carries Unicode reactions about 15% of the time
IMAGE_CHANCE = 154  # in 256: about 60% of attachments are images

# One entry per unit of weight, so a draw modulo its length picks a shape with exactly the weights above.
_SHAPE_TABLE = tuple(
    itertools.chain.from_iterable(itertools.repeat(s, w) for s, w in zip(SHAPES, MIXED_WEIGHTS, strict=True))
)
# Each of the 42 words 6 or 7 times in 256 entries: a byte picks a word almost uniformly.
_WORD_TABLE = tuple(WORDS[i * len(WORDS) // 256] for i in range(256))
_FAMILY = Reaction(emoji_name="👨‍👩‍👧", count=1)
# Per attachment: image or file, its type, its size, its width and height.
_ATTACHMENT_DRAW = struct.Struct("<BBIHH")
_LONG_TEXT_BYTES = 800  # words of 5.75 characters on average, space included: about 4,600 characters

# Bytes of a message's digest: what each one decides.
_SHAPE, _AUTHOR, _LENGTH, _WORDS_START = 0, 2, 3, 4  # the shape takes bytes 0-1, the words bytes 4-23
_PLAIN_REACTIONS = 24
_SHAPE_BYTES = 25  # bytes 25-63 belong to the shape

T = TypeVar("T")


class Palette(Protocol):
    """What the generator needs from its guild: who can speak and what can be mentioned."""

    seed: int
    member_ids: list[int]
    role_ids: list[int]
    webhook_ids: list[int]
    custom_emoji: list[tuple[int, str, bool]]


def message_key(palette: Palette, channel: Channel, index: int) -> bytes:
    """What every draw of base message `index` derives from."""
    return f"{palette.seed}:{channel.ordinal}:{index}".encode()


def shape_of(channel: Channel, index: int, digest: bytes) -> str:
    """The shape of base message `index`: cycling through all shapes, or drawn with realistic weights."""
    if channel.shape_mode == "cycle":
        return SHAPES[index % len(SHAPES)]
    if channel.shape_mode == "plain":
        return "plain"
    return _SHAPE_TABLE[(digest[_SHAPE] << 8 | digest[_SHAPE + 1]) % len(_SHAPE_TABLE)]


def generate_message(palette: Palette, channel: Channel, index: int) -> MessageRecord:
    """Base message `index` of `channel`, identical on every call."""
    key = message_key(palette, channel, index)
    digest = blake2b(key, digest_size=64).digest()
    shape = shape_of(channel, index, digest)
    if index == 0 and shape in ("reply", "pin_system"):
        shape = "plain"
    members = palette.member_ids
    record = MessageRecord(
        id=channel.base_id(index),
        channel_id=channel.id,
        author_id=members[digest[_AUTHOR] % len(members)],
        timestamp_ms=channel.base_start_ms + index * channel.base_step_ms,
        content=_words(digest[_WORDS_START : _WORDS_START + 3 + digest[_LENGTH] % 18]),  # 3 to 20 words
    )
    if shape != "plain":
        _apply_shape(record, shape, palette, channel, index, key, digest[_SHAPE_BYTES:])
    elif digest[_PLAIN_REACTIONS] < PLAIN_REACTION_CHANCE:
        record.reactions = _unicode_reactions(digest[_SHAPE_BYTES:])
    return record


def _apply_shape(
    record: MessageRecord, shape: str, palette: Palette, channel: Channel, index: int, key: bytes, draw: bytes
) -> None:
    """Give `record` its `shape`; `draw` holds 39 bytes of its digest for the purpose, `key` makes more."""
    if shape in _CONTENT_SHAPES:
        _apply_content_shape(record, shape, palette, index, key, draw)
    elif shape == "reply":
        record.type = 19
        record.reply_to = channel.base_id(index - 1 - draw[0] % min(index, 20))
    elif shape == "reply_to_deleted":
        record.type = 19
        # An id between two real messages: a reply to a message deleted long before the sync.
        record.reply_to = channel.base_id(max(index - 1, 0)) + 1
    elif shape == "unicode_reactions":
        record.reactions = _unicode_reactions(draw)
    elif shape == "custom_reactions":
        picks = _distinct(palette.custom_emoji, min(2, len(palette.custom_emoji)), draw)
        record.reactions = tuple(
            Reaction(emoji_name=name, emoji_id=emoji_id, animated=animated, count=1 + draw[8 + n] % 9)
            for n, (emoji_id, name, animated) in enumerate(picks)
        ) + (_FAMILY,)
    elif shape == "burst_reactions":
        normal, burst = draw[0] % 6, 1 + draw[1] % 4
        record.reactions = (Reaction(emoji_name="🔥", count=normal + burst, burst=burst),)
    elif shape == "attachments":
        count = (index // len(SHAPES)) % 11 if channel.shape_mode == "cycle" else 1 + draw[0] % 10
        record.attachments = _attachments(record.id, count, key)
    elif shape == "edited":
        record.edited_ms = record.timestamp_ms + 1_000 + int.from_bytes(draw[0:4], "little") % 3_599_001
        record.content += " (edited)"
    elif shape == "pin_system":
        record.type = 6
        record.content = ""
        record.reply_to = channel.base_id(index - 1)
    elif shape == "join_system":
        record.type = 7
        record.content = ""
    elif shape == "webhook":
        record.webhook_id = palette.webhook_ids[draw[0] % len(palette.webhook_ids)]
        record.author_id = record.webhook_id


# The shapes that only change a message's text (and what its text mentions or carries).
_CONTENT_SHAPES = frozenset({"user_mentions", "role_mentions", "long", "empty", "non_bmp"})


def _apply_content_shape(
    record: MessageRecord, shape: str, palette: Palette, index: int, key: bytes, draw: bytes
) -> None:
    """Give `record` one of the `_CONTENT_SHAPES`, as `_apply_shape` would."""
    if shape == "user_mentions":
        first, second = _distinct(palette.member_ids, 2, draw)
        record.content = f"hey <@{first}> and <@!{second}>, {record.content}"
        record.mention_ids = (first, second)
    elif shape == "role_mentions":
        role = palette.role_ids[draw[0] % len(palette.role_ids)]
        record.content = f"ping <@&{role}> {record.content}"
        record.mention_role_ids = (role,)
    elif shape == "long":
        record.content = _long_text(key, 4000)
    elif shape == "empty":
        record.content = ""
        if index % 2 == 0:
            record.attachments = _attachments(record.id, 1, key)
    elif shape == "non_bmp":
        record.content = NON_BMP_TEXT[draw[0] % len(NON_BMP_TEXT)]


def _distinct(population: Sequence[T], k: int, draw: bytes) -> list[T]:
    """`k` (at most 8) distinct elements of `population` in random order, decided by `draw[0:k]`."""
    pool = list(population)
    for i in range(k):
        j = i + draw[i] % (len(pool) - i)
        pool[i], pool[j] = pool[j], pool[i]
    return pool[:k]


def _unicode_reactions(draw: bytes) -> tuple[Reaction, ...]:
    names = _distinct(UNICODE_EMOJI, 1 + draw[9] % 4, draw)
    return tuple(Reaction(emoji_name=name, count=1 + draw[10 + n] % 30) for n, name in enumerate(names))


def _words(draw: bytes) -> str:
    """One word per byte of `draw` (at least two bytes), separated by spaces."""
    # itemgetter looks every word up in C, with no Python call per word.
    return " ".join(itemgetter(*draw)(_WORD_TABLE))


def _long_text(key: bytes, length: int) -> str:
    size = _LONG_TEXT_BYTES
    while True:
        text = _words(shake_128(key + b":long").digest(size))
        if len(text) >= length:
            return text[:length]
        size *= 2


def _attachments(message_id: int, count: int, key: bytes) -> tuple[Attachment, ...]:
    if not count:
        return ()
    stream = shake_128(key + b":attachments").digest(_ATTACHMENT_DRAW.size * count)
    return tuple(_attachment(message_id, n, *draw) for n, draw in enumerate(_ATTACHMENT_DRAW.iter_unpack(stream)))


def _attachment(
    message_id: int, number: int, kind: int, flavour: int, size: int, width: int, height: int
) -> Attachment:
    if kind < IMAGE_CHANCE:
        extension, content_type = IMAGE_TYPES[flavour % len(IMAGE_TYPES)]
        return Attachment(
            id=message_id + number + 1,
            filename=f"image_{number}.{extension}",
            size=1_000 + size % 7_999_001,
            content_type=content_type,
            width=16 + width % 4081,
            height=16 + height % 4081,
        )
    extension, content_type = FILE_TYPES[flavour % len(FILE_TYPES)]
    return Attachment(
        id=message_id + number + 1,
        filename=f"file_{number}.{extension}",
        size=10 + size % 24_999_991,
        content_type=content_type,
    )
