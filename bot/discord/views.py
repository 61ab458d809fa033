"""discord.ui views: buttons under the bot's messages."""
from __future__ import annotations

import contextlib
from collections.abc import Sequence

import discord

from bot import embeds
from bot.discord.replies import apologise, respond


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

    async def on_error(self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item) -> None:  # type: ignore[type-arg]
        await apologise(interaction, error, "button")
