"""discord.ui views: buttons under the bot's messages."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence

import discord

from bot import embeds
from bot.discord.checks import newsbot
from bot.discord.replies import apologise, respond
from bot.state import REASONS


class Pager(discord.ui.View):
    """Previous/Next over pages built beforehand, so a click needs no archive work; only the asker may click."""

    def __init__(self, pages: Sequence[discord.Embed], interaction: discord.Interaction, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.pages, self.index = list(pages), 0
        self.origin = interaction  # its token edits the message when the buttons expire
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.previous.disabled = self.index == 0
        self.next.disabled = self.index >= len(self.pages) - 1

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.origin.user.id:
            return True
        await interaction.response.send_message(embeds.NOT_YOURS, ephemeral=True)
        return False

    @discord.ui.button(label="Previous", emoji="◀️", custom_id="pager:previous")
    async def previous(self, interaction: discord.Interaction, button: discord.ui.Button[Pager]) -> None:
        await self.show(interaction, self.index - 1)

    @discord.ui.button(label="Next", emoji="▶️", custom_id="pager:next")
    async def next(self, interaction: discord.Interaction, button: discord.ui.Button[Pager]) -> None:
        await self.show(interaction, self.index + 1)

    async def show(self, interaction: discord.Interaction, index: int) -> None:
        self.index = max(0, min(index, len(self.pages) - 1))
        self._update_buttons()
        await respond(interaction, lambda: {"embed": self.pages[self.index], "view": self})

    async def on_timeout(self) -> None:
        for item in self.children:
            if isinstance(item, discord.ui.Button):
                item.disabled = True
        with contextlib.suppress(discord.HTTPException):  # the message was deleted: nothing to disable
            await self.origin.edit_original_response(view=self)

    async def on_error(self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item) -> None:
        await apologise(interaction, error, "button")


class FeedbackView(discord.ui.View):
    """👍/👎 under every answer. Persistent (no timeout, fixed custom ids, added once in setup_hook):
    a click finds its answer by the message it is on, so the buttons work after a restart."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(emoji="👍", custom_id="feedback:up", style=discord.ButtonStyle.secondary)
    async def up(self, interaction: discord.Interaction, button: discord.ui.Button[FeedbackView]) -> None:
        await vote(interaction, "up")

    @discord.ui.button(emoji="👎", custom_id="feedback:down", style=discord.ButtonStyle.secondary)
    async def down(self, interaction: discord.Interaction, button: discord.ui.Button[FeedbackView]) -> None:
        await vote(interaction, "down")

    async def on_error(self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item) -> None:
        await apologise(interaction, error, "feedback button")


async def vote(interaction: discord.Interaction, choice: str) -> None:
    """Thanks at once (Discord allows 3 s; the archive may be busy), then the vote is stored."""
    assert interaction.message is not None
    message_id = interaction.message.id
    reasons = (
        discord.ui.View(timeout=None).add_item(ReasonSelect(message_id)) if choice == "down" else discord.utils.MISSING
    )
    await interaction.response.send_message(embeds.vote_text(choice), view=reasons, ephemeral=True)
    if reasons:  # the select is a registered dynamic item: no view (and no timer) need wait for it
        reasons.stop()
    bot = newsbot(interaction)
    if not await bot.in_worker(bot.state.feedback.vote, message_id, interaction.user.id, choice):
        await interaction.followup.send(embeds.VOTE_UNKNOWN, ephemeral=True)


class ReasonSelect(discord.ui.DynamicItem[discord.ui.Select], template=r"feedback:reason:(?P<message>[0-9]+)"):
    """The optional reason for a 👎; its custom id names the answer's message, so it too survives a restart."""

    def __init__(self, message_id: int) -> None:
        options = [discord.SelectOption(label=label, value=value) for value, label in REASONS.items()]
        select: discord.ui.Select = discord.ui.Select(
            custom_id=f"feedback:reason:{message_id}", placeholder=embeds.REASON_PLACEHOLDER, options=options
        )
        super().__init__(select)
        self.message_id = message_id

    @classmethod
    async def from_custom_id(  # type: ignore[override]  # discord.py types item as the base Item; this one is a Select
        cls, interaction: discord.Interaction, item: discord.ui.Select, match: re.Match[str]
    ) -> ReasonSelect:
        return cls(int(match["message"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        reason = self.item.values[0]
        await interaction.response.edit_message(content=embeds.reason_text(REASONS[reason]), view=None)
        bot = newsbot(interaction)
        await bot.in_worker(bot.state.feedback.set_reason, self.message_id, interaction.user.id, reason)
