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
access is needed; nothing here imports discord.py except the glue in ``server``.

Modules: ``world`` (users, guild, channels, Discord's constants), ``payloads`` (the JSON it sends),
``records`` (what it recorded, the interactions it sent), ``rest`` (the REST API), ``gateway`` (the
websocket), ``server`` (:class:`FakeDiscord`, the test-side API, the discord.py glue).
"""

from .records import GatewayFrame, RecordedCall, RecordedFile, SentInteraction
from .server import FakeDiscord, patch_discord, running_client
from .world import (
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    Intent,
    Op,
    Perm,
    World,
    default_world,
    new_snowflake,
)

__all__ = [
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeMember",
    "FakeRole",
    "FakeUser",
    "GatewayFrame",
    "Intent",
    "Op",
    "Perm",
    "RecordedCall",
    "RecordedFile",
    "SentInteraction",
    "World",
    "default_world",
    "new_snowflake",
    "patch_discord",
    "running_client",
]
