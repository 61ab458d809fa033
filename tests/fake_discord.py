"""A fake Discord (REST API + gateway) on 127.0.0.1 for end-to-end tests.

Unmodified discord.py logs into it once :func:`patch_discord` has pointed
``discord.http.Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY`` at it::

    async with FakeDiscord() as server:
        with patch_discord(server):
            intents = discord.Intents.default()
            intents.message_content = True
            bot = commands.Bot("!", intents=intents, guild_ready_timeout=0.1)
            async with running_client(bot, server):
                await server.send_message(server.channel.id, server.reader, "hello")
                call = await server.wait_for_call("POST", r"/channels/\\d+/messages")

Everything the bot sends is recorded in ``server.calls`` (:class:`RecordedCall`);
everything it sends on the gateway in ``server.gateway_frames``.  No network
access is needed; nothing here imports discord.py except the glue at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import re
import secrets
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence, TypeVar

from aiohttp import WSCloseCode, WSMsgType, web

Json = dict[str, Any]
T = TypeVar("T")

API_PREFIX = "/api/v10"

# --------------------------------------------------------------------------- constants


class Op:
    """Gateway opcodes."""

    DISPATCH = 0
    HEARTBEAT = 1
    IDENTIFY = 2
    PRESENCE_UPDATE = 3
    RESUME = 6
    RECONNECT = 7
    REQUEST_GUILD_MEMBERS = 8
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
    PING = 1
    APPLICATION_COMMAND = 2
    MESSAGE_COMPONENT = 3
    AUTOCOMPLETE = 4
    MODAL_SUBMIT = 5


class CallbackType:
    CHANNEL_MESSAGE = 4
    DEFERRED_CHANNEL_MESSAGE = 5
    DEFERRED_UPDATE_MESSAGE = 6
    UPDATE_MESSAGE = 7
    AUTOCOMPLETE_RESULT = 8
    MODAL = 9


# Which callback types Discord accepts for each interaction type.
ALLOWED_CALLBACKS: dict[int, frozenset[int]] = {
    InteractionType.APPLICATION_COMMAND: frozenset({4, 5, 9}),
    InteractionType.MESSAGE_COMPONENT: frozenset({4, 5, 6, 7, 9}),
    InteractionType.AUTOCOMPLETE: frozenset({8}),
    InteractionType.MODAL_SUBMIT: frozenset({4, 5, 6, 7}),
}

MSG_FLAG_EPHEMERAL = 1 << 6
MSG_FLAG_LOADING = 1 << 7
MSG_TYPE_DEFAULT = 0
MSG_TYPE_REPLY = 19
MSG_TYPE_CHAT_INPUT_COMMAND = 20
CHANNEL_TEXT = 0
CHANNEL_DM = 1

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
        everything = [*self.guild.channels, *self.dm_channels.values()]
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
    return data


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
        "threads": [],
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
    result: Json | None = None  # autocomplete choices / modal sent back by the bot


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


# --------------------------------------------------------------------------- REST helpers


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """discord.py decodes JSON only if Content-Type is exactly application/json."""
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(body=json.dumps(data).encode(), status=status, headers=all_headers)


def error_response(status: int, code: int, message: str, errors: Json | None = None) -> web.Response:
    body: Json = {"message": message, "code": code}
    if errors:
        body["errors"] = errors
    return json_response(body, status)


def no_content() -> web.Response:
    return web.Response(status=204)


def form_error(path: Sequence[str | int], code: str, message: str) -> Json:
    """Nested ``errors`` object as Discord returns it for 50035 Invalid Form Body."""
    node: Json = {"_errors": [{"code": code, "message": message}]}
    for key in reversed(path):
        node = {str(key): node}
    return node


def invalid_form(path: Sequence[str | int], code: str, message: str) -> web.Response:
    return error_response(400, 50035, "Invalid Form Body", form_error(path, code, message))


def _embed_text_length(embed: Json) -> int:
    """Characters that count towards Discord's 6000 per-message embed limit."""
    texts = [embed.get("title"), embed.get("description")]
    texts += [(embed.get("footer") or {}).get("text"), (embed.get("author") or {}).get("name")]
    texts += [part for f in embed.get("fields", []) for part in (f.get("name"), f.get("value"))]
    return sum(len(t) for t in texts if isinstance(t, str))


_EMBED_LIMITS: tuple[tuple[tuple[str, ...], int], ...] = (
    (("title",), 256),
    (("description",), 4096),
    (("footer", "text"), 2048),
    (("author", "name"), 256),
)


