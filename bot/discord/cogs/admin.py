"""/status, /reindex and /config: the archive's state, rebuilding it, and the server's channels
(the last two for Manage Server or the admin role)."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import embeds
from bot.discord.checks import Refused, admin_only, archive_admin, reindex_cooled
from bot.discord.replies import Reply, respond
from index.archive import ArchiveBusy
from index.store.rows import ArchiveStats

if TYPE_CHECKING:
    from bot.discord.app import NewsBot

log = logging.getLogger(__name__)

REINDEX_BUSY = "Another ingest or rebuild is writing to the archive; try again when it ends."


class ProgressEdits:
    """`Archive.rebuild`'s on_progress, called in the worker: edits the message from the event loop,
    at most every `every` seconds and one edit at a time, so edits arrive in order."""

    def __init__(self, loop: asyncio.AbstractEventLoop, message: discord.PartialMessage, every: float) -> None:
        self.loop, self.message, self.every = loop, message, every
        self.last = float("-inf")
        self.pending: Future[Any] | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < self.every or (self.pending is not None and not self.pending.done()):
            return
        self.last = now
        edit = self.message.edit(content=embeds.progress_text(stage, done, total))
        self.pending = asyncio.run_coroutine_threadsafe(edit, self.loop)

    async def settle(self) -> None:
        if self.pending is not None:
            try:
                await asyncio.wrap_future(self.pending)
            except discord.HTTPException:
                log.warning("could not edit the reindex progress message", exc_info=True)


def status_of(bot: NewsBot) -> tuple[ArchiveStats, dict[str, int], int]:
    """The archive's stats, the feedback votes and how many topics are followed."""
    return bot.archive.stats(), bot.state.feedback.counts(), len(bot.state.follows.all())


def admin_and_cooled(interaction: discord.Interaction) -> bool:
    """Admins of the admin servers only, then the reindex cooldown: a refused member must not start it."""
    return archive_admin(interaction) and reindex_cooled(interaction)


class Admin(commands.Cog):
    def __init__(self, bot: NewsBot) -> None:
        self.bot = bot

    @app_commands.command(
        name="status", description="Articles, chunks, date coverage, outlets, last ingest, index, model and feedback"
    )
    async def status_command(self, interaction: discord.Interaction) -> None:
        async def build() -> Reply:
            return {"embed": embeds.status_embed(*await self.bot.in_worker(status_of, self.bot))}

        await respond(interaction, build)

    @app_commands.command(
        name="reindex", description="Re-chunk and re-embed the whole archive (Manage Server or the admin role)"
    )
    @app_commands.guild_only()
    @app_commands.check(admin_and_cooled)
    async def reindex_command(self, interaction: discord.Interaction) -> None:
        if self.bot.reindexing.locked():
            raise Refused("A reindex is already running; its progress message says how far it is.")
        async with self.bot.reindexing:
            sent = await respond(interaction, lambda: {"content": embeds.progress_text("starting")})
            # edited through the channel, not the interaction token, which expires after 15 minutes
            message = sent.channel.get_partial_message(sent.id)  # type: ignore[union-attr]  # guild_only: a guild channel, which has it
            progress = ProgressEdits(asyncio.get_running_loop(), message, self.bot.progress_every)
            started = time.monotonic()
            try:
                chunks = await self.bot.in_worker(self.bot.archive.rebuild, False, progress)
                text = embeds.reindex_done_text(chunks, time.monotonic() - started)
            except ArchiveBusy:
                text = REINDEX_BUSY
            finally:
                await progress.settle()
            try:
                await message.edit(content=text)
            except discord.HTTPException:  # no access to the channel itself: the interaction token may still do
                await interaction.edit_original_response(content=text)


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Config(
    commands.GroupCog, group_name="config", group_description="This server's ask-channels and announce channel"
):
    """Stored in the database; ASK_CHANNEL_IDS and ANNOUNCE_CHANNEL_ID stay the defaults."""

    def __init__(self, bot: NewsBot) -> None:
        self.bot = bot
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return admin_only(interaction)

    @app_commands.command(name="show", description="The ask-channels and announce channel of this server")
    async def show(self, interaction: discord.Interaction) -> None:
        await respond(interaction, lambda: self.shown(interaction), ephemeral=True)

    @app_commands.command(name="ask-channel", description="Make every message in a channel a question, or stop it")
    @app_commands.describe(
        channel="The channel", enabled="True: every message there is a question; False: mentions only"
    )
    async def ask_channel(
        self, interaction: discord.Interaction, channel: discord.TextChannel, enabled: bool = True
    ) -> None:
        assert interaction.guild_id is not None
        guild = interaction.guild_id
        chosen = set(self.bot.guild_ask_channels.get(guild, set()))
        chosen = chosen | {channel.id} if enabled else chosen - {channel.id}

        async def build() -> Reply:
            await self.bot.in_worker(self.bot.state.guilds.set_ask_channels, guild, chosen)
            self.bot.guild_ask_channels[guild] = chosen
            return self.shown(interaction, warn=enabled and not self.bot.intents.message_content)

        await respond(interaction, build, ephemeral=True)

    @app_commands.command(name="announce-channel", description="Where new articles from the feeds are announced")
    @app_commands.describe(channel="The channel (leave out to use ANNOUNCE_CHANNEL_ID again)")
    async def announce_channel(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        assert interaction.guild_id is not None
        guild = interaction.guild_id

        async def build() -> Reply:
            await self.bot.in_worker(self.bot.state.guilds.set_announce_channel, guild, channel.id if channel else None)
            if channel is None:
                self.bot.guild_announce_channels.pop(guild, None)
            else:
                self.bot.guild_announce_channels[guild] = channel.id
            return self.shown(interaction)

        await respond(interaction, build, ephemeral=True)

    def shown(self, interaction: discord.Interaction, warn: bool = False) -> Reply:
        guild = interaction.guild
        announce = (
            self.bot.guild_announce_channels.get(interaction.guild_id or 0) or self.bot.settings.announce_channel_id
        )
        embed = embeds.config_embed(
            sorted(self.bot.ask_channels_of(guild)), announce, bool(self.bot.settings.ask_channel_ids)
        )
        return {"embed": embed, "content": embeds.NEEDS_CONTENT_INTENT if warn else None}


async def setup(bot: NewsBot) -> None:
    await bot.add_cog(Admin(bot))
    await bot.add_cog(Config(bot))
