"""/ask: a question answered with quoted, cited passages (in a thread's context when asked in one)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord import answering
from bot.discord.checks import cooled
from bot.discord.options import FILTER_HINTS, Date, Outlet, query_filters
from bot.discord.replies import Reply, respond

if TYPE_CHECKING:
    from bot.discord.app import NewsBot


class Ask(commands.Cog):
    def __init__(self, bot: NewsBot) -> None:
        self.bot = bot

    @app_commands.command(name="ask", description="Answer a question with quoted, cited passages from the news archive")
    @app_commands.describe(
        question="What you want to know, e.g. what did the Kremlin expect from Macron's visit?", **FILTER_HINTS
    )
    @app_commands.check(cooled)
    async def ask_command(
        self,
        interaction: discord.Interaction,
        question: app_commands.Range[str, 2, 500],
        since: Date | None = None,
        until: Date | None = None,
        outlet: Outlet | None = None,
    ) -> None:
        filters = query_filters(since, until, outlet)
        key = answering.conversation_key(interaction.channel)
        found = None

        async def build() -> Reply:
            nonlocal found
            found = await answering.answer(self.bot, key, question, filters)
            return answering.answer_reply(found)

        sent = await respond(interaction, build)
        if found is not None:
            await answering.remember(self.bot, sent, found, filters)


async def setup(bot: NewsBot) -> None:
    await bot.add_cog(Ask(bot))
