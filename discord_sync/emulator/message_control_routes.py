"""`/_control` routes for what happens to messages over time: reactions, poll votes, pins and flags, attachment
changes, bulk deletes, messages of every kind (polls, forwards, stickers, embeds, backdated), and the clock that
signs attachment URLs. Ground truth stays `GET /_control/channels/{id}/ground_truth_messages`."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import message_changes, payloads
from .control_routes import PREFIX, _channel, _guild
from .message_changes import MessageChangeError
from .responses import json_response

MESSAGE = PREFIX + "/channels/{channel_id}/messages/{message_id}"


def _message_id(request: web.Request) -> int:
    return int(request.match_info["message_id"])


async def _answer(request: web.Request, change) -> web.Response:
    guild, channel = _channel(request)
    body: dict[str, Any] = await request.json() if request.can_read_body else {}
    try:
        record = change(guild, channel, body)
    except (MessageChangeError, KeyError, TypeError, ValueError) as error:
        raise web.HTTPBadRequest(text=str(error)) from None
    return json_response(payloads.message(guild, record))


async def post_message(request: web.Request) -> web.Response:
    """POST /channels/{channel_id}/rich_messages: {content, age_seconds, attachments (count), embeds, stickers,
    poll {question, answers, votes, hours}, forward_of {channel_id, message_id}, type}."""

    def change(guild, channel, body):
        forward = body.get("forward_of")
        return message_changes.post_message(
            guild,
            channel,
            content=body.get("content", ""),
            age_seconds=float(body.get("age_seconds", 0)),
            author_id=int(body["author_id"]) if body.get("author_id") else None,
            attachments=int(body.get("attachments", 0)),
            embeds=body.get("embeds"),
            stickers=body.get("stickers"),
            poll=body.get("poll"),
            forward_of=(int(forward["channel_id"]), int(forward["message_id"])) if forward else None,
            message_type=int(body.get("type", 0)),
        )

    return await _answer(request, change)


async def react(request: web.Request) -> web.Response:
    """POST .../messages/{message_id}/reactions: {emoji, emoji_id, delta (+ adds, - removes), burst}."""
    return await _answer(
        request,
        lambda guild, channel, body: message_changes.react(
            guild,
            channel,
            _message_id(request),
            body["emoji"],
            int(body.get("delta", 1)),
            emoji_id=int(body["emoji_id"]) if body.get("emoji_id") else None,
            burst=bool(body.get("burst", False)),
        ),
    )


async def vote(request: web.Request) -> web.Response:
    """POST .../messages/{message_id}/poll_votes: {answer_id, delta}; {end: true} ends the poll."""

    def change(guild, channel, body):
        if body.get("end"):
            return message_changes.end_poll(guild, channel, _message_id(request))
        return message_changes.vote(
            guild, channel, _message_id(request), int(body["answer_id"]), int(body.get("delta", 1))
        )

    return await _answer(request, change)


async def set_state(request: web.Request) -> web.Response:
    """POST .../messages/{message_id}/state: {pinned, flags, attachments (count)}."""

    def change(guild, channel, body):
        message_id = _message_id(request)
        if "attachments" in body:
            message_changes.replace_attachments(guild, channel, message_id, int(body["attachments"]))
        return message_changes.set_state(guild, channel, message_id, pinned=body.get("pinned"), flags=body.get("flags"))

    return await _answer(request, change)


async def bulk_delete(request: web.Request) -> web.Response:
    """POST /channels/{channel_id}/messages/bulk_delete: {ids}."""
    guild, channel = _channel(request)
    body = await request.json()
    deleted = message_changes.bulk_delete(guild, channel, [int(i) for i in body["ids"]])
    return json_response({"deleted": deleted})


async def post_history(request: web.Request) -> web.Response:
    """POST /channels/{channel_id}/history: {count, days}: messages spread evenly over the last `days`."""
    guild, channel = _channel(request)
    body = await request.json()
    ids = message_changes.post_history(guild, channel, int(body["count"]), float(body["days"]))
    return json_response({"ids": [str(i) for i in ids]})


async def url_clock(request: web.Request) -> web.Response:
    """POST /guilds/{guild_id}/attachment_url_clock: {offset_seconds}: sign URLs as if it were that much later."""
    guild = _guild(request)
    guild.url_clock_offset_s = int((await request.json())["offset_seconds"])
    return json_response({"offset_seconds": guild.url_clock_offset_s})


def add_message_control_routes(app: web.Application) -> None:
    """Register the message-change control routes under `/_control`."""
    r = app.router
    r.add_post(PREFIX + "/channels/{channel_id}/rich_messages", post_message)
    r.add_post(PREFIX + "/channels/{channel_id}/messages/bulk_delete", bulk_delete)
    r.add_post(PREFIX + "/channels/{channel_id}/history", post_history)
    r.add_post(MESSAGE + "/reactions", react)
    r.add_post(MESSAGE + "/poll_votes", vote)
    r.add_post(MESSAGE + "/state", set_state)
    r.add_post(PREFIX + "/guilds/{guild_id}/attachment_url_clock", url_clock)
