"""Slash-command options shared by several cogs: dates, outlets, and the filters they make."""

from __future__ import annotations

from datetime import datetime, timezone

import discord
from discord import app_commands

from bot.discord.checks import newsbot
from index.ingest.dates import parse_query_date
from index.search import Filters
from index.search.browse import outlet_names

ANSWER_ARTICLES = 5
FILTER_HINTS = dict(
    since="Only articles published on or after this date, e.g. 2022-02-01",
    until="Only articles published up to and including this date, e.g. 2022-02-28",
    outlet="Only articles from this outlet (suggestions come from the archive)",
)


def query_filters(since: datetime | None = None, until: datetime | None = None, outlet: str | None = None) -> Filters:
    """Filters for a question asked now (a plain `until` date includes its whole day)."""
    return Filters.given(since, until, [outlet] if outlet else [], as_of=datetime.now(timezone.utc))


class DateOption(app_commands.Transformer):
    """A date in any common shape: 2022-02-07, 7 February 2022, Feb 7 2022."""

    async def transform(self, interaction: discord.Interaction, value: str) -> datetime:
        moment = parse_query_date(value)  # ValueError becomes a TransformerError, answered by NewsTree.on_error
        if moment is None:
            raise ValueError("empty date")
        return moment


class OutletOption(app_commands.Transformer):
    """An outlet name, suggested from the archive's outlets as it is typed."""

    async def transform(self, interaction: discord.Interaction, value: str) -> str:
        return value.strip()

    async def autocomplete(self, interaction: discord.Interaction, value: str) -> list[app_commands.Choice[str]]:  # type: ignore[override]  # discord.py types the value int | float | str; this option is a str
        bot = newsbot(interaction)
        names = await bot.in_worker(outlet_names, bot.archive, str(value))
        return [app_commands.Choice(name=n, value=n) for n in names if 0 < len(n) <= 100]


Date = app_commands.Transform[datetime, DateOption]
Outlet = app_commands.Transform[str, OutletOption]
