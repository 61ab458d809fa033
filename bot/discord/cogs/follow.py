"""/follow, /unfollow, /following: a channel (or, in DMs, a person) subscribes to a topic."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import embeds
from bot.discord.replies import Reply, respond

if TYPE_CHECKING:
    from bot.discord.app import NewsBot


def target_of(interaction: discord.Interaction) -> tuple[str, int]:
    """Follows made in a DM go to the person; elsewhere to the channel (or thread) it was made in."""
    if interaction.guild_id is None:
        return "user", interaction.user.id
    assert interaction.channel_id is not None
    return "channel", interaction.channel_id


def clean_topic(topic: str) -> str:
    return " ".join(topic.split())


class FollowCog(commands.Cog, name="Follow"):
    def __init__(self, bot: NewsBot) -> None:
        self.bot = bot

    @app_commands.command(name="follow", description="Post new articles on a topic here as they arrive")
    @app_commands.describe(topic="What to follow, e.g. wheat prices Black Sea")
    async def follow_command(self, interaction: discord.Interaction, topic: app_commands.Range[str, 2, 200]) -> None:
        await self.change(interaction, clean_topic(topic), adding=True)

    @app_commands.command(name="unfollow", description="Stop posting new articles on a topic here")
    @app_commands.describe(topic="A topic followed here (see /following)")
    async def unfollow_command(self, interaction: discord.Interaction, topic: app_commands.Range[str, 2, 200]) -> None:
        await self.change(interaction, clean_topic(topic), adding=False)

    async def change(self, interaction: discord.Interaction, topic: str, *, adding: bool) -> None:
        """/follow or /unfollow: the store says whether anything changed, the reply says which."""
        kind, target = target_of(interaction)

        async def build() -> Reply:
            follows = self.bot.state.follows
            changed = await self.bot.in_worker(follows.add if adding else follows.remove, kind, target, topic)
            text = embeds.follow_text if adding else embeds.unfollow_text
            return {"content": text(topic, changed)}

        await respond(interaction, build)

    @app_commands.command(name="following", description="The topics followed here")
    async def following_command(self, interaction: discord.Interaction) -> None:
        kind, target = target_of(interaction)

        async def build() -> Reply:
            follows = await self.bot.in_worker(self.bot.state.follows.of, kind, target)
            return {"embed": embeds.following_embed([f.topic for f in follows])}

        await respond(interaction, build)


async def setup(bot: NewsBot) -> None:
    await bot.add_cog(FollowCog(bot))
