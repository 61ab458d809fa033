"""Answering an interaction: acknowledge at once, replace the placeholder, tell the user when it fails."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot import embeds

log = logging.getLogger(__name__)

Reply = dict[str, Any]  # keyword arguments of `edit_original_response` / `reply`: content, embed, view
NO_MENTIONS = discord.AllowedMentions.none()


def context_of(interaction: discord.Interaction) -> str:
    if interaction.command is not None:
        what = f"/{interaction.command.qualified_name}"
    else:
        what = f"component {dict(interaction.data or {}).get('custom_id')}"
    return (
        f"{what} by {interaction.user} ({interaction.user.id}) "
        f"in guild {interaction.guild_id} channel {interaction.channel_id}"
    )


def message_context(message: discord.Message) -> str:
    guild = message.guild.id if message.guild else None
    return (
        f"message {message.id} by {message.author} ({message.author.id}) in guild {guild} channel {message.channel.id}"
    )


async def respond(
    interaction: discord.Interaction, build: Callable[[], Reply | Awaitable[Reply]], *, ephemeral: bool = False
) -> discord.InteractionMessage:
    """Acknowledge at once (Discord allows 3 s), then replace the placeholder with what `build` makes."""
    await interaction.response.defer(ephemeral=ephemeral)
    reply = build()
    if inspect.isawaitable(reply):
        reply = await reply
    return await interaction.edit_original_response(**reply)


async def tell(interaction: discord.Interaction, text: str) -> None:
    """A short text that ends the interaction however far it got; only the user sees it if nothing was sent yet."""
    text = embeds.clip_content(text)
    try:
        if interaction.type is discord.InteractionType.autocomplete:
            return  # suggestions cannot carry a message
        if not interaction.response.is_done():
            await interaction.response.send_message(text, ephemeral=True)
        elif interaction.type is discord.InteractionType.component:  # keep the page the buttons belong to
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.edit_original_response(content=text, embed=None, view=None)
    except discord.HTTPException:  # e.g. the interaction expired: nobody is left to tell
        log.warning("could not answer %s", context_of(interaction), exc_info=True)


async def apologise(interaction: discord.Interaction, error: BaseException, what: str) -> None:
    log.error("%s failed: %s", what, context_of(interaction), exc_info=error)
    await tell(interaction, embeds.APOLOGY)
