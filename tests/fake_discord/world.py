"""Fake Discord's world: the users, guild and channels it knows, Discord's constants, snowflakes."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

Json = dict[str, Any]
T = TypeVar("T")

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
