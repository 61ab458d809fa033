"""The Discord bot: questions in channels and slash commands, answered from the archive.

Kept thin: what it shows is built by `bot.embeds`; archive work (embedding, search, SQLite)
runs in a bounded pool of worker threads, never on the event loop."""
from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import re
import time
import weakref
from collections.abc import Awaitable, Callable, Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any, TypeVar, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot import embeds
from bot.answer import ask as answer_question
from bot.settings import Settings
from index.archive import Archive, ArchiveBusy
from index.dates import parse_date
from index.search import Filters
from index.search import search as search_archive
from index.watch import Watcher, to_announce
from index.browse import find_article, outlet_names, recent_articles

log = logging.getLogger(__name__)

T = TypeVar("T")
Reply = dict[str, Any]  # keyword arguments of `edit_original_response` / `reply`: content, embed, view
NO_MENTIONS = discord.AllowedMentions.none()

ANSWER_ARTICLES = 5
SEARCH_RESULTS = 20
PAGE_SIZE = 5
WORKERS = 3  # a rebuild may hold one for hours; questions share the rest (the archive's lock serialises SQLite)
PAGER_TIMEOUT = 600.0  # under the 15 minutes an interaction token lives, so expired buttons can still be disabled
PROGRESS_EVERY = 5.0  # seconds between edits of the reindex progress message (Discord rate-limits edits)
REINDEX_BUSY = "Another ingest or rebuild is writing to the archive; try again when it ends."


# --------------------------------------------------------------------------- plain helpers


def bot_intents(settings: Settings) -> discord.Intents:
    """Messages in guilds and DMs. Message content is privileged, and mentions carry theirs anyway:
    it is asked for only when ASK_CHANNEL_IDS makes every message there a question."""
    return discord.Intents(
        guilds=True, guild_messages=True, dm_messages=True, message_content=bool(settings.ask_channel_ids)
    )


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


def query_filters(since: datetime | None = None, until: datetime | None = None, outlet: str | None = None) -> Filters:
    """Filters for a question asked now; a plain `until` date includes its whole day."""
    if until is not None and until == until.replace(hour=0, minute=0, second=0, microsecond=0):
        until += timedelta(days=1)
    return Filters(since=since, until=until, outlets=[outlet] if outlet else [], as_of=datetime.now(timezone.utc))


# --------------------------------------------------------------------------- interaction helpers


class Refused(app_commands.CheckFailure):
    """A check said no; the message is what the user reads."""


class OnCooldown(Refused):
    def __init__(self, retry_at: datetime) -> None:
        super().__init__(embeds.cooldown_text(retry_at))
        self.retry_at = retry_at


def newsbot(interaction: discord.Interaction) -> NewsBot:
    return cast(NewsBot, interaction.client)


def cooled(interaction: discord.Interaction) -> bool:
    retry_at = newsbot(interaction).cooldown.retry_at(interaction.user.id)
    if retry_at is not None:
        raise OnCooldown(retry_at)
    return True


def admin_only(interaction: discord.Interaction) -> bool:
    """Manage Server (as Discord computes it for this interaction), or the role named in NEWSBOT_ADMIN_ROLE."""
    role = newsbot(interaction).settings.admin_role
    if interaction.permissions.manage_guild:
        return True
    if role and any(r.name == role for r in getattr(interaction.user, "roles", [])):
        return True
    also = f" or the “{role}” role" if role else ""
    raise Refused(f"Only members with the Manage Server permission{also} can reindex the archive.")


def context_of(interaction: discord.Interaction) -> str:
    if interaction.command is not None:
        what = f"/{interaction.command.qualified_name}"
    else:
        what = f"component {(interaction.data or {}).get('custom_id')}"
    return (
        f"{what} by {interaction.user} ({interaction.user.id}) "
        f"in guild {interaction.guild_id} channel {interaction.channel_id}"
    )


def message_context(message: discord.Message) -> str:
    guild = message.guild.id if message.guild else None
    return f"message {message.id} by {message.author} ({message.author.id}) in guild {guild} channel {message.channel.id}"


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


class NewsTree(app_commands.CommandTree):
    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        if isinstance(error, app_commands.TransformerError) and isinstance(error.transformer, DateOption):
            await tell(interaction, embeds.bad_date_text(error.value))
        elif isinstance(error, app_commands.CheckFailure):  # Refused, OnCooldown, guild_only
            await tell(interaction, str(error))
        else:
            await apologise(interaction, getattr(error, "original", error), "command")


class DateOption(app_commands.Transformer):
    """A date in any common shape: 2022-02-07, 7 February 2022, Feb 7 2022."""

    async def transform(self, interaction: discord.Interaction, value: str) -> datetime:
        moment = parse_date(value)  # ValueError becomes a TransformerError, answered by NewsTree.on_error
        if moment is None:
            raise ValueError("empty date")
        return moment


