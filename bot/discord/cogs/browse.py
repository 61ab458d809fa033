"""/search (paged), /recent and /article: finding articles rather than answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import embeds
from bot.discord.checks import cooled
from bot.discord.options import FILTER_HINTS, Date, Outlet, query_filters
from bot.discord.replies import Reply, respond
from bot.discord.views import Pager
from index.search import search as search_archive
from index.search.browse import find_article, recent_articles

if TYPE_CHECKING:
    from bot.discord.app import NewsBot

SEARCH_RESULTS = 20
PAGE_SIZE = 5


class Browse(commands.Cog):
    def __init__(self, bot: NewsBot) -> None:
        self.bot = bot

    @app_commands.command(name="search", description="Find the articles that best match, with pages of results")
    @app_commands.describe(query="Words or a question, e.g. wheat prices Black Sea", **FILTER_HINTS)
    @app_commands.check(cooled)
    async def search_command(
        self,
        interaction: discord.Interaction,
        query: app_commands.Range[str, 2, 500],
        since: Date | None = None,
        until: Date | None = None,
        outlet: Outlet | None = None,
    ) -> None:
        filters = query_filters(since, until, outlet)

        async def build() -> Reply:
            response = await self.bot.in_worker(search_archive, self.bot.archive, query, SEARCH_RESULTS, filters)
            pages = embeds.results_pages(response, PAGE_SIZE)
            if len(pages) == 1:
                return {"embed": pages[0]}
            pager = Pager(pages, interaction, self.bot.pager_timeout)
            self.bot.pagers.add(pager)
            return {"embed": pages[0], "view": pager}

        await respond(interaction, build)

    @app_commands.command(name="recent", description="The most recently published articles in the archive")
    @app_commands.describe(count="How many articles (1–25)", outlet=FILTER_HINTS["outlet"])
    async def recent_command(
        self, interaction: discord.Interaction, count: app_commands.Range[int, 1, 25] = 5, outlet: Outlet | None = None
    ) -> None:
        async def build() -> Reply:
            rows = await self.bot.in_worker(recent_articles, self.bot.archive, count, outlet)
            return {"embed": embeds.recent_embed(rows, outlet)}

        await respond(interaction, build)

    @app_commands.command(
        name="article", description="Headline, outlet, date, link and opening paragraph of one article"
    )
    @app_commands.describe(url="The article's address, e.g. https://www.reuters.com/…")
    async def article_command(self, interaction: discord.Interaction, url: app_commands.Range[str, 8, 2048]) -> None:
        async def build() -> Reply:
            row = await self.bot.in_worker(find_article, self.bot.archive, url)
            return {"embed": embeds.article_embed(row) if row else embeds.article_missing_embed(url)}

        await respond(interaction, build)


async def setup(bot: NewsBot) -> None:
    await bot.add_cog(Browse(bot))
