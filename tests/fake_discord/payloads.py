"""The JSON payloads fake Discord sends: users, roles, channels, members, guilds, READY, attachments, commands."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .records import RecordedFile
from .world import (
    CHANNEL_DM,
    CHANNEL_PUBLIC_THREAD,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    Json,
    World,
    iso_now,
    new_snowflake,
)

# --------------------------------------------------------------------------- payload builders


def user_payload(user: FakeUser) -> Json:
    data: Json = {
        "id": str(user.id),
        "username": user.username,
        "discriminator": "0",
        "avatar": None,  # required key, null is its real "no avatar" value
        "public_flags": 0,
        "flags": 0,
    }
    if user.global_name is not None:
        data["global_name"] = user.global_name
    if user.bot:
        data["bot"] = True
    return data


def role_payload(role: FakeRole) -> Json:
    data: Json = {
        "id": str(role.id),
        "name": role.name,
        "color": 0,
        "colors": {"primary_color": 0},
        "hoist": False,
        "position": role.position,
        "permissions": str(role.permissions),
        "managed": role.bot_id is not None,
        "mentionable": False,
        "flags": 0,
    }
    if role.bot_id is not None:
        data["tags"] = {"bot_id": str(role.bot_id)}
    return data


def channel_payload(channel: FakeChannel) -> Json:
    if channel.type == CHANNEL_DM:
        recipients = [user_payload(channel.recipient)] if channel.recipient else []
        return {"id": str(channel.id), "type": CHANNEL_DM, "recipients": recipients}
    data: Json = {
        "id": str(channel.id),
        "type": channel.type,
        "guild_id": str(channel.guild_id),
        "name": channel.name,
        "position": channel.position,
        "permission_overwrites": [],
        "nsfw": False,
        "rate_limit_per_user": 0,
    }
    if channel.topic is not None:
        data["topic"] = channel.topic
    if channel.type == CHANNEL_PUBLIC_THREAD:
        data.update(thread_payload(channel))
    return data


def thread_payload(thread: FakeChannel) -> Json:
    """The fields a thread has beyond a channel's (Discord's auto-archive default: a day)."""
    return {
        "parent_id": str(thread.parent_id),
        "owner_id": str(thread.owner_id),
        "message_count": 0,
        "member_count": 1,
        "flags": 0,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": iso_now(),
            "locked": False,
        },
    }


def member_payload(member: FakeMember, *, with_user: bool = True, permissions: int | None = None) -> Json:
    data: Json = {
        "roles": [str(r) for r in member.role_ids],
        "joined_at": member.joined_at,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
    }
    if with_user:
        data["user"] = user_payload(member.user)
    if member.nick is not None:
        data["nick"] = member.nick
    if permissions is not None:
        data["permissions"] = str(permissions)
    return data


def guild_create_payload(guild: FakeGuild) -> Json:
    bot_member = next((m for m in guild.members if m.user.bot), None)
    return {
        "id": str(guild.id),
        "name": guild.name,
        "owner_id": str(guild.owner_id),
        "unavailable": False,
        "large": False,
        "member_count": len(guild.members),
        "joined_at": bot_member.joined_at if bot_member else iso_now(),
        "roles": [role_payload(r) for r in guild.roles],
        "channels": [channel_payload(c) for c in guild.channels],
        "members": [member_payload(m) for m in guild.members],
        "features": [],
        "emojis": [],
        "stickers": [],
        "threads": [channel_payload(t) for t in guild.threads],
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "preferred_locale": "en-US",
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "afk_timeout": 300,
        "system_channel_id": str(guild.channels[0].id) if guild.channels else None,
    }


def application_payload(world: World) -> Json:
    return {
        "id": str(world.application_id),
        "name": world.bot.username,
        "icon": None,
        "description": "",
        "summary": "",
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "owner": user_payload(world.owner),
        "bot": user_payload(world.bot),
        "flags": 0,
    }


def ready_payload(world: World, session_id: str, resume_url: str, shard: list[int] | None) -> Json:
    user = {**user_payload(world.bot), "verified": True, "mfa_enabled": False}
    data: Json = {
        "v": 10,
        "user": user,
        "guilds": [{"id": str(world.guild.id), "unavailable": True}],
        "session_id": session_id,
        "session_type": "normal",
        "resume_gateway_url": resume_url,
        "application": {"id": str(world.application_id), "flags": 0},
        "private_channels": [],
    }
    if shard is not None:
        data["shard"] = shard
    return data


def attachment_payload(channel_id: int, upload: RecordedFile, description: str | None) -> Json:
    attachment_id = new_snowflake()
    url = f"https://cdn.fake-discord.invalid/attachments/{channel_id}/{attachment_id}/{upload.filename}"
    data: Json = {
        "id": str(attachment_id),
        "filename": upload.filename,
        "size": len(upload.data),
        "url": url,
        "proxy_url": url,
        "content_type": upload.content_type,
    }
    if description:
        data["description"] = description
    return data


def command_payload(command: Json, application_id: int, guild_id: int | None, command_id: int) -> Json:
    data: Json = {
        **command,
        "id": str(command_id),
        "application_id": str(application_id),
        "version": str(new_snowflake()),
        "type": command.get("type", 1),
        "description": command.get("description", ""),
    }
    if guild_id is not None:
        data["guild_id"] = str(guild_id)
    return data


# --------------------------------------------------------------------------- small pure helpers


def reference_of(message: Json) -> Json:
    ref: Json = {"type": 0, "message_id": message["id"], "channel_id": message["channel_id"]}
    if "guild_id" in message:
        ref["guild_id"] = message["guild_id"]
    return ref


def file_index(upload: RecordedFile) -> str:
    match = re.fullmatch(r"files\[(\d+)\]", upload.field)
    return match.group(1) if match else upload.field


def infer_option_type(value: Any) -> int:
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    if isinstance(value, FakeChannel):
        return 7
    return 3


def option_schema(command: Json | None, path: Sequence[str]) -> list[Json]:
    options: list[Json] = (command or {}).get("options", [])
    for name in path:
        node = next((o for o in options if o["name"] == name), {})
        options = node.get("options", [])
    return options


def nest_subcommands(path: Sequence[str], leaf: list[Json]) -> list[Json]:
    """["group", "sub"] + options -> [{type 2 group: [{type 1 sub: options}]}]."""
    options = leaf
    for depth, name in reversed(list(enumerate(path))):
        is_group = depth < len(path) - 1
        options = [{"name": name, "type": 2 if is_group else 1, "options": options}]
    return options


def stable_command_id(name: str) -> int:
    """Same id for the same unsynced command name across interactions."""
    return (1 << 60) | (abs(hash(name)) & ((1 << 40) - 1))
