"""What happens to messages after they are posted: reactions come and go, polls get votes, pins and flags change,
messages are deleted in bulk; and posting the kinds of message the generator does not make (polls, forwards,
stickers, embeds, attachments, backdated messages).

Every change is kept in the channel's overlay (`Channel.changes`, `edits`, `deleted_ids`, `added`), so the API,
the thread counters and the ground truth all read the same current state.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from .channel import Channel
from .guild import Guild
from .records import Attachment, Embed, Forward, MessageRecord, Poll, Reaction, Sticker
from .snowflakes import make_snowflake

POLL_HOURS = 24


class MessageChangeError(ValueError):
    """A change that cannot apply (unknown message, answer or emoji); its text is for the test author."""


def _current(guild: Guild, channel: Channel, message_id: int) -> MessageRecord:
    record = guild.message(channel, message_id)
    if record is None:
        raise MessageChangeError(f"unknown message {message_id} in channel {channel.id}")
    return record


def _change(channel: Channel, message_id: int, **fields: Any) -> None:
    channel.changes.setdefault(message_id, {}).update(fields)


def react(
    guild: Guild,
    channel: Channel,
    message_id: int,
    emoji_name: str,
    delta: int = 1,
    *,
    emoji_id: int | None = None,
    burst: bool = False,
) -> MessageRecord:
    """Add (`delta` > 0) or remove (< 0) reactions with one emoji; an emoji whose count reaches 0 disappears."""
    record = _current(guild, channel, message_id)
    reactions = list(record.reactions)
    key = emoji_id or emoji_name
    found = next((n for n, r in enumerate(reactions) if (r.emoji_id or r.emoji_name) == key), None)
    if found is None:
        if delta <= 0:
            raise MessageChangeError(f"message {message_id} has no reaction {key!r} to remove")
        reactions.append(Reaction(emoji_name=emoji_name, emoji_id=emoji_id, count=delta, burst=delta if burst else 0))
    else:
        old = reactions[found]
        count = max(0, old.count + delta)
        burst_count = max(0, min(count, old.burst + (delta if burst else 0)))
        if count == 0:
            del reactions[found]
        else:
            reactions[found] = replace(old, count=count, burst=burst_count)
    _change(channel, message_id, reactions=tuple(reactions))
    return _current(guild, channel, message_id)


def vote(guild: Guild, channel: Channel, message_id: int, answer_id: int, delta: int = 1) -> MessageRecord:
    """Add or withdraw votes for answer `answer_id` (1-based) of a message's poll."""
    record = _current(guild, channel, message_id)
    if record.poll is None:
        raise MessageChangeError(f"message {message_id} has no poll")
    if not 1 <= answer_id <= len(record.poll.answers):
        raise MessageChangeError(f"poll of message {message_id} has no answer {answer_id}")
    votes = list(record.poll.votes)
    votes[answer_id - 1] = max(0, votes[answer_id - 1] + delta)
    _change(channel, message_id, poll=replace(record.poll, votes=tuple(votes)))
    return _current(guild, channel, message_id)


def end_poll(guild: Guild, channel: Channel, message_id: int) -> MessageRecord:
    """End a poll now: its counts become final."""
    record = _current(guild, channel, message_id)
    if record.poll is None:
        raise MessageChangeError(f"message {message_id} has no poll")
    _change(channel, message_id, poll=replace(record.poll, finalized=True, expiry_ms=int(time.time() * 1000)))
    return _current(guild, channel, message_id)


def set_state(
    guild: Guild, channel: Channel, message_id: int, *, pinned: bool | None = None, flags: int | None = None
) -> MessageRecord:
    """Pin or unpin a message, or set its flags (e.g. 4: embeds suppressed)."""
    _current(guild, channel, message_id)
    fields: dict[str, Any] = {}
    if pinned is not None:
        fields["pinned"] = pinned
    if flags is not None:
        fields["flags"] = flags
    _change(channel, message_id, **fields)
    return _current(guild, channel, message_id)


def replace_attachments(guild: Guild, channel: Channel, message_id: int, count: int) -> MessageRecord:
    """Make a message carry `count` attachments (an edit that removes or adds files)."""
    _current(guild, channel, message_id)
    _change(channel, message_id, attachments=attachments_for(message_id, count))
    return _current(guild, channel, message_id)


