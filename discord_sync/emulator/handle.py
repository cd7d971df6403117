"""`EmulatorClient`: a synchronous Python handle on `/_control`, usable against an emulator in another process."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from .spec import GuildSpec


class EmulatorClient:
    """Drives a running emulator over HTTP; `base_url` may be the API base or the server root."""

    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        root = base_url.rstrip("/")
        for suffix in ("/api/v10", "/_control"):
            root = root.removesuffix(suffix)
        self.control_url = root + "/_control"
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> Any:
        url = self.control_url + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise LookupError(f"{method} {path}: {error.code} {error.read().decode(errors='replace')}") from None

    def add_guild(self, spec: GuildSpec) -> int:
        """Serve another generated guild; returns its id."""
        return int(self._call("POST", "/guilds", spec.to_dict())["guild_id"])

    def guilds(self) -> list[dict[str, Any]]:
        """Every served guild: id, name, spec and whether the bot is still in it."""
        return self._call("GET", "/guilds")

    def channels(self, guild_id: int) -> list[dict[str, Any]]:
        """Every channel and thread of a guild (including ones the bot cannot see), as API payloads."""
        return self._call("GET", f"/guilds/{guild_id}/channels")

    def channel_by_name(self, guild_id: int, name: str) -> dict[str, Any]:
        """The channel or thread called `name` (names in generated guilds are unique and stable)."""
        for channel in self.channels(guild_id):
            if channel["name"] == name:
                return channel
        raise LookupError(f"no channel named {name!r} in guild {guild_id}")

    def add_message(
        self,
        channel_id: int,
        content: str = "new message",
        author_id: int | None = None,
        reply_to: int | None = None,
        mention_ids: list[int] | None = None,
    ) -> dict[str, Any]:
        """Post a message now, as a member would; returns its payload."""
        body = {
            "content": content,
            "author_id": str(author_id) if author_id else None,
            "reply_to": str(reply_to) if reply_to else None,
            "mention_ids": [str(i) for i in mention_ids or []],
        }
        return self._call("POST", f"/channels/{channel_id}/messages", body)

    def edit_message(self, channel_id: int, message_id: int, content: str) -> dict[str, Any]:
        """Edit a message's content; returns the new payload."""
        return self._call("PATCH", f"/channels/{channel_id}/messages/{message_id}", {"content": content})

    def delete_message(self, channel_id: int, message_id: int) -> None:
        """Delete a message."""
        self._call("DELETE", f"/channels/{channel_id}/messages/{message_id}")

    def post_message(
        self,
        channel_id: int,
        content: str = "",
        *,
        age_seconds: float = 0,
        attachments: int = 0,
        embeds: list[dict[str, Any]] | None = None,
        stickers: list[dict[str, Any]] | None = None,
        poll: dict[str, Any] | None = None,
        forward_of: tuple[int, int] | None = None,
        type: int = 0,
    ) -> dict[str, Any]:
        """Post a message of any kind, optionally `age_seconds` in the past (set channels up before a first sync):
        `attachments` files, `embeds` [{type, url, title, description, fields [{name, value, inline}], footer, author}], `stickers` [{id, name, format_type}],
        `poll` {question, answers, votes, hours}, `forward_of` (channel id, message id). Returns its payload."""
        body: dict[str, Any] = {
            "content": content,
            "age_seconds": age_seconds,
            "attachments": attachments,
            "embeds": embeds,
            "stickers": stickers,
            "poll": poll,
            "type": type,
        }
        if forward_of is not None:
            body["forward_of"] = {"channel_id": str(forward_of[0]), "message_id": str(forward_of[1])}
        return self._call("POST", f"/channels/{channel_id}/rich_messages", body)

    def post_history(self, channel_id: int, count: int, days: float) -> list[int]:
        """Post `count` messages spread evenly over the last `days` (before a first sync); their ids, oldest first."""
        body = {"count": count, "days": days}
        return [int(i) for i in self._call("POST", f"/channels/{channel_id}/history", body)["ids"]]

    def react(
        self,
        channel_id: int,
        message_id: int,
        emoji: str,
        delta: int = 1,
        *,
        emoji_id: int | None = None,
        burst: bool = False,
    ) -> dict[str, Any]:
        """Add (`delta` > 0) or remove (< 0) reactions with one emoji; returns the message's payload."""
        body = {"emoji": emoji, "emoji_id": str(emoji_id) if emoji_id else None, "delta": delta, "burst": burst}
        return self._call("POST", f"/channels/{channel_id}/messages/{message_id}/reactions", body)

    def vote(self, channel_id: int, message_id: int, answer_id: int, delta: int = 1) -> dict[str, Any]:
        """Add (or withdraw) votes for a poll answer (1-based); returns the message's payload."""
        body = {"answer_id": answer_id, "delta": delta}
        return self._call("POST", f"/channels/{channel_id}/messages/{message_id}/poll_votes", body)

    def end_poll(self, channel_id: int, message_id: int) -> dict[str, Any]:
        """End a poll now (its counts become final)."""
        return self._call("POST", f"/channels/{channel_id}/messages/{message_id}/poll_votes", {"end": True})

    def set_message_state(
        self,
        channel_id: int,
        message_id: int,
        *,
        pinned: bool | None = None,
        flags: int | None = None,
        attachments: int | None = None,
    ) -> dict[str, Any]:
        """Pin or unpin a message, set its flags, or make it carry `attachments` files."""
        body: dict[str, Any] = {"pinned": pinned, "flags": flags}
        if attachments is not None:
            body["attachments"] = attachments
        return self._call("POST", f"/channels/{channel_id}/messages/{message_id}/state", body)

    def bulk_delete(self, channel_id: int, message_ids: list[int]) -> int:
        """Delete many messages at once; returns how many existed."""
        body = {"ids": [str(i) for i in message_ids]}
        return self._call("POST", f"/channels/{channel_id}/messages/bulk_delete", body)["deleted"]

    def set_attachment_url_clock(self, guild_id: int, offset_seconds: int) -> None:
        """Sign attachment URLs as if it were `offset_seconds` later (URLs served before then look expired)."""
        self._call("POST", f"/guilds/{guild_id}/attachment_url_clock", {"offset_seconds": offset_seconds})

    def create_thread(self, parent_id: int, name: str, archived: bool = False, private: bool = False) -> dict[str, Any]:
        """Create an (empty) thread under a channel; returns its payload."""
        return self._call(
            "POST", f"/channels/{parent_id}/threads", {"name": name, "archived": archived, "private": private}
        )

    def create_channel(self, guild_id: int, name: str, type: int = 0, parent_id: int | None = None) -> dict[str, Any]:
        """Create an (empty) channel; returns its payload."""
        body = {"name": name, "type": type, "parent_id": str(parent_id) if parent_id else None}
        return self._call("POST", f"/guilds/{guild_id}/channels", body)

    def delete_channel(self, channel_id: int) -> None:
        """Delete a channel (and its threads); later reads of it answer 404 Unknown Channel."""
        self._call("DELETE", f"/channels/{channel_id}")

    def update_channel(self, channel_id: int, **changes: Any) -> dict[str, Any]:
        """Rename, move (`parent_id`, `position`), re-topic a channel, or archive, unarchive, lock or re-tag
        (`applied_tags`: tag ids) a thread; returns its new payload."""
        if changes.get("parent_id"):
            changes["parent_id"] = str(changes["parent_id"])
        if "applied_tags" in changes:
            changes["applied_tags"] = [str(t) for t in changes["applied_tags"]]
        return self._call("PATCH", f"/channels/{channel_id}", changes)

    def set_overwrites(self, channel_id: int, overwrites: list[dict[str, Any]]) -> dict[str, Any]:
        """Replace a channel's permission overwrites ({id, type: 0 role / 1 member, allow, deny})."""
        return self._call("PUT", f"/channels/{channel_id}/overwrites", overwrites)

    def set_bot_access(self, channel_id: int, *, view: bool = True, read_history: bool = True) -> dict[str, Any]:
        """Hide a channel from the bot or make it readable again, through a member overwrite for the bot."""
        return self._call("POST", f"/channels/{channel_id}/bot_access", {"view": view, "read_history": read_history})

    def set_role(self, guild_id: int, role_id: int, permissions: int) -> None:
        """Create a role or change its permission bits (the @everyone role's id is the guild's)."""
        self._call("PUT", f"/guilds/{guild_id}/roles/{role_id}", {"permissions": str(permissions)})

    def set_bot_roles(self, guild_id: int, role_ids: list[int]) -> dict[str, Any]:
        """Give the bot member exactly these roles; returns its member payload."""
        return self._call("PUT", f"/guilds/{guild_id}/bot_roles", {"role_ids": [str(r) for r in role_ids]})

    def set_bot_manage_threads(self, guild_id: int, enabled: bool) -> None:
        """Grant or take Manage Threads on the bot's own role."""
        self._call("POST", f"/guilds/{guild_id}/bot_manage_threads", {"enabled": enabled})

    def bot_permissions(self, guild_id: int) -> dict[int, dict[str, Any]]:
        """Ground truth per channel and thread id: the bot's `permissions` bits, `visible`, `readable`."""
        return {int(c): access for c, access in self._call("GET", f"/guilds/{guild_id}/bot_permissions").items()}

    def join_members(self, guild_id: int, count: int = 1) -> list[int]:
        """`count` new members join the guild now; returns their user ids."""
        return [int(u) for u in self._call("POST", f"/guilds/{guild_id}/members", {"count": count})["user_ids"]]

    def remove_member(self, guild_id: int, user_id: int) -> None:
        """The member leaves the guild."""
        self._call("DELETE", f"/guilds/{guild_id}/members/{user_id}")

    def set_member_roles(self, guild_id: int, user_id: int, role_ids: list[int]) -> None:
        """Give a member exactly these roles."""
        self._call("PUT", f"/guilds/{guild_id}/members/{user_id}/roles", {"role_ids": [str(r) for r in role_ids]})

    def members(self, guild_id: int) -> dict[str, Any]:
        """Ground truth: `members` (user_id, joined_ms, role_ids, bot, pending, premium_since_ms) and `left`."""
        return self._call("GET", f"/guilds/{guild_id}/members")

    def set_members_intent(self, value: str) -> None:
        """Whether the application has the Server Members intent: "on", "limited" or "off"."""
        self._call("POST", "/application", {"members_intent": value})

    def reactors(self, channel_id: int, message_id: int) -> dict[str, dict[str, list[int]]]:
        """Ground truth: per emoji (as named in URLs), the user ids of its normal and burst reactors."""
        truth = self._call("GET", f"/channels/{channel_id}/messages/{message_id}/reactors")
        return {key: {kind: [int(u) for u in ids] for kind, ids in sides.items()} for key, sides in truth.items()}

    def request_log(self) -> list[dict[str, Any]]:
        """The newest Discord API requests: method, path, query, status, at (unix seconds)."""
        return self._call("GET", "/requests")

    def counters(self) -> dict[str, Any]:
        """requests, invalid_requests, status_counts, rate_limited, peak_requests_per_second, requests_by_route."""
        return self._call("GET", "/counters")

    def reset_counters(self) -> None:
        """Zero the counters and empty the request log."""
        self._call("POST", "/counters/reset")

    def ground_truth(self, guild_id: int) -> dict[int, list[int]]:
        """Every message id the bot can read, by channel or thread id, oldest first: what a perfect sync stores."""
        raw = self._call("GET", f"/guilds/{guild_id}/ground_truth")
        return {int(c): [int(i) for i in ids] for c, ids in raw.items()}

    def ground_truth_counts(self, guild_id: int) -> dict[int, int]:
        """How many messages the bot can read, by channel or thread id (cheap for huge guilds)."""
        return {
            int(c): n for c, n in self._call("GET", f"/guilds/{guild_id}/ground_truth", query={"counts": 1}).items()
        }

    def ground_truth_messages(self, channel_id: int) -> list[dict[str, Any]]:
        """Full payloads of every message in a channel, oldest first."""
        return self._call("GET", f"/channels/{channel_id}/ground_truth_messages")

    def user_ids(self, guild_id: int) -> list[int]:
        """Every raw user id that can appear in the guild's payloads (for scanning stored data for leaks)."""
        return [int(i) for i in self._call("GET", f"/guilds/{guild_id}/user_ids")]

    def mention_users_everywhere(self, guild_id: int) -> list[int]:
        """Make every text field of the guild carry raw user ids (for tests that prove none is stored): each
        channel's, thread's and forum post's name and each channel's topic gain mentions and profile links of
        members, and each readable text channel gets a bot card (embed title, description, url, fields, footer,
        author), a poll (question and answers), a forward of the card (its snapshot carries the embed) and a
        thread named with a mention holding one message. Returns the ids of the messages posted."""
        users = self.user_ids(guild_id)[:3]
        text = (
            f"ask <@{users[0]}> or <@!{users[1]}>, see https://discord.com/users/{users[2]} "
            f"and <https://canary.discordapp.com/users/{users[0]}>"
        )
        posted: list[int] = []
        access = self.bot_permissions(guild_id)
        for channel in self.channels(guild_id):
            channel_id = int(channel["id"])
            changes: dict[str, Any] = {"name": f"{channel['name']} <@{users[channel_id % len(users)]}>"}
            if "topic" in channel:
                changes["topic"] = text
            self.update_channel(channel_id, **changes)
            if channel["type"] != 0 or not access.get(channel_id, {}).get("readable"):
                continue
            card = {
                "type": "rich",
                "title": f"Ticket closed by <@{users[0]}>",
                "description": text,
                "url": f"https://discord.com/users/{users[1]}",
                "fields": [{"name": f"<@{users[1]}>", "value": f"Assignee: <@!{users[2]}>", "inline": True}],
                "footer": f"closed for <@{users[2]}>",
                "author": f"<@{users[0]}>",
            }
            message = self.post_message(channel_id, text, embeds=[card])
            posted.append(int(message["id"]))
            poll = {"question": f"Who leads, <@{users[0]}>?", "answers": [f"<@{u}>" for u in users], "hours": 24}
            posted.append(int(self.post_message(channel_id, text, poll=poll)["id"]))
            posted.append(int(self.post_message(channel_id, "", forward_of=(channel_id, int(message["id"])))["id"]))
            thread = self.create_thread(channel_id, f"help for <@{users[1]}>")
            posted.append(int(self.add_message(int(thread["id"]), content=text)["id"]))
        return posted

    def inject(self, kind: str, **options: Any) -> None:
        """Inject a fault: rate_limit(route, retry_after, is_global, count), server_error(status, count),
        drop_connection(count), slow(delay, count), revoke_token(), remove_bot(guild_id). `route` is a regex
        searched in the request path."""
        if "guild_id" in options:
            options["guild_id"] = int(options["guild_id"])
        self._call("POST", "/faults", {"kind": kind, **options})

    def clear_faults(self) -> None:
        """Remove every fault, including a revoked token and removed guilds."""
        self._call("DELETE", "/faults")

    def set_latency(self, ms: float) -> None:
        """Delay every Discord API answer by `ms` milliseconds."""
        self._call("POST", "/settings", {"latency_ms": ms})

    def set_message_bucket(self, limit: int, per_seconds: float) -> None:
        """Size of the per-channel bucket for message reads."""
        self._call("POST", "/settings", {"message_bucket": [limit, per_seconds]})

    def set_global_limit(self, per_second: int) -> None:
        """Requests per second allowed per token across all routes."""
        self._call("POST", "/settings", {"global_limit": per_second})

    def enable_rate_limits(self, enabled: bool = True) -> None:
        """Turn every rate limit on or off."""
        self._call("POST", "/settings", {"rate_limits": enabled})

    def settings(self) -> dict[str, Any]:
        """Current latency and rate-limit settings."""
        return self._call("GET", "/settings")
