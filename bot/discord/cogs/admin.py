"""/status and /reindex: the archive's state, and rebuilding it (Manage Server or the admin role)."""
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
from bot.discord.checks import Refused, admin_only
from bot.discord.replies import Reply, respond
from index.archive import ArchiveBusy

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


class Admin(commands.Cog):
    def __init__(self, bot: NewsBot) -> None:
        self.bot = bot

    @app_commands.command(name="status", description="Articles, chunks, date coverage, outlets, last ingest, index and model")
    async def status_command(self, interaction: discord.Interaction) -> None:
        async def build() -> Reply:
            return {"embed": embeds.status_embed(await self.bot.in_worker(self.bot.archive.stats))}

        await respond(interaction, build)

    @app_commands.command(name="reindex", description="Re-chunk and re-embed the whole archive (Manage Server or the admin role)")
    @app_commands.guild_only()
    @app_commands.check(admin_only)
    async def reindex_command(self, interaction: discord.Interaction) -> None:
        if self.bot.reindexing.locked():
            raise Refused("A reindex is already running; its progress message says how far it is.")
        async with self.bot.reindexing:
            sent = await respond(interaction, lambda: {"content": embeds.progress_text("starting")})
            # edited through the channel, not the interaction token, which expires after 15 minutes
            message = sent.channel.get_partial_message(sent.id)  # type: ignore[union-attr]
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


async def setup(bot: NewsBot) -> None:
    await bot.add_cog(Admin(bot))
