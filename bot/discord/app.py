"""The discord.py Bot: resources in through the constructor, cogs loaded as extensions in setup_hook.

Kept thin: what it shows is built by `bot.embeds`; archive work (embedding, search, SQLite)
runs in a bounded pool of worker threads, never on the event loop."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from bot import embeds
from bot.discord.checks import Cooldown
from bot.discord.options import DateOption
from bot.discord.replies import NO_MENTIONS, apologise, tell
from bot.discord.views import FeedbackView, ReasonSelect
from bot.follows import Post, due_posts
from bot.settings import Settings
from bot.state import BotState
from index.archive import Archive, ArchiveBusy
from index.embedding import ModelError
from index.store.rows import NewArticle
from index.web.watch import Watcher, to_announce

if TYPE_CHECKING:
    from bot.discord.views import Pager

log = logging.getLogger(__name__)

T = TypeVar("T")

WORKERS = 3  # a rebuild may hold one for hours; questions share the rest (the archive's lock serialises SQLite)
PAGER_TIMEOUT = 600.0  # under the 15 minutes an interaction token lives, so expired buttons can still be disabled
CLOSE_GRACE = 10.0  # seconds close() waits for archive work in flight before the archive is closed under it
PROGRESS_EVERY = 5.0  # seconds between edits of the reindex progress message (Discord rate-limits edits)
# one module per cog, each with `async def setup(bot)`; this order is the order commands are synced in
EXTENSIONS = (
    "bot.discord.cogs.questions",
    "bot.discord.cogs.ask",
    "bot.discord.cogs.browse",
    "bot.discord.cogs.timeline",
    "bot.discord.cogs.follow",
    "bot.discord.cogs.admin",
)


def bot_intents(settings: Settings) -> discord.Intents:
    """Messages in guilds and DMs. Message content is privileged, and mentions carry theirs anyway:
    it is asked for when NEWSBOT_MESSAGE_CONTENT says so (follow-ups in threads without a mention)
    or ASK_CHANNEL_IDS makes every message there a question."""
    content = settings.message_content or bool(settings.ask_channel_ids)
    return discord.Intents(guilds=True, guild_messages=True, dm_messages=True, message_content=content)


class NewsTree(app_commands.CommandTree):
    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        if isinstance(error, app_commands.TransformerError) and isinstance(error.transformer, DateOption):
            await tell(interaction, embeds.bad_date_text(error.value))
        elif isinstance(error, app_commands.CheckFailure):  # Refused, OnCooldown, guild_only
            await tell(interaction, str(error))
        else:
            await apologise(interaction, getattr(error, "original", error), "command")


class NewsBot(commands.Bot):
    """Resources come in through the constructor (as in discord.py's advanced_startup example)."""

    state: BotState

    def __init__(
        self, settings: Settings, archive: Archive | None, *, owns_archive: bool = False, **options: Any
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=bot_intents(settings),
            allowed_mentions=NO_MENTIONS,
            tree_cls=NewsTree,
            **options,
        )
        self.settings = settings
        self._archive, self.owns_archive = archive, owns_archive
        self.cooldown = Cooldown(settings.cooldown_seconds)
        self.reindex_cooldown = Cooldown(settings.reindex_cooldown_seconds)
        self.workers = ThreadPoolExecutor(WORKERS, thread_name_prefix="newsbot-archive")
        self.in_flight: set[asyncio.Future[Any]] = set()
        self.reindexing = asyncio.Lock()
        self.pagers: weakref.WeakSet[Pager] = weakref.WeakSet()
        self.pager_timeout = PAGER_TIMEOUT
        self.progress_every = PROGRESS_EVERY
        self.background: asyncio.Task | None = None
        self.guild_ask_channels: dict[int, set[int]] = {}  # set with /config, beside ASK_CHANNEL_IDS
        self.guild_announce_channels: dict[int, int] = {}  # set with /config, instead of ANNOUNCE_CHANNEL_ID

    @property
    def archive(self) -> Archive:
        if self._archive is None:
            raise RuntimeError("this bot was created without an archive (only to sync commands)")
        return self._archive

    async def setup_hook(self) -> None:
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        self.add_view(FeedbackView())  # persistent: answers posted before a restart keep their buttons
        self.add_dynamic_items(ReasonSelect)
        if self._archive is not None:
            self.state = await self.in_worker(BotState, self.archive)
            self.guild_ask_channels = await self.in_worker(self.state.guilds.ask_channels)
            self.guild_announce_channels = await self.in_worker(self.state.guilds.announce_channels)
            self.background = asyncio.create_task(self.keep_archive())

    def ask_channels_of(self, guild: discord.Guild | None) -> set[int]:
        configured = self.guild_ask_channels.get(guild.id, set()) if guild else set()
        return set(self.settings.ask_channel_ids) | configured

    async def keep_archive(self) -> None:
        """At start, ready the model for the first question and embed chunks a crash left out; then,
        with feeds configured, watch them."""
        try:
            await self.in_worker(self.archive.warm)
        except ModelError as error:  # each question reports it; the bot still serves browsing commands
            log.warning("the embedding model is not ready: %s", error)
        try:
            await self.in_worker(self.archive.repair)
        except ArchiveBusy:
            log.info("another process is writing to the archive; not repairing it now")
        if not self.settings.feeds:
            return
        self.watcher = Watcher(self.archive, self.settings.feeds, self.settings.fetch_settings())
        try:
            await self.watcher.run(self.settings.watch_minutes, self.announce)
        finally:
            await self.watcher.aclose()

    async def announce(self, new: list[NewArticle]) -> None:
        """New articles from the feeds (never a first poll's backlog): to the announce channels, and
        to whoever follows a topic they match."""
        await self.announce_new(new)
        await self.post_follows(new)

    def announce_channel_ids(self) -> list[int]:
        """Each server's /config announce channel; ANNOUNCE_CHANNEL_ID for the servers without one."""
        configured = self.guild_announce_channels
        default = self.settings.announce_channel_id
        default_guild = getattr(self.get_channel(default), "guild", None) if default else None
        extra = [default] if default and getattr(default_guild, "id", None) not in configured else []
        return [*configured.values(), *extra]

    async def announce_new(self, new: list[NewArticle]) -> None:
        announcement = to_announce(new, self.settings.announce_limit)
        if not announcement.articles:
            return
        await self.wait_until_ready()
        for channel_id in self.announce_channel_ids():
            channel = self.announce_channel(channel_id)
            if channel is not None:
                embed = embeds.announcement_embed(announcement.articles, announcement.more)
                await channel.send(embed=embed, allowed_mentions=NO_MENTIONS)

    def announce_channel(self, channel_id: int) -> discord.abc.Messageable | None:
        """The channel to announce in, or None with a one-line warning: a forum or a category
        cannot take messages (a forum takes posts), and the bot may not see the channel at all."""
        channel = self.get_channel(channel_id)
        if channel is None:
            log.warning("announce channel %s is not a channel this bot can see", channel_id)
            return None
        if not isinstance(channel, discord.abc.Messageable):
            log.warning(
                "announce channel %s is a %s channel, which cannot take messages: give a text channel or a thread",
                channel_id,
                getattr(channel, "type", "private"),
            )
            return None
        return channel

    async def post_follows(self, new: list[NewArticle]) -> None:
        settings = self.settings
        posts = await self.in_worker(
            due_posts, self.archive, self.state.follows, new, settings.follow_threshold, settings.follow_per_hour
        )
        if posts:
            await self.wait_until_ready()
        for post in posts:
            try:
                await self.send_follow(post)
            except discord.HTTPException:  # a deleted channel or closed DMs must not stop the others
                log.warning("could not post follow %s", post.follow, exc_info=True)

    async def send_follow(self, post: Post) -> None:
        follow = post.follow
        if follow.target_kind == "user":
            target: discord.abc.Messageable | None = self.get_user(follow.target_id) or await self.fetch_user(
                follow.target_id
            )
        else:
            found = self.get_channel(follow.target_id)
            target = found if isinstance(found, discord.abc.Messageable) else None
        if target is None:
            log.warning("followed-topic target %s is gone", follow)
            return
        await target.send(embed=embeds.follow_embed(follow.topic, post.article), allowed_mentions=NO_MENTIONS)

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: questions are the Questions cog's."""

    async def on_ready(self) -> None:
        log.info("logged in as %s (%s) in %d guilds", self.user, getattr(self.user, "id", None), len(self.guilds))

    async def in_worker(self, func: Callable[..., T], *args: Any) -> T:
        """Archive work off the event loop, in the bounded pool."""
        future = asyncio.get_running_loop().run_in_executor(self.workers, partial(func, *args))
        self.in_flight.add(future)
        future.add_done_callback(self.in_flight.discard)
        return await future

    async def close(self) -> None:
        if self.background is not None:
            self.background.cancel()
        for pager in list(self.pagers):
            pager.stop()
        await super().close()
        self.workers.shutdown(wait=False, cancel_futures=True)
        if self.in_flight:  # a thread still using SQLite when its connection closes would crash the process
            await asyncio.wait(set(self.in_flight), timeout=CLOSE_GRACE)
        if self.owns_archive and self._archive is not None:
            self._archive.close()


class ShardedNewsBot(NewsBot, commands.AutoShardedBot):
    """The same bot over several gateway connections (NEWSBOT_SHARDS)."""


def bot_class(settings: Settings) -> type[NewsBot]:
    return ShardedNewsBot if settings.sharded else NewsBot


def create_bot(settings: Settings | None = None, archive: Archive | None = None, **options: Any) -> NewsBot:
    """The bot, with the archive in `settings.data_dir` unless one is given (then the caller closes it)."""
    settings = settings or Settings()
    if settings.sharded:
        options.setdefault("shard_count", settings.shard_count())
    cls = bot_class(settings)
    if archive is not None:
        return cls(settings, archive, **options)
    return cls(settings, Archive(settings.data_dir, settings.archive_config()), owns_archive=True, **options)


SHARDING_REQUIRED = 4011  # the gateway's close code when a bot is in too many servers for one connection


def run_bot(settings: Settings, token: str, archive: Archive | None = None) -> None:
    """Blocks until stopped (Ctrl-C); raises discord.LoginFailure when Discord rejects the token.
    When Discord closes the connection because the bot must shard, it starts again sharded."""
    try:
        create_bot(settings, archive).run(token, root_logger=True)
    except discord.ConnectionClosed as closed:
        if closed.code != SHARDING_REQUIRED or settings.sharded:
            raise
        log.warning("Discord requires sharding for this bot: starting again with Discord's recommended shard count")
        create_bot(settings.model_copy(update={"shards": "auto"}), archive).run(token, root_logger=True)


async def sync_commands(settings: Settings, token: str) -> list[str]:
    """Registers the slash commands: in DISCORD_GUILD_ID (at once) when set, else globally."""
    async with NewsBot(settings, None) as bot:  # no archive: registering commands needs none
        await bot.login(token)
        guild = discord.Object(settings.discord_guild_id) if settings.discord_guild_id else None
        if guild is not None:
            bot.tree.copy_global_to(guild=guild)
        synced = await bot.tree.sync(guild=guild)
    return [command.name for command in synced]
