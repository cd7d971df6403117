"""What generated message `i` of a channel says: its shape, author, reactions and attachments.

Each message draws from its own Mersenne Twister seeded by (guild seed, channel, index), so any message can be
produced on demand, in any order, identically every time.

Serving pages is the emulator's hot path, so the draws are inlined: `_below`, `_randint`, `_choice`, `_choices`
and `_sample` reproduce exactly what `random.Random._randbelow`, `randint`, `choice`, `choices` and `sample` do
(Python 3.11-3.13) on top of the C generator's `random()` and `getrandbits()`, without their per-call overhead,
and the generator is seeded in C without `Random.__init__`'s second seeding. The output is the same as drawing
with a fresh `random.Random(seed)`.
"""

from __future__ import annotations

import _random
import itertools
import random
from bisect import bisect
from typing import Callable, Protocol, Sequence, TypeVar

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
_MIXED_TOTAL = _MIXED_CUM_WEIGHTS[-1] + 0.0
_WORD_COUNT = float(len(WORDS))
_FAMILY = Reaction(emoji_name="👨‍👩‍👧", count=1)
_new_random = random.Random.__new__
_seed_random = _random.Random.seed  # the C seeding `random.Random.seed` ends in for an int

T = TypeVar("T")
Bits = Callable[[int], int]


class Palette(Protocol):
    """What the generator needs from its guild: who can speak and what can be mentioned."""

    seed: int
    member_ids: list[int]
    role_ids: list[int]
    webhook_ids: list[int]
    custom_emoji: list[tuple[int, str, bool]]


def message_rng(palette: Palette, channel: Channel, index: int) -> random.Random:
    """The generator of base message `index`: what `random.Random(seed)` gives, at a fraction of its cost."""
    rng = _new_random(random.Random)
    # An integer seed is several times cheaper than a string one.
    _seed_random(rng, (palette.seed * 1_000_003 + channel.ordinal) * 4_294_967_311 + index)
    rng.gauss_next = None
    return rng


def shape_of(channel: Channel, index: int, rng: random.Random) -> str:
    """The shape of base message `index`: cycling through all shapes, or drawn with realistic weights."""
    if channel.shape_mode == "cycle":
        return SHAPES[index % len(SHAPES)]
    if channel.shape_mode == "plain":
        return "plain"
    # random.choices(SHAPES, cum_weights=_MIXED_CUM_WEIGHTS)[0]
    return SHAPES[bisect(_MIXED_CUM_WEIGHTS, rng.random() * _MIXED_TOTAL, 0, len(SHAPES) - 1)]


def generate_message(palette: Palette, channel: Channel, index: int) -> MessageRecord:
    """Base message `index` of `channel`, identical on every call."""
    rng = message_rng(palette, channel, index)
    bits = rng.getrandbits
    shape = shape_of(channel, index, rng)
    if index == 0 and shape in ("reply", "pin_system"):
        shape = "plain"
    record = MessageRecord(
        id=channel.base_id(index),
        channel_id=channel.id,
        author_id=_choice(bits, palette.member_ids),
        timestamp_ms=channel.base_start_ms + index * channel.base_step_ms,
        content=_sentence(rng),
    )
    if shape != "plain":
        _apply_shape(record, shape, palette, channel, index, rng)
    elif rng.random() < 0.15:
        record.reactions = _unicode_reactions(rng)
    return record


