"""Fake Discord's world (users, guild, channels), its constants, the JSON payloads it sends, recorded traffic."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

from aiohttp import web

Json = dict[str, Any]
T = TypeVar("T")

API_PREFIX = "/api/v10"

# --------------------------------------------------------------------------- constants


class Op:
    """Gateway opcodes."""

    DISPATCH = 0
    HEARTBEAT = 1
    IDENTIFY = 2
    RESUME = 6
    INVALID_SESSION = 9
    HELLO = 10
    HEARTBEAT_ACK = 11


class Intent:
    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_MESSAGES = 1 << 9
    DIRECT_MESSAGES = 1 << 12
    MESSAGE_CONTENT = 1 << 15


class Perm:
    ADMINISTRATOR = 1 << 3
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    USE_EXTERNAL_EMOJIS = 1 << 18
    USE_APPLICATION_COMMANDS = 1 << 31
    ALL = (1 << 53) - 1


class InteractionType:
    APPLICATION_COMMAND = 2
    MESSAGE_COMPONENT = 3
    AUTOCOMPLETE = 4


class CallbackType:
    CHANNEL_MESSAGE = 4
    DEFERRED_CHANNEL_MESSAGE = 5
    UPDATE_MESSAGE = 7
    AUTOCOMPLETE_RESULT = 8


# Which callback types Discord accepts for each interaction type.
ALLOWED_CALLBACKS: dict[int, frozenset[int]] = {
    InteractionType.APPLICATION_COMMAND: frozenset({4, 5, 9}),
    InteractionType.MESSAGE_COMPONENT: frozenset({4, 5, 6, 7, 9}),
    InteractionType.AUTOCOMPLETE: frozenset({8}),
}

MSG_FLAG_EPHEMERAL = 1 << 6
MSG_FLAG_LOADING = 1 << 7
MSG_TYPE_DEFAULT = 0
MSG_TYPE_REPLY = 19
MSG_TYPE_CHAT_INPUT_COMMAND = 20
CHANNEL_TEXT = 0
CHANNEL_DM = 1
CHANNEL_PUBLIC_THREAD = 11

EVERYONE_PERMS = (
    Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.ADD_REACTIONS
    | Perm.USE_EXTERNAL_EMOJIS
    | Perm.USE_APPLICATION_COMMANDS
)
MODERATOR_PERMS = Perm.MANAGE_GUILD | Perm.MANAGE_MESSAGES
BOT_PERMS = EVERYONE_PERMS

# --------------------------------------------------------------------------- ids and time

_DISCORD_EPOCH_MS = 1420070400000
_increment = itertools.count()


def new_snowflake() -> int:
    """A unique snowflake whose timestamp is now (discord.py derives created_at from it)."""
    ms = int(time.time() * 1000) - _DISCORD_EPOCH_MS
    return (ms << 22) | (next(_increment) & 0x3FFFFF)


def iso_now() -> str:
    return datetime.now(timezone.utc).isoformat()


# --------------------------------------------------------------------------- world model


@dataclass(frozen=True)
class FakeUser:
    id: int
    username: str
    bot: bool = False
    global_name: str | None = None

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"


@dataclass(frozen=True)
class FakeRole:
    id: int
    name: str
    permissions: int
    position: int = 0
    bot_id: int | None = None  # set for a bot's managed role


@dataclass
class FakeChannel:
    id: int
    name: str
    guild_id: int | None
    type: int = CHANNEL_TEXT
    position: int = 0
    topic: str | None = None
    recipient: FakeUser | None = None  # DM channels only
    parent_id: int | None = None  # threads only: the channel the thread is in
    owner_id: int | None = None  # threads only: who started it


@dataclass
class FakeMember:
    user: FakeUser
    role_ids: tuple[int, ...] = ()
    nick: str | None = None
    joined_at: str = field(default_factory=iso_now)


@dataclass
class FakeGuild:
    id: int
    name: str
    owner_id: int
    roles: list[FakeRole]
    channels: list[FakeChannel]
    members: list[FakeMember]
    threads: list[FakeChannel] = field(default_factory=list)  # active threads, sent in GUILD_CREATE

    def member(self, user_id: int) -> FakeMember | None:
        return next((m for m in self.members if m.user.id == user_id), None)

    def permissions_for(self, user_id: int) -> int:
        """Guild-level permissions (channel overwrites are not modelled)."""
        if user_id == self.owner_id:
            return Perm.ALL
        member = self.member(user_id)
        role_ids = set(member.role_ids) if member else set()
        perms = 0
        for role in self.roles:
            if role.id == self.id or role.id in role_ids:
                perms |= role.permissions
        return Perm.ALL if perms & Perm.ADMINISTRATOR else perms


@dataclass
class World:
    """The users, guild and channels the fake Discord knows about."""

    application_id: int
    bot: FakeUser
    owner: FakeUser
    moderator: FakeUser  # has Manage Server through the "Moderators" role
    reader: FakeUser  # plain member, no Manage Server
    guild: FakeGuild
    channel: FakeChannel
    dm_channels: dict[int, FakeChannel] = field(default_factory=dict)  # by user id

    def users(self) -> list[FakeUser]:
        return [m.user for m in self.guild.members]

    def user(self, user_id: int) -> FakeUser | None:
        return next((u for u in self.users() if u.id == user_id), None)

    def find_channel(self, channel_id: int) -> FakeChannel | None:
        everything = [*self.guild.channels, *self.guild.threads, *self.dm_channels.values()]
        return next((c for c in everything if c.id == channel_id), None)

    def dm_channel(self, user: FakeUser) -> FakeChannel:
        if user.id not in self.dm_channels:
            self.dm_channels[user.id] = FakeChannel(new_snowflake(), "", None, CHANNEL_DM, recipient=user)
        return self.dm_channels[user.id]


def default_world() -> World:
    """A bot in one guild with one text channel, an owner, a moderator and a reader."""
    bot = FakeUser(new_snowflake(), "NewsBot", bot=True)
    owner = FakeUser(new_snowflake(), "owner", global_name="Guild Owner")
    moderator = FakeUser(new_snowflake(), "moderator", global_name="Mod")
    reader = FakeUser(new_snowflake(), "reader", global_name="Reader")
    guild_id, mod_role, bot_role = new_snowflake(), new_snowflake(), new_snowflake()
    roles = [
        FakeRole(guild_id, "@everyone", EVERYONE_PERMS, 0),
        FakeRole(mod_role, "Moderators", MODERATOR_PERMS, 1),
        FakeRole(bot_role, "NewsBot", BOT_PERMS, 2, bot_id=bot.id),
    ]
    channel = FakeChannel(new_snowflake(), "news", guild_id, topic="Ask about the news")
    members = [
        FakeMember(owner),
        FakeMember(moderator, (mod_role,)),
        FakeMember(reader),
        FakeMember(bot, (bot_role,)),
    ]
    guild = FakeGuild(guild_id, "News Guild", owner.id, roles, [channel], members)
    return World(bot.id, bot, owner, moderator, reader, guild, channel)


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


# --------------------------------------------------------------------------- recorded traffic


@dataclass(frozen=True)
class RecordedFile:
    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class RecordedCall:
    """One REST request the bot made, and what the fake answered."""

    method: str
    path: str  # without the /api/v10 prefix and the query string
    json: Any  # the JSON body, or multipart payload_json, or None
    query: dict[str, str]
    headers: dict[str, str]
    received_at: float  # time.monotonic()
    files: list[RecordedFile] = field(default_factory=list)
    status: int = 0
    response: Any = None

    def matches(self, method: str, pattern: str) -> bool:
        return self.method == method.upper() and re.fullmatch(pattern, self.path) is not None


@dataclass(frozen=True)
class GatewayFrame:
    """One payload the bot sent on the gateway."""

    op: int
    d: Any
    connection: int  # 1 for the first websocket, 2 after the first reconnect, ...
    received_at: float


@dataclass(frozen=True)
class SentInteraction:
    """An INTERACTION_CREATE the test dispatched; paths are regexes for wait_for_call."""

    id: int
    token: str
    application_id: int
    payload: Json

    @property
    def callback_path(self) -> str:
        return re.escape(f"/interactions/{self.id}/{self.token}/callback")

    @property
    def original_path(self) -> str:
        return re.escape(f"/webhooks/{self.application_id}/{self.token}/messages/@original")

    @property
    def followup_path(self) -> str:
        return re.escape(f"/webhooks/{self.application_id}/{self.token}")


@dataclass
class _InjectedResponse:
    method: str
    pattern: str
    status: int
    body: Json
    headers: dict[str, str]
    remaining: int


@dataclass
class _InteractionState:
    id: int
    token: str
    type: int
    user: FakeUser
    channel: FakeChannel
    command_name: str | None
    created_at: float
    response_type: int | None = None
    original_id: int | None = None
    message_ids: set[int] = field(default_factory=set)
    result: Json | None = None  # autocomplete choices sent back by the bot


@dataclass
class _Session:
    id: str
    intents: int
    shard: list[int] | None
    seq: int = 0
    log: list[Json] = field(default_factory=list)


@dataclass(eq=False)
class _Connection:
    number: int
    ws: web.WebSocketResponse
    query: dict[str, str]
    session: _Session | None = None


# --------------------------------------------------------------------------- small pure helpers


def _reference_of(message: Json) -> Json:
    ref: Json = {"type": 0, "message_id": message["id"], "channel_id": message["channel_id"]}
    if "guild_id" in message:
        ref["guild_id"] = message["guild_id"]
    return ref


def _file_index(upload: RecordedFile) -> str:
    match = re.fullmatch(r"files\[(\d+)\]", upload.field)
    return match.group(1) if match else upload.field


def _infer_option_type(value: Any) -> int:
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    if isinstance(value, FakeChannel):
        return 7
    return 3


def _leaf_schema(command: Json | None, path: Sequence[str]) -> list[Json]:
    options: list[Json] = (command or {}).get("options", [])
    for name in path:
        node = next((o for o in options if o["name"] == name), {})
        options = node.get("options", [])
    return options


def _nest_subcommands(path: Sequence[str], leaf: list[Json]) -> list[Json]:
    """["group", "sub"] + options -> [{type 2 group: [{type 1 sub: options}]}]."""
    options = leaf
    for depth, name in reversed(list(enumerate(path))):
        is_group = depth < len(path) - 1
        options = [{"name": name, "type": 2 if is_group else 1, "options": options}]
    return options


def _stable_command_id(name: str) -> int:
    """Same id for the same unsynced command name across interactions."""
    return (1 << 60) | (abs(hash(name)) & ((1 << 40) - 1))
