"""FakeDiscord itself: lifecycle, waiting, the test-side API, and the discord.py glue."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any

from aiohttp import WSCloseCode, web

from .gateway import GatewayConnection, GatewayServer, GatewaySession
from .payloads import (
    channel_payload,
    infer_option_type,
    member_payload,
    nest_subcommands,
    option_schema,
    stable_command_id,
    user_payload,
)
from .records import GatewayFrame, InteractionState, RecordedCall, SentInteraction
from .rest import API_PREFIX, InjectedResponse, RestApi
from .world import (
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeUser,
    InteractionType,
    Json,
    Op,
    Perm,
    T,
    World,
    default_world,
    new_snowflake,
)

# --------------------------------------------------------------------------- the server


class FakeDiscord(RestApi, GatewayServer):
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
        self._interactions: dict[int, InteractionState] = {}
        self._injected: list[InjectedResponse] = []
        self._connections: set[GatewayConnection] = set()
        self._connection_count = 0
        self._session: GatewaySession | None = None
        self._live: GatewayConnection | None = None
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

    async def settle(self, timeout: float = 5.0) -> None:
        """Return once the bot has read every gateway event sent so far and its handlers for them have finished.

        How a test shows that an event led to nothing: settle, then assert on what was recorded."""
        after = len(self.gateway_frames)
        seq = await self.request_heartbeat()

        def answered() -> GatewayFrame | None:
            beats = (f for f in self.gateway_frames[after:] if f.op == Op.HEARTBEAT and isinstance(f.d, int))
            return next((f for f in beats if f.d >= seq), None)

        await self._wait_until(answered, timeout, lambda: f"a heartbeat with seq >= {seq}")
        await _handlers_finished(timeout)

    @property
    def identify_payloads(self) -> list[Json]:
        return [f.d for f in self.gateway_frames if f.op == Op.IDENTIFY]

    @property
    def unhandled_calls(self) -> list[RecordedCall]:
        """Calls to routes the fake does not implement (answered 404)."""
        return [c for c in self.calls if c.status == 404 and c.response == {"message": "404: Not Found", "code": 0}]

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
        bool 5, int 4, float 10, str 3, FakeChannel 7) or Discord's raw option list.
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
        shown = [c.get("custom_id") for row in message.get("components", []) for c in row.get("components", [])]
        if custom_id not in shown:  # Discord only sends clicks on components the message has
            raise KeyError(f"message {message_id} has no component {custom_id!r} (it has {shown})")
        channel = self._require_channel(int(message["channel_id"]))
        data: Json = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = list(values)
        return await self._send_interaction(InteractionType.MESSAGE_COMPONENT, user, channel, data, message=message)

    def interaction_result(self, sent: SentInteraction) -> Json | None:
        """What the bot answered to an autocomplete: its choices."""
        return self._interactions[sent.id].result

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
        leaf_schema = option_schema(registered, path)
        leaf, resolved = self._build_options(options, leaf_schema, channel, focused)
        data: Json = {
            "id": registered["id"] if registered else str(stable_command_id(root)),
            "name": root,
            "type": 1,
            "options": nest_subcommands(path, leaf),
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
            option_type = types.get(name) or infer_option_type(value)
            if isinstance(value, FakeChannel):
                data = {**channel_payload(value), "permissions": str(self.guild.permissions_for(self.world.bot.id))}
                resolved.setdefault("channels", {})[str(value.id)] = data
                value = str(value.id)
            option: Json = {"name": name, "type": option_type, "value": value}
            if name == focused:
                option["focused"] = True
            built.append(option)
        return built, resolved

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
        state = InteractionState(interaction_id, token, itype, user, channel, command_name, time.monotonic())
        if message is not None:
            state.original_id = int(message["id"])
        self._interactions[interaction_id] = state
        payload = self._interaction_payload(state, data, message)
        await self._dispatch("INTERACTION_CREATE", payload)
        return SentInteraction(interaction_id, token, self.application_id, payload)

    def _integration_owners(self, channel: FakeChannel) -> Json:
        """Guild install ("0") inside a guild; in a DM, the bot is installed for the guild it shares."""
        return {"0": str(channel.guild_id if channel.guild_id is not None else self.guild.id)}

    def _interaction_payload(self, state: InteractionState, data: Json, message: Json | None) -> Json:
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


# discord.py's names for the tasks that run event handlers, app commands and view callbacks
HANDLER_TASKS = ("discord.py: on_", "CommandTree-invoker", "discord-ui-view-dispatch")


async def _handlers_finished(timeout: float) -> None:
    current = asyncio.current_task()
    running = [
        t for t in asyncio.all_tasks() if t is not current and t.get_name().startswith(HANDLER_TASKS) and not t.done()
    ]
    if not running:
        return
    _, pending = await asyncio.wait(running, timeout=timeout)
    if pending:
        raise TimeoutError(f"handlers still running after {timeout}s: {sorted(t.get_name() for t in pending)}")
