"""Who may do what, and how often: the checks slash commands and questions go through."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, cast

import discord
from discord import app_commands

from bot import embeds

if TYPE_CHECKING:
    from bot.discord.app import NewsBot


class Cooldown:
    """One question per user every `seconds`, shared by mentions, /ask and /search."""

    def __init__(self, seconds: float) -> None:
        self.seconds = timedelta(seconds=seconds)
        self._last: dict[int, datetime] = {}

    def retry_at(self, user_id: int, now: datetime | None = None) -> datetime | None:
        """When the user may ask again; None means they may now, and their cooldown starts."""
        now = now or datetime.now(timezone.utc)
        last = self._last.get(user_id)
        if last is not None and now < last + self.seconds:
            return last + self.seconds
        if len(self._last) > 10_000:  # forget users whose cooldown is over
            self._last = {u: t for u, t in self._last.items() if now < t + self.seconds}
        self._last[user_id] = now
        return None


class Refused(app_commands.CheckFailure):
    """A check said no; the message is what the user reads."""


class OnCooldown(Refused):
    def __init__(self, retry_at: datetime) -> None:
        super().__init__(embeds.cooldown_text(retry_at))
        self.retry_at = retry_at


def newsbot(interaction: discord.Interaction) -> NewsBot:
    return cast("NewsBot", interaction.client)


def cooled(interaction: discord.Interaction) -> bool:
    retry_at = newsbot(interaction).cooldown.retry_at(interaction.user.id)
    if retry_at is not None:
        raise OnCooldown(retry_at)
    return True


NOT_ADMIN_GUILD = (
    "Admin commands are not enabled in this server (the bot's operator lists servers in NEWSBOT_ADMIN_GUILD_IDS)."
)


def admin_only(interaction: discord.Interaction) -> bool:
    """Manage Server (as Discord computes it for this interaction), or the role NEWSBOT_ADMIN_ROLE_ID:
    an id, as anyone with Manage Roles can make a role of any name."""
    if interaction.permissions.manage_guild:
        return True
    role_id = newsbot(interaction).settings.admin_role_id
    if role_id and any(r.id == role_id for r in getattr(interaction.user, "roles", [])):
        return True
    also = " or the admin role" if role_id else ""
    command = interaction.command.qualified_name if interaction.command else ""
    what = "reindex the archive" if command == "reindex" else f"use /{command}"
    raise Refused(f"Only members with the Manage Server permission{also} can {what}.")


def archive_admin(interaction: discord.Interaction) -> bool:
    """For what changes the archive every server shares: only in NEWSBOT_ADMIN_GUILD_IDS, by an admin."""
    if interaction.guild_id not in newsbot(interaction).settings.admin_guilds():
        raise Refused(NOT_ADMIN_GUILD)
    return admin_only(interaction)


def reindex_cooled(interaction: discord.Interaction) -> bool:
    """One reindex per NEWSBOT_REINDEX_COOLDOWN_SECONDS for the whole bot: the archive is shared."""
    retry_at = newsbot(interaction).reindex_cooldown.retry_at(0)
    if retry_at is not None:
        raise Refused(embeds.reindex_cooldown_text(retry_at))
    return True
