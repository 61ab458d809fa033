"""Questions in channels: mentions, direct messages, and every message in an ask-channel."""
from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Collection
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot import embeds
from bot.answer import ask as answer_question
from bot.discord.options import ANSWER_ARTICLES, query_filters
from bot.discord.replies import Reply, message_context

if TYPE_CHECKING:
    from bot.discord.app import NewsBot

log = logging.getLogger(__name__)


def strip_mention(content: str, bot_id: int) -> str:
    return " ".join(re.sub(rf"<@!?{bot_id}>", " ", content).split())


def question_in(message: discord.Message, bot_id: int, ask_channel_ids: Collection[int]) -> str | None:
    """The question a message puts to the bot ("" for a bare mention), or None when it asks nothing of it."""
    if message.author.bot:
        return None
    channel = message.channel
    mentioned = any(user.id == bot_id for user in message.mentions)
    direct = isinstance(channel, discord.DMChannel)
    in_ask_channel = channel.id in ask_channel_ids or getattr(channel, "parent_id", None) in ask_channel_ids
    question = strip_mention(message.content, bot_id)
    if mentioned or direct or (in_ask_channel and question):
        return question
    return None


class Questions(commands.Cog):
    def __init__(self, bot: NewsBot) -> None:
        self.bot = bot

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        assert self.bot.user is not None
        question = question_in(message, self.bot.user.id, self.bot.settings.ask_channel_ids)
        if question is None:
            return
        try:
            await message.reply(**await self.answer(message, question), mention_author=False)
        except Exception as error:
            log.error("question failed: %s", message_context(message), exc_info=error)
            with contextlib.suppress(discord.HTTPException):
                await message.reply(embeds.APOLOGY, mention_author=False)

    async def answer(self, message: discord.Message, question: str) -> Reply:
        if not question:
            return {"content": embeds.EMPTY_QUESTION}
        retry_at = self.bot.cooldown.retry_at(message.author.id)
        if retry_at is not None:
            return {"content": embeds.cooldown_text(retry_at)}
        async with message.channel.typing():
            answer = await self.bot.in_worker(answer_question, self.bot.archive, question, ANSWER_ARTICLES, query_filters())
        return {"embed": embeds.answer_embed(answer)}


async def setup(bot: NewsBot) -> None:
    await bot.add_cog(Questions(bot))