def _embed_errors(index: int, embed: Json) -> Json | None:
    for keys, limit in _EMBED_LIMITS:
        value: Any = embed
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, str) and len(value) > limit:
            message = f"Must be {limit} or fewer in length."
            return form_error(["embeds", index, *keys], "BASE_TYPE_MAX_LENGTH", message)
    for f_index, fld in enumerate(embed.get("fields", [])):
        if len(fld.get("name", "")) > 256 or len(fld.get("value", "")) > 1024:
            return form_error(["embeds", index, "fields", f_index], "BASE_TYPE_MAX_LENGTH", "Field too long.")
    if len(embed.get("fields", [])) > 25:
        return form_error(["embeds", index, "fields"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    return None


def validate_message_body(body: Json, *, creating: bool, has_files: bool) -> web.Response | None:
    """The subset of Discord's message validation that bots commonly trip over."""
    content = body.get("content") or ""
    embeds = body.get("embeds") or []
    if len(content) > 2000:
        return invalid_form(["content"], "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
    if len(embeds) > 10:
        return invalid_form(["embeds"], "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    for index, embed in enumerate(embeds):
        errors = _embed_errors(index, embed)
        if errors:
            return error_response(400, 50035, "Invalid Form Body", errors)
    if sum(_embed_text_length(e) for e in embeds) > 6000:
        return invalid_form(["embeds"], "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
    has_payload = content or embeds or body.get("components") or body.get("sticker_ids") or body.get("poll")
    if creating and not has_payload and not has_files:
        return error_response(400, 50006, "Cannot send an empty message")
    return None


async def read_body(request: web.Request) -> tuple[Any, list[RecordedFile]]:
    """JSON body, or a multipart body's payload_json plus its files."""
    if request.content_type == "multipart/form-data":
        form = await request.post()
        files = [
            RecordedFile(name, value.filename, value.content_type, value.file.read())
            for name, value in form.items()
            if isinstance(value, web.FileField)
        ]
        raw = form.get("payload_json")
        return (_loads_or_text(raw) if isinstance(raw, str) else None), files
    if not request.can_read_body:
        return None, []
    return _loads_or_text(await request.text()), []


def _loads_or_text(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError:
        return text


RestHandler = Callable[["RecordedCall", dict[str, str]], Awaitable[web.Response]]


@dataclass(frozen=True)
class _RestRoute:
    method: str
    pattern: re.Pattern[str]
    handler: RestHandler
    needs_auth: bool


def _compile(template: str) -> re.Pattern[str]:
    """'/channels/{channel_id}/messages' -> a regex with named groups."""
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return re.compile(regex)


# --------------------------------------------------------------------------- the server


class FakeDiscord:
    """Local Discord REST API + gateway.  Use as ``async with FakeDiscord() as server``."""

    def __init__(
        self,
        *,
        world: World | None = None,
        token: str = "fake-bot-token",
        heartbeat_interval_ms: int = 41250,
        interaction_deadline: float | None = None,
        echo_bot_messages: bool = True,
    ) -> None:
        self.world = world or default_world()
        self.token = token
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.interaction_deadline = interaction_deadline  # Discord's is 3.0 s; None = no limit
        self.echo_bot_messages = echo_bot_messages
        self.calls: list[RecordedCall] = []
        self.gateway_frames: list[GatewayFrame] = []
        self.messages: dict[int, Json] = {}
        self.commands: dict[int | None, dict[str, Json]] = {}  # guild id (None = global) -> name -> command
        self.port = 0
        self._interactions: dict[int, _InteractionState] = {}
        self._injected: list[_InjectedResponse] = []
        self._connections: set[_Connection] = set()
        self._connection_count = 0
        self._session: _Session | None = None
        self._live: _Connection | None = None
        self._send_lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._routes = self._build_routes()

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._handle_rest)
        app.router.add_get("/", self._handle_gateway)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def close(self) -> None:
        for conn in list(self._connections):
            await conn.ws.close(code=WSCloseCode.GOING_AWAY)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    # ----------------------------------------------------------------- shortcuts into the world

    @property
    def application_id(self) -> int:
        return self.world.application_id

    @property
    def bot_user(self) -> FakeUser:
        return self.world.bot

    @property
    def guild(self) -> FakeGuild:
        return self.world.guild

    @property
    def channel(self) -> FakeChannel:
        return self.world.channel

    @property
    def moderator(self) -> FakeUser:
        return self.world.moderator

    @property
    def reader(self) -> FakeUser:
        return self.world.reader

    # ----------------------------------------------------------------- waiting

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_until(self, check: Callable[[], T | None], timeout: float, what: Callable[[], str]) -> T:
        try:
            async with asyncio.timeout(timeout):
                while True:
                    changed = self._changed
                    found = check()
                    if found is not None:
                        return found
                    await changed.wait()
        except TimeoutError:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what()}") from None

    def calls_matching(self, method: str, pattern: str, *, after: int = 0) -> list[RecordedCall]:
        return [c for c in self.calls[after:] if c.matches(method, pattern)]

    async def wait_for_call(
        self,
        method: str,
        pattern: str,
        timeout: float = 5.0,
        *,
        after: int = 0,
        predicate: Callable[[RecordedCall], bool] | None = None,
    ) -> RecordedCall:
        """First call (index >= after) whose method matches and whose path fullmatches pattern."""

        def check() -> RecordedCall | None:
            found = self.calls_matching(method, pattern, after=after)
            return next((c for c in found if predicate is None or predicate(c)), None)

        def what() -> str:
            seen = "\n  ".join(f"{c.method} {c.path} -> {c.status}" for c in self.calls) or "(none)"
            return f"{method} {pattern}; recorded calls:\n  {seen}"

        return await self._wait_until(check, timeout, what)

    async def wait_for_gateway(self, op: int, timeout: float = 5.0, *, after: int = 0) -> GatewayFrame:
        """First frame (index >= after) with this opcode that the bot sent."""

        def check() -> GatewayFrame | None:
            return next((f for f in self.gateway_frames[after:] if f.op == op), None)

        def what() -> str:
            return f"gateway op {op}; received ops {[f.op for f in self.gateway_frames]}"

        return await self._wait_until(check, timeout, what)

    @property
    def identify_payloads(self) -> list[Json]:
        return [f.d for f in self.gateway_frames if f.op == Op.IDENTIFY]

    @property
    def unhandled_calls(self) -> list[RecordedCall]:
        """Calls to routes the fake does not implement (answered 404)."""
        return [c for c in self.calls if c.status == 404 and c.response == {"message": "404: Not Found", "code": 0}]

    # ----------------------------------------------------------------- fault injection

    def fail_once(
        self,
        method: str,
        pattern: str,
        status: int,
        body: Json,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` matching calls with this status/body instead of handling them."""
        injected = _InjectedResponse(method.upper(), pattern, status, body, dict(headers or {}), times)
        self._injected.append(injected)

    def rate_limit_once(self, method: str, pattern: str, *, retry_after: float = 0.1, is_global: bool = False) -> None:
        """Answer the next matching call with a 429 that discord.py will sleep on and retry."""
        reset = time.time() + retry_after
        headers = {
            "Retry-After": str(math.ceil(retry_after)),
            "Via": "1.1 google",
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{reset:.3f}",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Scope": "global" if is_global else "user",
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        else:
            headers["X-RateLimit-Bucket"] = secrets.token_hex(16)
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global}
        self.fail_once(method, pattern, 429, body, headers)

    def _take_injected(self, call: RecordedCall) -> web.Response | None:
        for injected in self._injected:
            if injected.remaining > 0 and call.matches(injected.method, injected.pattern):
                injected.remaining -= 1
                return json_response(injected.body, injected.status, injected.headers)
        return None

    # ----------------------------------------------------------------- REST dispatch

    def _build_routes(self) -> list[_RestRoute]:
        table: list[tuple[str, str, RestHandler, bool]] = [
            ("GET", "/users/@me", self._get_me, True),
            ("GET", "/users/{user_id}", self._get_user, True),
            ("POST", "/users/@me/channels", self._create_dm, True),
            ("GET", "/gateway", self._get_gateway, False),
            ("GET", "/gateway/bot", self._get_gateway_bot, True),
            ("GET", "/oauth2/applications/@me", self._get_application, True),
            ("GET", "/applications/@me", self._get_application, True),
            ("GET", "/applications/{app_id}/commands", self._get_commands, True),
            ("PUT", "/applications/{app_id}/commands", self._put_commands, True),
            ("GET", "/applications/{app_id}/guilds/{guild_id}/commands", self._get_commands, True),
            ("PUT", "/applications/{app_id}/guilds/{guild_id}/commands", self._put_commands, True),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self._get_member, True),
            ("GET", "/channels/{channel_id}", self._get_channel, True),
            ("POST", "/channels/{channel_id}/typing", self._typing, True),
            ("GET", "/channels/{channel_id}/messages", self._get_history, True),
            ("POST", "/channels/{channel_id}/messages", self._create_message, True),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self._get_message, True),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self._edit_message, True),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self._delete_message, True),
            ("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self._react, True),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self._react, True),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self._interaction_callback, False),
            ("POST", "/webhooks/{app_id}/{token}", self._followup, False),
            ("GET", "/webhooks/{app_id}/{token}/messages/{message_id}", self._get_webhook_message, False),
            ("PATCH", "/webhooks/{app_id}/{token}/messages/{message_id}", self._edit_webhook_message, False),
            ("DELETE", "/webhooks/{app_id}/{token}/messages/{message_id}", self._delete_webhook_message, False),
        ]
        return [_RestRoute(m, _compile(p), h, auth) for m, p, h, auth in table]

    async def _handle_rest(self, request: web.Request) -> web.Response:
        received = time.monotonic()
        body, files = await read_body(request)
        path = request.path[len(API_PREFIX) :]
        call = RecordedCall(request.method, path, body, dict(request.query), dict(request.headers), received, files)
        response = self._take_injected(call) or await self._route(call, request)
        call.status = response.status
        call.response = json.loads(response.body) if response.body else None
        self.calls.append(call)
        self._notify()
        return response

    async def _route(self, call: RecordedCall, request: web.Request) -> web.Response:
        for route in self._routes:
            match = route.pattern.fullmatch(call.path)
            if route.method != call.method or match is None:
                continue
            if route.needs_auth and request.headers.get("Authorization") != f"Bot {self.token}":
                return error_response(401, 0, "401: Unauthorized")
            return await route.handler(call, match.groupdict())
        return error_response(404, 0, "404: Not Found")

    # ----------------------------------------------------------------- REST: users, gateway, application

    async def _get_me(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        return json_response({**user_payload(self.world.bot), "verified": True, "mfa_enabled": False})

    async def _get_user(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        user = self.world.user(int(p["user_id"])) if p["user_id"].isdigit() else None
        return json_response(user_payload(user)) if user else error_response(404, 10013, "Unknown User")

    async def _create_dm(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        user = self.world.user(int((call.json or {}).get("recipient_id", 0)))
        if user is None:
            return invalid_form(["recipient_id"], "INVALID", "Unknown user")
        return json_response(channel_payload(self.world.dm_channel(user)))

    async def _get_gateway(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        return json_response({"url": self.gateway_url})

    async def _get_gateway_bot(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}
        return json_response({"url": self.gateway_url, "shards": 1, "session_start_limit": limit})

    async def _get_application(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        return json_response(application_payload(self.world))

    # ----------------------------------------------------------------- REST: application commands

    async def _get_commands(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        guild_id = int(p["guild_id"]) if "guild_id" in p else None
        return json_response(list(self.commands.get(guild_id, {}).values()))

    async def _put_commands(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        guild_id = int(p["guild_id"]) if "guild_id" in p else None
        old = self.commands.get(guild_id, {})
        new: dict[str, Json] = {}
        for command in call.json or []:
            existing = old.get(command["name"])
            command_id = int(existing["id"]) if existing else new_snowflake()
            new[command["name"]] = command_payload(command, self.application_id, guild_id, command_id)
        self.commands[guild_id] = new
        return json_response(list(new.values()))

    # ----------------------------------------------------------------- REST: guilds and channels

    async def _get_member(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        member = self.guild.member(int(p["user_id"])) if p["guild_id"] == str(self.guild.id) else None
        return json_response(member_payload(member)) if member else error_response(404, 10007, "Unknown Member")

    def _channel_or_none(self, raw_id: str) -> FakeChannel | None:
        return self.world.find_channel(int(raw_id)) if raw_id.isdigit() else None

    async def _get_channel(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        channel = self._channel_or_none(p["channel_id"])
        return json_response(channel_payload(channel)) if channel else error_response(404, 10003, "Unknown Channel")

    async def _typing(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        if self._channel_or_none(p["channel_id"]) is None:
            return error_response(404, 10003, "Unknown Channel")
        return no_content()

    async def _get_history(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        found = [m for m in self.messages.values() if m["channel_id"] == p["channel_id"]]
        found.sort(key=lambda m: -int(m["id"]))
        if "before" in call.query:
            found = [m for m in found if int(m["id"]) < int(call.query["before"])]
        if "after" in call.query:
            found = [m for m in found if int(m["id"]) > int(call.query["after"])]
        return json_response(found[: int(call.query.get("limit", 50))])

    def _message_in(self, p: dict[str, str]) -> Json | None:
        message = self.messages.get(int(p["message_id"])) if p["message_id"].isdigit() else None
        return message if message and message["channel_id"] == p["channel_id"] else None

    async def _get_message(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        message = self._message_in(p)
        return json_response(message) if message else error_response(404, 10008, "Unknown Message")

    async def _create_message(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        channel = self._channel_or_none(p["channel_id"])
        if channel is None:
            return error_response(404, 10003, "Unknown Channel")
        body: Json = call.json or {}
        invalid = validate_message_body(body, creating=True, has_files=bool(call.files))
        if invalid:
            return invalid
        reference, error = self._resolve_reference(body.get("message_reference"))
        if error:
            return error
        message = self._new_message(channel, self.world.bot, body, call.files, reference=reference)
        await self._echo("MESSAGE_CREATE", message)
        return json_response(message)

    def _resolve_reference(self, ref: Json | None) -> tuple[Json | None, web.Response | None]:
        if not ref:
            return None, None
        target = self.messages.get(int(ref.get("message_id", 0)))
        if target is None and ref.get("fail_if_not_exists", True):
            return None, invalid_form(["message_reference"], "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
        return target, None

    async def _edit_message(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        message = self._message_in(p)
        if message is None:
            return error_response(404, 10008, "Unknown Message")
        if message["author"]["id"] != str(self.world.bot.id):
            return error_response(403, 50005, "Cannot edit a message authored by another user")
        invalid = validate_message_body(call.json or {}, creating=False, has_files=bool(call.files))
        if invalid:
            return invalid
        self._apply_edit(message, call.json or {}, call.files)
        await self._echo("MESSAGE_UPDATE", message)
        return json_response(message)

    async def _delete_message(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        message = self._message_in(p)
        if message is None:
            return error_response(404, 10008, "Unknown Message")
        await self._delete_stored(message)
        return no_content()

    async def _react(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        return no_content() if self._message_in(p) else error_response(404, 10008, "Unknown Message")

    # ----------------------------------------------------------------- REST: interactions and webhooks

    async def _interaction_callback(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        state = self._interactions.get(int(p["interaction_id"])) if p["interaction_id"].isdigit() else None
        if state is None or state.token != p["token"] or self._expired(state):
            return error_response(404, 10062, "Unknown interaction")
        if state.response_type is not None:
            return error_response(400, 40060, "Interaction has already been acknowledged.")
        body: Json = call.json or {}
        response_type, data = body.get("type"), body.get("data") or {}
        if response_type not in ALLOWED_CALLBACKS[state.type]:
            return invalid_form(["type"], "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid response type")
        if response_type in (CallbackType.CHANNEL_MESSAGE, CallbackType.UPDATE_MESSAGE):
            invalid = validate_message_body(data, creating=response_type == 4, has_files=bool(call.files))
            if invalid:
                return invalid
        state.response_type = response_type
        message = await self._apply_callback(state, response_type, data, call.files)
        return json_response(self._callback_result(state, response_type, message))

    def _expired(self, state: _InteractionState) -> bool:
        deadline = self.interaction_deadline
        return deadline is not None and time.monotonic() - state.created_at > deadline

    async def _apply_callback(
        self, state: _InteractionState, rtype: int, data: Json, files: list[RecordedFile]
    ) -> Json | None:
        if rtype == CallbackType.CHANNEL_MESSAGE:
            return await self._interaction_message(state, data, files, original=True)
        if rtype == CallbackType.DEFERRED_CHANNEL_MESSAGE:
            flags = MSG_FLAG_LOADING | (data.get("flags", 0) & MSG_FLAG_EPHEMERAL)
            return await self._interaction_message(state, {"flags": flags}, [], original=True)
        if rtype == CallbackType.UPDATE_MESSAGE and state.original_id in self.messages:
            message = self.messages[state.original_id]
            self._apply_edit(message, data, files)
            await self._echo("MESSAGE_UPDATE", message)
            return message
        if rtype in (CallbackType.AUTOCOMPLETE_RESULT, CallbackType.MODAL):
            state.result = data
        return None

    def _callback_result(self, state: _InteractionState, rtype: int, message: Json | None) -> Json:
        interaction: Json = {
            "id": str(state.id),
            "type": state.type,
            "response_message_loading": rtype == CallbackType.DEFERRED_CHANNEL_MESSAGE,
            "response_message_ephemeral": bool(message and message["flags"] & MSG_FLAG_EPHEMERAL),
        }
        resource: Json = {"type": rtype}
        if message is not None:
            interaction["response_message_id"] = message["id"]
            resource["message"] = message
        return {"interaction": interaction, "resource": resource}

    def _webhook_state(self, p: dict[str, str]) -> _InteractionState | None:
        if p["app_id"] != str(self.application_id):
            return None
        return next((s for s in self._interactions.values() if s.token == p["token"]), None)

    def _webhook_message(self, p: dict[str, str]) -> tuple[_InteractionState | None, Json | None]:
        state = self._webhook_state(p)
        if state is None:
            return None, None
        raw = p["message_id"]
        message_id = state.original_id if raw == "@original" else int(raw) if raw.isdigit() else None
        if message_id is None or (raw != "@original" and message_id not in state.message_ids):
            return state, None
        return state, self.messages.get(message_id)

    async def _followup(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        state = self._webhook_state(p)
        if state is None or state.response_type is None:
            return error_response(404, 10015, "Unknown Webhook")
        body: Json = call.json or {}
        invalid = validate_message_body(body, creating=True, has_files=bool(call.files))
        if invalid:
            return invalid
        message = await self._interaction_message(state, body, call.files, original=False)
        return json_response(message) if call.query.get("wait") in ("1", "true", "True") else no_content()

    async def _get_webhook_message(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        state, message = self._webhook_message(p)
        if state is None:
            return error_response(404, 10015, "Unknown Webhook")
        return json_response(message) if message else error_response(404, 10008, "Unknown Message")

    async def _edit_webhook_message(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        state, message = self._webhook_message(p)
        if state is None:
            return error_response(404, 10015, "Unknown Webhook")
        if message is None:
            return error_response(404, 10008, "Unknown Message")
        invalid = validate_message_body(call.json or {}, creating=False, has_files=bool(call.files))
        if invalid:
            return invalid
        self._apply_edit(message, call.json or {}, call.files)
        message["flags"] &= ~MSG_FLAG_LOADING
        await self._echo("MESSAGE_UPDATE", message)
        return json_response(message)

    async def _delete_webhook_message(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        state, message = self._webhook_message(p)
        if state is None:
            return error_response(404, 10015, "Unknown Webhook")
        if message is None:
            return error_response(404, 10008, "Unknown Message")
        await self._delete_stored(message)
        return no_content()

    # ----------------------------------------------------------------- message store

    def _new_message(
        self,
        channel: FakeChannel,
        author: FakeUser,
        body: Json,
        files: Sequence[RecordedFile] = (),
        *,
        reference: Json | None = None,
        extra: Json | None = None,
    ) -> Json:
        message: Json = {
            "id": str(new_snowflake()),
            "channel_id": str(channel.id),
            "author": user_payload(author),
            "content": body.get("content") or "",
            "timestamp": iso_now(),
            "edited_timestamp": None,  # required key
            "tts": bool(body.get("tts", False)),
            "mention_everyone": False,
            "mentions": self._mentions(channel, body.get("content") or "", ()),
            "mention_roles": [],
            "attachments": self._attachments(channel.id, body, files),
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "type": MSG_TYPE_DEFAULT,
            "flags": body.get("flags", 0) or 0,
        }
        if channel.guild_id is not None:
            message["guild_id"] = str(channel.guild_id)
        if "nonce" in body:
            message["nonce"] = body["nonce"]
        if reference is not None:
            message["type"] = MSG_TYPE_REPLY
            message["message_reference"] = _reference_of(reference)
            message["referenced_message"] = {k: v for k, v in reference.items() if k != "referenced_message"}
        message.update(extra or {})
        self.messages[int(message["id"])] = message
        return message

    def _mentions(self, channel: FakeChannel, content: str, explicit: Sequence[FakeUser]) -> list[Json]:
        ids = {int(i) for i in re.findall(r"<@!?(\d+)>", content)} | {u.id for u in explicit}
        users = [u for u in self.world.users() if u.id in ids]
        return [self._user_with_member(channel, u) for u in users]

    def _user_with_member(self, channel: FakeChannel, user: FakeUser) -> Json:
        data = user_payload(user)
        member = self.guild.member(user.id) if channel.guild_id == self.guild.id else None
        if member is not None:
            data["member"] = member_payload(member, with_user=False)
        return data

    def _attachments(self, channel_id: int, body: Json, files: Sequence[RecordedFile]) -> list[Json]:
        described = {str(a.get("id")): a.get("description") for a in body.get("attachments") or []}
        uploaded = [attachment_payload(channel_id, f, described.get(_file_index(f))) for f in files]
        kept = [a for a in body.get("attachments") or [] if "url" in a]
        return kept + uploaded

    def _apply_edit(self, message: Json, body: Json, files: Sequence[RecordedFile]) -> None:
        for key in ("content", "embeds", "components"):
            if key in body:
                message[key] = body[key] if body[key] is not None else ("" if key == "content" else [])
        if "flags" in body and body["flags"] is not None:
            message["flags"] = (message["flags"] & (MSG_FLAG_EPHEMERAL | MSG_FLAG_LOADING)) | body["flags"]
        if "attachments" in body or files:
            keep_ids = {str(a.get("id")) for a in body.get("attachments") or []}
            kept = [a for a in message["attachments"] if a["id"] in keep_ids]
            uploaded = self._attachments(int(message["channel_id"]), {"attachments": []}, files)
            message["attachments"] = kept + uploaded
        message["edited_timestamp"] = iso_now()

    async def _delete_stored(self, message: Json) -> None:
        self.messages.pop(int(message["id"]), None)
        event = {"id": message["id"], "channel_id": message["channel_id"]}
        if "guild_id" in message:
            event["guild_id"] = message["guild_id"]
        if self._session is not None and self._message_events_allowed(message):
            await self._dispatch("MESSAGE_DELETE", event)

    async def _interaction_message(
        self, state: _InteractionState, body: Json, files: Sequence[RecordedFile], *, original: bool
    ) -> Json:
        is_command = state.type == InteractionType.APPLICATION_COMMAND
        metadata: Json = {
            "id": str(state.id),
            "type": state.type,
            "user": user_payload(state.user),
            "authorizing_integration_owners": self._integration_owners(state.channel),
        }
        if is_command and state.command_name:
            metadata["name"] = state.command_name
        extra: Json = {
            "webhook_id": str(self.application_id),
            "application_id": str(self.application_id),
            "type": MSG_TYPE_CHAT_INPUT_COMMAND if is_command else MSG_TYPE_DEFAULT,
            "interaction_metadata": metadata,
        }
        message = self._new_message(state.channel, self.world.bot, body, files, extra=extra)
        state.message_ids.add(int(message["id"]))
        if original:
            state.original_id = int(message["id"])
        if not message["flags"] & MSG_FLAG_EPHEMERAL:
            await self._echo("MESSAGE_CREATE", message)
        return message

    # ----------------------------------------------------------------- gateway: connections

    async def _handle_gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self._connection_count += 1
        conn = _Connection(self._connection_count, ws, dict(request.query))
        self._connections.add(conn)
        try:
            await self._send(conn, {"op": Op.HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_frame(conn, json.loads(msg.data))
        finally:
            self._connections.discard(conn)
            if self._live is conn:
                self._live = None
        return ws

    async def _send(self, conn: _Connection, payload: Json) -> None:
        if conn.ws.closed:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            await conn.ws.send_str(json.dumps(payload))

    async def _on_frame(self, conn: _Connection, frame: Json) -> None:
        op, data = frame.get("op"), frame.get("d")
        self.gateway_frames.append(GatewayFrame(op, data, conn.number, time.monotonic()))
        self._notify()
        if op == Op.HEARTBEAT:
            await self._send(conn, {"op": Op.HEARTBEAT_ACK})
        elif op == Op.IDENTIFY:
            await self._on_identify(conn, data)
        elif op == Op.RESUME:
            await self._on_resume(conn, data)
        elif op == Op.REQUEST_GUILD_MEMBERS:
            await self._on_request_members(data)

    async def _on_identify(self, conn: _Connection, data: Json) -> None:
        if data.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        session = _Session(secrets.token_hex(16), int(data.get("intents", 0)), data.get("shard"))
        self._session, conn.session, self._live = session, session, conn
        await self._dispatch("READY", ready_payload(self.world, session.id, self.gateway_url, session.shard))
        if session.intents & Intent.GUILDS:
            await self._dispatch("GUILD_CREATE", guild_create_payload(self.guild))

    async def _on_resume(self, conn: _Connection, data: Json) -> None:
        session = self._session
        if session is None or data.get("session_id") != session.id or data.get("token") != self.token:
            await self._send(conn, {"op": Op.INVALID_SESSION, "d": False})
            return
        async with self._send_lock:
            conn.session, self._live = session, conn
            for event in session.log:
                if event["s"] > (data.get("seq") or 0):
                    await self._send(conn, event)
            await self._dispatch_locked("RESUMED", {})

    async def _on_request_members(self, data: Json) -> None:
        query, user_ids = data.get("query", ""), {int(u) for u in data.get("user_ids") or []}
        members = [
            m for m in self.guild.members if (m.user.id in user_ids if user_ids else m.user.username.startswith(query))
        ]
        chunk: Json = {
            "guild_id": str(self.guild.id),
            "members": [member_payload(m) for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
        }
        if "nonce" in data:
            chunk["nonce"] = data["nonce"]
        await self._dispatch("GUILD_MEMBERS_CHUNK", chunk)

    # ----------------------------------------------------------------- gateway: dispatch

    async def _dispatch(self, event: str, data: Json) -> None:
        async with self._send_lock:
            await self._dispatch_locked(event, data)

    async def _dispatch_locked(self, event: str, data: Json) -> None:
        session = self._session
        if session is None:
            raise RuntimeError("no gateway session: has the bot connected (IDENTIFY) yet?")
        session.seq += 1
        payload = {"op": Op.DISPATCH, "t": event, "s": session.seq, "d": data}
        session.log.append(payload)
        live = self._live
        if live is not None and live.session is session:
            await self._send(live, payload)

    def _message_events_allowed(self, message: Json) -> bool:
        intents = self._session.intents if self._session else 0
        return bool(intents & (Intent.GUILD_MESSAGES if "guild_id" in message else Intent.DIRECT_MESSAGES))

    def _as_seen_by_bot(self, message: Json) -> Json:
        """Gateway copy: add the author's member; blank content without MESSAGE_CONTENT intent."""
        seen = dict(message)
        member = self.guild.member(int(message["author"]["id"])) if "guild_id" in message else None
        if member is not None and "webhook_id" not in message:
            seen["member"] = member_payload(member, with_user=False)
        intents = self._session.intents if self._session else 0
        bot_id = str(self.world.bot.id)
        privileged = "guild_id" not in message or message["author"]["id"] == bot_id
        mentioned = any(m["id"] == bot_id for m in message["mentions"])
        if not (intents & Intent.MESSAGE_CONTENT or privileged or mentioned):
            seen.update(content="", embeds=[], attachments=[], components=[])
        return seen

    async def _echo(self, event: str, message: Json) -> None:
        """Dispatch the gateway event Discord sends for a message the bot itself created/edited."""
        if self.echo_bot_messages and self._session is not None and self._message_events_allowed(message):
            await self._dispatch(event, self._as_seen_by_bot(message))

    # ----------------------------------------------------------------- test-side API: gateway control

    async def force_reconnect(self, code: int = 4000) -> None:
        """Close the bot's websocket with a resumable close code; it should RESUME."""
        conn = self._live
        if conn is None:
            raise RuntimeError("no live gateway connection")
        self._live = None
        await conn.ws.close(code=code, message=b"fake-discord: forced reconnect")

    async def request_reconnect(self) -> None:
        """Send opcode 7 RECONNECT."""
        if self._live is not None:
            await self._send(self._live, {"op": Op.RECONNECT, "d": None})

    async def invalidate_session(self, resumable: bool = False) -> None:
        """Send opcode 9.  discord.py sleeps 5 s before a non-initial re-IDENTIFY."""
        if self._live is not None:
            await self._send(self._live, {"op": Op.INVALID_SESSION, "d": resumable})
        if not resumable:
            self._session = None

    @property
    def is_connected(self) -> bool:
        return self._live is not None

    # ----------------------------------------------------------------- test-side API: events

    def dm_channel(self, user: FakeUser) -> FakeChannel:
        return self.world.dm_channel(user)

    async def send_message(
        self,
        channel_id: int,
        author: FakeUser,
        content: str,
        *,
        mentions: Sequence[FakeUser] = (),
        embeds: Sequence[Json] = (),
        reply_to: int | None = None,
    ) -> Json:
        """A user posts a message: store it and dispatch MESSAGE_CREATE.  Returns the message."""
        channel = self._require_channel(channel_id)
        reference = self.messages.get(reply_to) if reply_to is not None else None
        body: Json = {"content": content, "embeds": list(embeds)}
        message = self._new_message(channel, author, body, reference=reference)
        message["mentions"] = self._mentions(channel, content, mentions)
        if self._message_events_allowed(message):
            await self._dispatch("MESSAGE_CREATE", self._as_seen_by_bot(message))
        return message

    async def send_interaction(
        self,
        user: FakeUser,
        command_name: str,
        options: Mapping[str, Any] | list[Json] | None = None,
        *,
        channel_id: int | None = None,
        command_guild_id: int | None = None,
    ) -> SentInteraction:
        """A slash command.  "group sub" names become subcommand options.

        Options: a mapping name -> value (types from the synced schema, else inferred:
        bool 5, int 4, float 10, str 3, FakeUser 6) or Discord's raw option list.
        """
        itype = InteractionType.APPLICATION_COMMAND
        return await self._command_like(itype, user, command_name, options, None, channel_id, command_guild_id)

    async def send_autocomplete(
        self,
        user: FakeUser,
        command_name: str,
        options: Mapping[str, Any],
        focused: str,
        *,
        channel_id: int | None = None,
        command_guild_id: int | None = None,
    ) -> SentInteraction:
        """Autocomplete (type 4) with `focused` marking the option being typed."""
        itype = InteractionType.AUTOCOMPLETE
        return await self._command_like(itype, user, command_name, options, focused, channel_id, command_guild_id)

    async def send_component(
        self,
        user: FakeUser,
        message_id: int,
        custom_id: str,
        *,
        component_type: int = 2,
        values: Sequence[str] | None = None,
    ) -> SentInteraction:
        """A click on a button (type 2) or select (type 3) of a stored message."""
        message = self.messages[message_id]
        channel = self._require_channel(int(message["channel_id"]))
        data: Json = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = list(values)
        return await self._send_interaction(InteractionType.MESSAGE_COMPONENT, user, channel, data, message=message)

    async def send_modal_submit(
        self, user: FakeUser, custom_id: str, values: Mapping[str, str], *, channel_id: int | None = None
    ) -> SentInteraction:
        """Submit of a modal whose text inputs have these custom_ids -> values."""
        rows = [{"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]} for k, v in values.items()]
        channel = self._require_channel(channel_id or self.channel.id)
        data: Json = {"custom_id": custom_id, "components": rows}
        return await self._send_interaction(InteractionType.MODAL_SUBMIT, user, channel, data)

    def interaction_result(self, sent: SentInteraction) -> Json | None:
        """What the bot answered to an autocomplete (choices) or a modal request."""
        return self._interactions[sent.id].result

    def original_message(self, sent: SentInteraction) -> Json | None:
        state = self._interactions[sent.id]
        return self.messages.get(state.original_id) if state.original_id else None

    # ----------------------------------------------------------------- interaction builders

    def _require_channel(self, channel_id: int) -> FakeChannel:
        channel = self.world.find_channel(channel_id)
        if channel is None:
            raise KeyError(f"unknown channel {channel_id}")
        return channel

    async def _command_like(
        self,
        itype: int,
        user: FakeUser,
        command_name: str,
        options: Mapping[str, Any] | list[Json] | None,
        focused: str | None,
        channel_id: int | None,
        command_guild_id: int | None,
    ) -> SentInteraction:
        channel = self._require_channel(channel_id or self.channel.id)
        root, *path = command_name.split()
        guild_id = command_guild_id or self._registered_guild(root, channel.guild_id)
        registered = self.commands.get(guild_id, {}).get(root)
        leaf_schema = _leaf_schema(registered, path)
        leaf, resolved = self._build_options(options, leaf_schema, channel, focused)
        data: Json = {
            "id": registered["id"] if registered else str(_stable_command_id(root)),
            "name": root,
            "type": 1,
            "options": _nest_subcommands(path, leaf),
        }
        if guild_id is not None:
            data["guild_id"] = str(guild_id)
        if resolved:
            data["resolved"] = resolved
        return await self._send_interaction(itype, user, channel, data, command_name=root)

    def _registered_guild(self, name: str, guild_id: int | None) -> int | None:
        return guild_id if guild_id is not None and name in self.commands.get(guild_id, {}) else None

    def _build_options(
        self,
        options: Mapping[str, Any] | list[Json] | None,
        schema: list[Json],
        channel: FakeChannel,
        focused: str | None,
    ) -> tuple[list[Json], Json]:
        if isinstance(options, list):
            return options, {}
        types = {o["name"]: o["type"] for o in schema}
        built: list[Json] = []
        resolved: Json = {}
        for name, value in (options or {}).items():
            option_type = types.get(name) or _infer_option_type(value)
            if isinstance(value, FakeUser):
                self._resolve_user(resolved, channel, value)
                value = str(value.id)
            option: Json = {"name": name, "type": option_type, "value": value}
            if name == focused:
                option["focused"] = True
            built.append(option)
        return built, resolved

    def _resolve_user(self, resolved: Json, channel: FakeChannel, user: FakeUser) -> None:
        resolved.setdefault("users", {})[str(user.id)] = user_payload(user)
        member = self.guild.member(user.id) if channel.guild_id == self.guild.id else None
        if member is not None:
            permissions = self.guild.permissions_for(user.id)
            member_data = member_payload(member, with_user=False, permissions=permissions)
            resolved.setdefault("members", {})[str(user.id)] = member_data

    async def _send_interaction(
        self,
        itype: int,
        user: FakeUser,
        channel: FakeChannel,
        data: Json,
        *,
        message: Json | None = None,
        command_name: str | None = None,
    ) -> SentInteraction:
        interaction_id, token = new_snowflake(), f"fake-interaction-{secrets.token_urlsafe(24)}"
        state = _InteractionState(interaction_id, token, itype, user, channel, command_name, time.monotonic())
        if message is not None:
            state.original_id = int(message["id"])
        self._interactions[interaction_id] = state
        payload = self._interaction_payload(state, data, message)
        await self._dispatch("INTERACTION_CREATE", payload)
        return SentInteraction(interaction_id, token, self.application_id, payload)

    def _integration_owners(self, channel: FakeChannel) -> Json:
        """Guild install ("0") inside a guild; in a DM, the bot is installed for the guild it shares."""
        return {"0": str(channel.guild_id if channel.guild_id is not None else self.guild.id)}

    def _interaction_payload(self, state: _InteractionState, data: Json, message: Json | None) -> Json:
        channel = state.channel
        payload: Json = {
            "id": str(state.id),
            "application_id": str(self.application_id),
            "type": state.type,
            "data": data,
            "token": state.token,
            "version": 1,
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024,
            "channel_id": str(channel.id),
            "channel": channel_payload(channel),
        }
        if message is not None:
            payload["message"] = message
        if channel.guild_id is None:
            payload.update(user=user_payload(state.user), context=1, app_permissions=str(Perm.ALL))
            payload["authorizing_integration_owners"] = self._integration_owners(channel)
            return payload
        member = self.guild.member(state.user.id) or FakeMember(state.user)
        payload.update(
            guild_id=str(channel.guild_id),
            guild={"id": str(channel.guild_id), "locale": "en-US", "features": []},
            guild_locale="en-US",
            context=0,
            member=member_payload(member, permissions=self.guild.permissions_for(state.user.id)),
            app_permissions=str(self.guild.permissions_for(self.world.bot.id)),
            authorizing_integration_owners=self._integration_owners(channel),
        )
        payload["channel"]["permissions"] = payload["member"]["permissions"]
        return payload


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
    if isinstance(value, FakeUser):
        return 6
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


# --------------------------------------------------------------------------- discord.py glue


@contextlib.contextmanager
def patch_discord(server: FakeDiscord) -> Iterator[None]:
    """Point discord.py's REST base (also used by the interaction webhook adapter) and gateway at `server`."""
    import discord.gateway
    import discord.http
    import yarl

    route, gateway = discord.http.Route, discord.gateway.DiscordWebSocket
    old_base, old_gateway = route.BASE, gateway.DEFAULT_GATEWAY
    route.BASE = server.api_base
    gateway.DEFAULT_GATEWAY = yarl.URL(server.gateway_url)
    try:
        yield
    finally:
        route.BASE, gateway.DEFAULT_GATEWAY = old_base, old_gateway


@contextlib.asynccontextmanager
async def running_client(client: Any, server: FakeDiscord, *, timeout: float = 10.0) -> AsyncIterator[Any]:
    """Start `client` (discord.Client / commands.Bot) against `server`, wait for on_ready, always close it."""
    task = asyncio.create_task(client.start(server.token), name="fake-discord-client")
    try:
        await _wait_ready(client, task, timeout)
        yield client
    finally:
        await client.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout)


async def _wait_ready(client: Any, task: asyncio.Task[None], timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not client.is_ready():
            if task.done():
                task.result()  # re-raise the login/connect error
                raise RuntimeError("client stopped before it was ready")
            await asyncio.sleep(0.01)