def _apply_shape(
    record: MessageRecord, shape: str, palette: Palette, channel: Channel, index: int, rng: random.Random
) -> None:
    bits = rng.getrandbits
    if shape == "reply":
        record.type = 19
        record.reply_to = channel.base_id(index - _randint(bits, 1, min(index, 20)))
    elif shape == "reply_to_deleted":
        record.type = 19
        # An id between two real messages: a reply to a message deleted long before the sync.
        record.reply_to = channel.base_id(max(index - 1, 0)) + 1
    elif shape == "unicode_reactions":
        record.reactions = _unicode_reactions(rng)
    elif shape == "custom_reactions":
        picks = _sample(bits, palette.custom_emoji, min(2, len(palette.custom_emoji)))
        record.reactions = tuple(
            Reaction(emoji_name=name, emoji_id=emoji_id, animated=animated, count=_randint(bits, 1, 9))
            for emoji_id, name, animated in picks
        ) + (_FAMILY,)
    elif shape == "burst_reactions":
        normal, burst = _randint(bits, 0, 5), _randint(bits, 1, 4)
        record.reactions = (Reaction(emoji_name="🔥", count=normal + burst, burst=burst),)
    elif shape == "attachments":
        count = (index // len(SHAPES)) % 11 if channel.shape_mode == "cycle" else _randint(bits, 1, 10)
        record.attachments = tuple(_attachment(record.id, n, rng) for n in range(count))
    elif shape == "edited":
        record.edited_ms = record.timestamp_ms + _randint(bits, 1_000, 3_600_000)
        record.content += " (edited)"
    elif shape == "pin_system":
        record.type = 6
        record.content = ""
        record.reply_to = channel.base_id(index - 1)
    elif shape == "join_system":
        record.type = 7
        record.content = ""
    elif shape == "webhook":
        record.webhook_id = _choice(bits, palette.webhook_ids)
        record.author_id = record.webhook_id
    elif shape == "user_mentions":
        first, second = _sample(bits, palette.member_ids, 2)
        record.content = f"hey <@{first}> and <@!{second}>, {record.content}"
        record.mention_ids = (first, second)
    elif shape == "role_mentions":
        role = _choice(bits, palette.role_ids)
        record.content = f"ping <@&{role}> {record.content}"
        record.mention_role_ids = (role,)
    elif shape == "long":
        record.content = _long_text(rng, 4000)
    elif shape == "empty":
        record.content = ""
        if index % 2 == 0:
            record.attachments = (_attachment(record.id, 0, rng),)
    elif shape == "non_bmp":
        record.content = _choice(bits, NON_BMP_TEXT)


def _sentence(rng: random.Random) -> str:
    return _words(rng, _randint(rng.getrandbits, 3, 20))


def _words(rng: random.Random, count: int) -> str:
    # " ".join(random.choices(WORDS, k=count))
    draw = rng.random
    return " ".join([WORDS[int(draw() * _WORD_COUNT)] for _ in range(count)])


def _long_text(rng: random.Random, length: int) -> str:
    # The first `length` characters of words drawn one after another: the same text as joining batches of
    # `length // 3` words until it is long enough, without drawing the words the cut would drop (nothing is
    # drawn after a long text, so the draws it skips change nothing else).
    draw = rng.random
    words: list[str] = []
    size = -1
    while size < length:
        batch = [WORDS[int(draw() * _WORD_COUNT)] for _ in range(max(16, (length - size) // 8))]
        words += batch
        size += sum(map(len, batch)) + len(batch)
    return " ".join(words)[:length]


def _unicode_reactions(rng: random.Random) -> tuple[Reaction, ...]:
    bits = rng.getrandbits
    names = _sample(bits, UNICODE_EMOJI, _randint(bits, 1, 4))
    return tuple(Reaction(emoji_name=name, count=_randint(bits, 1, 30)) for name in names)


def _attachment(message_id: int, number: int, rng: random.Random) -> Attachment:
    bits = rng.getrandbits
    if rng.random() < 0.6:
        extension, content_type = _choice(bits, IMAGE_TYPES)
        return Attachment(
            id=message_id + number + 1,
            filename=f"image_{number}.{extension}",
            size=_randint(bits, 1_000, 8_000_000),
            content_type=content_type,
            width=_randint(bits, 16, 4096),
            height=_randint(bits, 16, 4096),
        )
    extension, content_type = _choice(bits, FILE_TYPES)
    return Attachment(
        id=message_id + number + 1,
        filename=f"file_{number}.{extension}",
        size=_randint(bits, 10, 25_000_000),
        content_type=content_type,
    )


def _below(bits: Bits, n: int) -> int:
    """`random.Random._randbelow(n)`: a uniform int in [0, n), n > 0."""
    k = n.bit_length()
    r = bits(k)
    while r >= n:
        r = bits(k)
    return r


def _randint(bits: Bits, low: int, high: int) -> int:
    """`random.Random.randint(low, high)`."""
    width = high - low + 1
    k = width.bit_length()
    r = bits(k)
    while r >= width:
        r = bits(k)
    return low + r


def _choice(bits: Bits, seq: Sequence[T]) -> T:
    """`random.Random.choice(seq)`."""
    return seq[_below(bits, len(seq))]


def _sample(bits: Bits, population: Sequence[T], k: int) -> list[T]:
    """`random.Random.sample(population, k)` for k <= 5 (the only sizes drawn here)."""
    n = len(population)
    if not 0 <= k <= min(n, 5):
        raise ValueError("sample size out of range")
    result: list[T] = []
    if n <= 21:  # the pool method, as `sample` uses for small populations
        pool = list(population)
        for i in range(k):
            j = _below(bits, n - i)
            result.append(pool[j])
            pool[j] = pool[n - i - 1]
        return result
    selected: set[int] = set()
    for _ in range(k):
        j = _below(bits, n)
        while j in selected:
            j = _below(bits, n)
        selected.add(j)
        result.append(population[j])
    return result