class OutletOption(app_commands.Transformer):
    """An outlet name, suggested from the archive's outlets as it is typed."""

    async def transform(self, interaction: discord.Interaction, value: str) -> str:
        return value.strip()

    async def autocomplete(self, interaction: discord.Interaction, value: str) -> list[app_commands.Choice[str]]:  # type: ignore[override]
        bot = newsbot(interaction)
        names = await bot.in_worker(outlet_names, bot.archive, str(value))
        return [app_commands.Choice(name=n, value=n) for n in names if 0 < len(n) <= 100]


Date = app_commands.Transform[datetime, DateOption]
Outlet = app_commands.Transform[str, OutletOption]
FILTER_HINTS = dict(
    since="Only articles published on or after this date, e.g. 2022-02-01",
    until="Only articles published up to and including this date, e.g. 2022-02-28",
    outlet="Only articles from this outlet (suggestions come from the archive)",
)


# --------------------------------------------------------------------------- the bot


class NewsBot(commands.Bot):
    """Resources come in through the constructor (as in discord.py's advanced_startup example)."""

    def __init__(self, settings: Settings, archive: Archive | None, *, owns_archive: bool = False, **options: Any) -> None:
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
        self.workers = ThreadPoolExecutor(WORKERS, thread_name_prefix="newsbot-archive")
        self.reindexing = asyncio.Lock()
        self.pagers: weakref.WeakSet[Pager] = weakref.WeakSet()
        self.pager_timeout = PAGER_TIMEOUT
        self.progress_every = PROGRESS_EVERY
        self.background: asyncio.Task | None = None

    @property
    def archive(self) -> Archive:
        if self._archive is None:
            raise RuntimeError("this bot was created without an archive (only to sync commands)")
        return self._archive

    async def setup_hook(self) -> None:
        await self.add_cog(Questions(self))
        await self.add_cog(SlashCommands(self))
        if self._archive is not None:
            self.background = asyncio.create_task(self.keep_archive())

    async def keep_archive(self) -> None:
        """At start, embed chunks a crash left out; then, with feeds configured, watch them."""
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

    async def announce(self, new: list[dict]) -> None:
        """New articles from the feeds, posted to ANNOUNCE_CHANNEL_ID (never a first poll's backlog)."""
        announcement = to_announce(new, self.settings.announce_limit)
        if not announcement.articles or not self.settings.announce_channel_id:
            return
        await self.wait_until_ready()
        channel = self.get_channel(self.settings.announce_channel_id)
        if channel is None:
            log.warning("ANNOUNCE_CHANNEL_ID %s is not a channel this bot can see", self.settings.announce_channel_id)
            return
        await channel.send(embed=embeds.announcement_embed(announcement.articles, announcement.more), allowed_mentions=NO_MENTIONS)

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: questions are the Questions cog's."""

    async def on_ready(self) -> None:
        log.info("logged in as %s (%s) in %d guilds", self.user, getattr(self.user, "id", None), len(self.guilds))

    async def in_worker(self, func: Callable[..., T], *args: Any) -> T:
        """Archive work off the event loop, in the bounded pool."""
        return await asyncio.get_running_loop().run_in_executor(self.workers, partial(func, *args))

    async def close(self) -> None:
        if self.background is not None:
            self.background.cancel()
        for pager in list(self.pagers):
            pager.stop()
        await super().close()
        self.workers.shutdown(wait=False, cancel_futures=True)
        if self.owns_archive and self._archive is not None:
            self._archive.close()


def create_bot(settings: Settings | None = None, archive: Archive | None = None, **options: Any) -> NewsBot:
    """The bot, with the archive in `settings.data_dir` unless one is given (then the caller closes it)."""
    settings = settings or Settings()
    if archive is not None:
        return NewsBot(settings, archive, **options)
    return NewsBot(settings, Archive(settings.data_dir, settings.archive_config()), owns_archive=True, **options)


def run_bot(settings: Settings, token: str, archive: Archive | None = None) -> None:
    """Blocks until stopped (Ctrl-C); raises discord.LoginFailure when Discord rejects the token."""
    create_bot(settings, archive).run(token, root_logger=True)


async def sync_commands(settings: Settings, token: str) -> list[str]:
    """Registers the slash commands: in DISCORD_GUILD_ID (at once) when set, else globally."""
    async with NewsBot(settings, None) as bot:  # no archive: registering commands needs none
        await bot.login(token)
        guild = discord.Object(settings.discord_guild_id) if settings.discord_guild_id else None
        if guild is not None:
            bot.tree.copy_global_to(guild=guild)
        synced = await bot.tree.sync(guild=guild)
    return [command.name for command in synced]


# --------------------------------------------------------------------------- questions in channels


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


# --------------------------------------------------------------------------- slash commands


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


