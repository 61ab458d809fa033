"""/timeline: how a story developed, page by page, with a chart of articles per week."""

from __future__ import annotations

import io
from datetime import datetime
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import embeds
from bot.chart import weekly_chart
from bot.discord.checks import cooled
from bot.discord.options import FILTER_HINTS, Date, query_filters
from bot.discord.replies import Reply, respond
from bot.discord.views import Pager
from bot.timeline import Timeline, build_timeline

if TYPE_CHECKING:
    from bot.discord.app import NewsBot

PAGE_SIZE = 10


def timeline_and_chart(
    bot: NewsBot, topic: str, since: datetime | None, until: datetime | None
) -> tuple[Timeline, bytes | None]:
    """In a worker: the search and the drawing both take a while."""
    timeline = build_timeline(bot.archive, topic, since, until)
    weeks = timeline.weeks()
    return timeline, weekly_chart(weeks, f"“{topic}”: articles per week") if weeks else None


class TimelineCog(commands.Cog, name="Timeline"):
    def __init__(self, bot: NewsBot) -> None:
        self.bot = bot

    @app_commands.command(
        name="timeline", description="A topic's articles in date order, with a chart of articles per week"
    )
    @app_commands.describe(
        topic="The story, e.g. Sudan prime minister Hamdok", since=FILTER_HINTS["since"], until=FILTER_HINTS["until"]
    )
    @app_commands.check(cooled)
    async def timeline_command(
        self,
        interaction: discord.Interaction,
        topic: app_commands.Range[str, 2, 200],
        since: Date | None = None,
        until: Date | None = None,
    ) -> None:
        filters = query_filters(since, until)

        async def build() -> Reply:
            timeline, png = await self.bot.in_worker(timeline_and_chart, self.bot, topic, filters.since, filters.until)
            pages = embeds.timeline_pages(timeline, PAGE_SIZE, chart=png is not None)
            reply: Reply = {"embed": pages[0]}
            if png is not None:
                reply["attachments"] = [discord.File(io.BytesIO(png), filename=embeds.CHART_FILE)]
            if len(pages) > 1:
                pager = Pager(pages, interaction, self.bot.pager_timeout)
                self.bot.pagers.add(pager)
                reply["view"] = pager
            return reply

        await respond(interaction, build)


async def setup(bot: NewsBot) -> None:
    await bot.add_cog(TimelineCog(bot))
