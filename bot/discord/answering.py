"""Answering a question in Discord: in the context of its conversation, with feedback buttons,
remembered so a later follow-up and a later vote can find it. Shared by mentions and /ask."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from bot import embeds
from bot.answer import Answer
from bot.conversation import answer_in_context
from bot.discord.replies import Reply
from bot.discord.views import FeedbackView
from index.search import Filters
from index.store import utc_iso

if TYPE_CHECKING:
    from bot.discord.app import NewsBot


def conversation_key(channel: object) -> str | None:
    """Threads and DMs are conversations; a plain channel is not (its questions start threads)."""
    if isinstance(channel, discord.Thread):
        return f"thread:{channel.id}"
    if isinstance(channel, discord.DMChannel):
        return f"dm:{channel.id}"
    return None


def started_by(channel: object, user_id: int) -> bool:
    """Whether `channel` is a thread that user started."""
    return isinstance(channel, discord.Thread) and channel.owner_id == user_id


async def answer(bot: NewsBot, key: str | None, question: str, filters: Filters) -> Answer:
    """The answer after the conversation's earlier turns, which it then joins."""

    def work() -> Answer:
        turns = bot.state.conversations.turns(key) if key else []
        found, turn = answer_in_context(bot.archive, turns, question, filters, llm=bot.settings.llm_config())
        if key:
            bot.state.conversations.add(key, turn)
        return found

    return await bot.in_worker(work)


def answer_reply(found: Answer) -> Reply:
    return {"embed": embeds.answer_embed(found), "view": FeedbackView()}


async def remember(
    bot: NewsBot, message: discord.Message | discord.InteractionMessage, found: Answer, filters: Filters
) -> None:
    """So that votes on the message find the answer, after a restart too."""
    urls = [c.url for c in found.citations if c.url]
    await bot.in_worker(bot.state.feedback.record_answer, message.id, found.question, utc_iso(filters.as_of), urls)
