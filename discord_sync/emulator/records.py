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