class ProgressEdits:
    """`Archive.rebuild`'s on_progress, called in the worker: edits the message from the event loop,
    at most every `every` seconds and one edit at a time, so edits arrive in order."""

    def __init__(self, loop: asyncio.AbstractEventLoop, message: discord.PartialMessage, every: float) -> None:
        self.loop, self.message, self.every = loop, message, every
        self.last = float("-inf")
        self.pending: Future[Any] | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < self.every or (self.pending is not None and not self.pending.done()):
            return
        self.last = now
        edit = self.message.edit(content=embeds.progress_text(stage, done, total))
        self.pending = asyncio.run_coroutine_threadsafe(edit, self.loop)

    async def settle(self) -> None:
        if self.pending is not None:
            try:
                await asyncio.wrap_future(self.pending)
            except discord.HTTPException:
                log.warning("could not edit the reindex progress message", exc_info=True)


class SlashCommands(commands.Cog):
    def __init__(self, bot: NewsBot) -> None:
        self.bot = bot

    @app_commands.command(name="ask", description="Answer a question with quoted, cited passages from the news archive")
    @app_commands.describe(question="What you want to know, e.g. what did the Kremlin expect from Macron's visit?", **FILTER_HINTS)
    @app_commands.check(cooled)
    async def ask_command(
        self, interaction: discord.Interaction, question: app_commands.Range[str, 2, 500],
        since: Date | None = None, until: Date | None = None, outlet: Outlet | None = None,
    ) -> None:
        filters = query_filters(since, until, outlet)

        async def build() -> Reply:
            answer = await self.bot.in_worker(answer_question, self.bot.archive, question, ANSWER_ARTICLES, filters)
            return {"embed": embeds.answer_embed(answer)}

        await respond(interaction, build)

    @app_commands.command(name="search", description="Find the articles that best match, with pages of results")
    @app_commands.describe(query="Words or a question, e.g. wheat prices Black Sea", **FILTER_HINTS)
    @app_commands.check(cooled)
    async def search_command(
        self, interaction: discord.Interaction, query: app_commands.Range[str, 2, 500],
        since: Date | None = None, until: Date | None = None, outlet: Outlet | None = None,
    ) -> None:
        filters = query_filters(since, until, outlet)

        async def build() -> Reply:
            response = await self.bot.in_worker(search_archive, self.bot.archive, query, SEARCH_RESULTS, filters)
            pages = embeds.results_pages(response, PAGE_SIZE)
            if len(pages) == 1:
                return {"embed": pages[0]}
            pager = Pager(pages, interaction, self.bot.pager_timeout)
            self.bot.pagers.add(pager)
            return {"embed": pages[0], "view": pager}

        await respond(interaction, build)

    @app_commands.command(name="recent", description="The most recently published articles in the archive")
    @app_commands.describe(count="How many articles (1–25)", outlet=FILTER_HINTS["outlet"])
    async def recent_command(
        self, interaction: discord.Interaction, count: app_commands.Range[int, 1, 25] = 5, outlet: Outlet | None = None
    ) -> None:
        async def build() -> Reply:
            rows = await self.bot.in_worker(recent_articles, self.bot.archive, count, outlet)
            return {"embed": embeds.recent_embed(rows, outlet)}

        await respond(interaction, build)

    @app_commands.command(name="article", description="Headline, outlet, date, link and opening paragraph of one article")
    @app_commands.describe(url="The article's address, e.g. https://www.reuters.com/…")
    async def article_command(self, interaction: discord.Interaction, url: app_commands.Range[str, 8, 2048]) -> None:
        async def build() -> Reply:
            row = await self.bot.in_worker(find_article, self.bot.archive, url)
            return {"embed": embeds.article_embed(row) if row else embeds.article_missing_embed(url)}

        await respond(interaction, build)

    @app_commands.command(name="status", description="Articles, chunks, date coverage, outlets, last ingest, index and model")
    async def status_command(self, interaction: discord.Interaction) -> None:
        async def build() -> Reply:
            return {"embed": embeds.status_embed(await self.bot.in_worker(self.bot.archive.stats))}

        await respond(interaction, build)

    @app_commands.command(name="reindex", description="Re-chunk and re-embed the whole archive (Manage Server or the admin role)")
    @app_commands.guild_only()
    @app_commands.check(admin_only)
    async def reindex_command(self, interaction: discord.Interaction) -> None:
        if self.bot.reindexing.locked():
            raise Refused("A reindex is already running; its progress message says how far it is.")
        async with self.bot.reindexing:
            sent = await respond(interaction, lambda: {"content": embeds.progress_text("starting")})
            # edited through the channel, not the interaction token, which expires after 15 minutes
            message = sent.channel.get_partial_message(sent.id)  # type: ignore[union-attr]
            progress = ProgressEdits(asyncio.get_running_loop(), message, self.bot.progress_every)
            started = time.monotonic()
            try:
                chunks = await self.bot.in_worker(self.bot.archive.rebuild, False, progress)
                text = embeds.reindex_done_text(chunks, time.monotonic() - started)
            except ArchiveBusy:
                text = REINDEX_BUSY
            finally:
                await progress.settle()
            try:
                await message.edit(content=text)
            except discord.HTTPException:  # no access to the channel itself: the interaction token may still do
                await interaction.edit_original_response(content=text)
