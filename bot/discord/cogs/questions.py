"""Questions in channels: mentions, direct messages, every message in an ask-channel, and follow-ups.

A question in a text channel is answered in a new public thread started on it; a question in a
thread is answered there; in a thread the bot started, every message is a follow-up (with the
Message Content intent; without it, follow-ups need a mention, like any question)."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Collection
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot import embeds
from bot.discord import answering
from bot.discord.options import query_filters
from bot.discord.replies import message_context

if TYPE_CHECKING:
    from bot.discord.app import NewsBot

log = logging.getLogger(__name__)

Destination = discord.abc.Messageable


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
    follow_up = answering.started_by(channel, bot_id)
    question = strip_mention(message.content, bot_id)
    if mentioned or direct or ((in_ask_channel or follow_up) and question):
        return question
    return None


class Questions(commands.Cog):
    def __init__(self, bot: NewsBot) -> None:
        self.bot = bot

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        assert self.bot.user is not None
        question = question_in(message, self.bot.user.id, self.bot.ask_channels_of(message.guild))
        if question is None:
            return
        try:
            await self.handle(message, question)
        except Exception as error:
            log.error("question failed: %s", message_context(message), exc_info=error)
            with contextlib.suppress(discord.HTTPException):
                await message.reply(embeds.APOLOGY, mention_author=False)

    async def handle(self, message: discord.Message, question: str) -> None:
        refusal = self.refusal(message, question)
        if refusal is not None:
            await message.reply(refusal, mention_author=False)
            return
        where = await self.destination(message, question)
        filters = query_filters()
        async with where.typing():
            found = await answering.answer(self.bot, answering.conversation_key(where), question, filters)
        reply = answering.answer_reply(found)
        sent = await (message.reply(**reply, mention_author=False) if where is message.channel else where.send(**reply))
        await answering.remember(self.bot, sent, found, filters)

    def refusal(self, message: discord.Message, question: str) -> str | None:
        if not question:
            return embeds.EMPTY_QUESTION
        retry_at = self.bot.cooldown.retry_at(message.author.id)
        return embeds.cooldown_text(retry_at) if retry_at is not None else None

    async def destination(self, message: discord.Message, question: str) -> Destination:
        """A new thread on a question in a text channel (or the channel, when threads are not allowed there)."""
        if not isinstance(message.channel, discord.TextChannel):
            return message.channel
        try:
            return await message.create_thread(name=embeds.thread_name(question))
        except discord.HTTPException:  # e.g. no Create Public Threads permission: answer in the channel
            log.warning("could not start a thread: %s", message_context(message), exc_info=True)
            return message.channel


async def setup(bot: NewsBot) -> None:
    await bot.add_cog(Questions(bot))
