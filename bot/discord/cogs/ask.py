"""/ask: a question answered with quoted, cited passages."""
from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import embeds
from bot.answer import ask as answer_question
from bot.discord.checks import cooled
from bot.discord.options import (
    ANSWER_ARTICLES,
    FILTER_HINTS,
    Date,
    Outlet,
    query_filters,
)
from bot.discord.replies import Reply, respond

if TYPE_CHECKING:
    from bot.discord.app import NewsBot


class Ask(commands.Cog):
    def __init__(self, bot: NewsBot) -> None:
        self.bot = bot

    @app_commands.command(name="ask", description="Answer a question with quoted, cited passages from the news archive")
    @app_commands.describe(question="What you want to know, e.g. what did the Kremlin expect from Macron's visit?", **FILTER_HINTS)
    @app_commands.check(cooled)
    async def ask_command(
        self, interaction: discord.Interaction, question: app_commands.Range[str, 2, 500],
        since: Date | None = None, until: Date | None = None, outlet: Outlet | None = None,
    ) -> None:
        filters = query_filters(since, until, outlet)

        async def build() -> Reply:
            answer = await self.bot.in_worker(answer_question, self.bot.archive, question, ANSWER_ARTICLES, filters)
            return {"embed": embeds.answer_embed(answer)}

        await respond(interaction, build)


async def setup(bot: NewsBot) -> None:
    await bot.add_cog(Ask(bot))
