"""Fake Discord's gateway: websocket connections, IDENTIFY/RESUME, dispatch, forced reconnects, the settle heartbeat."""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from .payloads import guild_create_payload, member_payload, ready_payload
from .records import GatewayFrame
from .world import Intent, Json, Op


@dataclass
class GatewaySession:
    id: str
    intents: int
    shard: list[int] | None
    seq: int = 0
    log: list[Json] = field(default_factory=list)


@dataclass(eq=False)
class GatewayConnection:
    number: int
    ws: web.WebSocketResponse
    query: dict[str, str]
    session: GatewaySession | None = None


class GatewayServer:
    """Gateway half of FakeDiscord (state lives in FakeDiscord.__init__)."""

    # ----------------------------------------------------------------- gateway: connections

    async def _handle_gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self._connection_count += 1
        conn = GatewayConnection(self._connection_count, ws, dict(request.query))
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

    async def _send(self, conn: GatewayConnection, payload: Json) -> None:
        if conn.ws.closed:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            await conn.ws.send_str(json.dumps(payload))

    async def _on_frame(self, conn: GatewayConnection, frame: Json) -> None:
        op, data = frame.get("op"), frame.get("d")
        self.gateway_frames.append(GatewayFrame(op, data, conn.number, time.monotonic()))
        self._notify()
        if op == Op.HEARTBEAT:
            await self._send(conn, {"op": Op.HEARTBEAT_ACK})
        elif op == Op.IDENTIFY:
            await self._on_identify(conn, data)
        elif op == Op.RESUME:
            await self._on_resume(conn, data)

    async def _on_identify(self, conn: GatewayConnection, data: Json) -> None:
        if data.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        session = GatewaySession(secrets.token_hex(16), int(data.get("intents", 0)), data.get("shard"))
        self._session, conn.session, self._live = session, session, conn
        await self._dispatch("READY", ready_payload(self.world, session.id, self.gateway_url, session.shard))
        if session.intents & Intent.GUILDS:
            await self._dispatch("GUILD_CREATE", guild_create_payload(self.guild))

    async def _on_resume(self, conn: GatewayConnection, data: Json) -> None:
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

    async def request_heartbeat(self) -> int:
        """A marker event, then opcode 1: the bot's answering heartbeat carries the marker's seq (returned) or later
        once it has read every event sent before the marker."""
        async with self._send_lock:
            live = self._live
            if live is None:
                raise RuntimeError("no live gateway connection")
            await self._dispatch_locked("FAKE_DISCORD_MARKER", {})
            assert self._session is not None  # _dispatch_locked raised otherwise
            await self._send(live, {"op": Op.HEARTBEAT, "d": None})
            return self._session.seq