def bulk_delete(guild: Guild, channel: Channel, message_ids: list[int]) -> int:
    """Delete many messages at once, as Discord's bulk delete does; returns how many existed."""
    return sum(1 for message_id in message_ids if guild.delete_message(channel, message_id))


def attachments_for(message_id: int, count: int) -> tuple[Attachment, ...]:
    """`count` small PNG attachments with ids derived from the message's."""
    return tuple(
        Attachment(id=message_id + n + 1, filename=f"upload_{n}.png", size=1000 + n, content_type="image/png")
        for n in range(count)
    )


def post_message(
    guild: Guild,
    channel: Channel,
    *,
    content: str = "",
    age_seconds: float = 0.0,
    author_id: int | None = None,
    attachments: int = 0,
    embeds: list[dict[str, Any]] | None = None,
    stickers: list[dict[str, Any]] | None = None,
    poll: dict[str, Any] | None = None,
    forward_of: tuple[int, int] | None = None,
    message_type: int = 0,
) -> MessageRecord:
    """Post a message of any kind, `age_seconds` in the past (set a channel up before its first sync: a
    backdated message appears below a copy's checkpoint, which Discord never does).

    `forward_of` is (channel id, message id) of a message of this guild whose content and files it forwards.
    """
    # A message posted now is newer than every other, as on Discord; a backdated one lands where its age says.
    at_ms = int(time.time() * 1000) - int(age_seconds * 1000) if age_seconds else guild.next_post_ms(channel)
    message_id = make_snowflake(at_ms, _free_low_bits(channel, at_ms))
    forward = None
    if forward_of is not None:
        source_channel = guild.channels.get(forward_of[0])
        original = guild.message(source_channel, forward_of[1]) if source_channel else None
        if original is None:
            raise MessageChangeError(f"cannot forward unknown message {forward_of[1]} of channel {forward_of[0]}")
        forward = Forward(
            guild_id=guild.id,
            channel_id=original.channel_id,
            message_id=original.id,
            type=original.type,
            content=original.content,
            timestamp_ms=original.timestamp_ms,
            edited_ms=original.edited_ms,
            attachments=original.attachments,
            embeds=original.embeds,
        )
    record = MessageRecord(
        id=message_id,
        channel_id=channel.id,
        author_id=author_id or guild.member_ids[0],
        timestamp_ms=at_ms,
        content=content,
        type=message_type,
        attachments=attachments_for(message_id, attachments),
        embeds=tuple(_embed(e) for e in embeds or ()),
        sticker_items=tuple(
            Sticker(id=int(s["id"]), name=s["name"], format_type=s.get("format_type", 1)) for s in stickers or ()
        ),
        poll=_poll(poll, at_ms) if poll else None,
        forward=forward,
    )
    channel.add(record)
    return record


def post_history(guild: Guild, channel: Channel, count: int, days: float) -> list[int]:
    """Post `count` plain messages spread evenly over the last `days` (set a channel's recent past up before its
    first sync); returns their ids, oldest first."""
    span = days * 86_400
    return [
        post_message(
            guild, channel, content=f"message {n} of the last {days:g} days", age_seconds=span * (count - n) / count
        ).id
        for n in range(count)
    ]


def _embed(body: dict[str, Any]) -> Embed:
    """An embed from its control-API form: {type, url, title, description, fields: [{name, value, inline}],
    footer (text), author (name)}."""
    fields = tuple((str(f["name"]), str(f["value"]), bool(f.get("inline", False))) for f in body.get("fields") or ())
    return Embed(**{k: v for k, v in body.items() if k != "fields"}, fields=fields)


def _poll(body: dict[str, Any], at_ms: int) -> Poll:
    answers = tuple(str(a) for a in body["answers"])
    if not 1 <= len(answers) <= 10:
        raise MessageChangeError("a poll has 1 to 10 answers")
    return Poll(
        question=str(body["question"]),
        answers=answers,
        votes=tuple(int(v) for v in body.get("votes", [0] * len(answers))),
        expiry_ms=at_ms + int(body.get("hours", POLL_HOURS)) * 3_600_000,
        allow_multiselect=bool(body.get("allow_multiselect", False)),
    )


def _free_low_bits(channel: Channel, at_ms: int) -> int:
    """Low bits for a new message id at `at_ms` that no message of the channel has."""
    low = (channel.ordinal % 1024) << 12 | 0x800
    while channel.exists(make_snowflake(at_ms, low)) or make_snowflake(at_ms, low) in channel.deleted_ids:
        low += 1
    return low
