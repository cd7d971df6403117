"""Plain records of what the emulated Discord holds; `payloads` turns them into API JSON."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class User:
    """A Discord user (member, bot or webhook author)."""

    id: int
    username: str
    global_name: str | None
    bot: bool = False
    avatar: str | None = None


@dataclass(frozen=True)
class Tag:
    """A forum or media channel tag."""

    id: int
    name: str
    emoji_name: str | None = None
    moderated: bool = False


@dataclass(frozen=True)
class Reaction:
    """One reaction on a message; `emoji_id` is None for Unicode emoji."""

    emoji_name: str
    count: int
    emoji_id: int | None = None
    animated: bool = False
    burst: int = 0


@dataclass(frozen=True)
class Attachment:
    """A file attached to a message; width/height only for images."""

    id: int
    filename: str
    size: int
    content_type: str
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class Embed:
    """A link preview or bot card: the fields the product keeps. `fields` are (name, value, inline); `footer` and
    `author` their text and name."""

    type: str = "rich"
    url: str | None = None
    title: str | None = None
    description: str | None = None
    fields: tuple[tuple[str, str, bool], ...] = ()
    footer: str | None = None
    author: str | None = None


@dataclass(frozen=True)
class Sticker:
    """A sticker sent with a message; `format_type` 1 PNG, 2 APNG, 3 Lottie, 4 GIF."""

    id: int
    name: str
    format_type: int = 1


@dataclass(frozen=True)
class Poll:
    """A poll: its question, answers, votes per answer (in answer order), and whether it has ended."""

    question: str
    answers: tuple[str, ...]
    votes: tuple[int, ...]
    expiry_ms: int
    allow_multiselect: bool = False
    finalized: bool = False


@dataclass(frozen=True)
class Forward:
    """What a forwarded message carries: where the original was and a snapshot of its content and files."""

    guild_id: int
    channel_id: int
    message_id: int
    type: int
    content: str
    timestamp_ms: int
    edited_ms: int | None = None
    attachments: tuple[Attachment, ...] = ()
    embeds: tuple[Embed, ...] = ()


@dataclass
class MessageRecord:
    """One message as stored; generated lazily for the base timeline or kept for added ones."""

    id: int
    channel_id: int
    author_id: int
    timestamp_ms: int
    content: str = ""
    type: int = 0
    edited_ms: int | None = None
    reply_to: int | None = None
    mention_ids: tuple[int, ...] = ()
    mention_role_ids: tuple[int, ...] = ()
    reactions: tuple[Reaction, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    webhook_id: int | None = None
    pinned: bool = False
    flags: int = 0
    extra: dict = field(default_factory=dict)
    embeds: tuple[Embed, ...] = ()
    sticker_items: tuple[Sticker, ...] = ()
    poll: Poll | None = None
    forward: Forward | None = None
