"""The `newsbot` command line. Each command's help text is its documentation."""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import re
import sqlite3
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import click
from pydantic import ValidationError

if TYPE_CHECKING:
    from bot.batch import BatchItem
    from index.search import Filters
    from index.store.rows import NewArticle

from bot.answer import ARTICLES
from bot.settings import Settings
from index.archive import Archive, ArchiveError, IngestReport
from index.article import Article, ReadProblem

EXIT_SKIPPED = 3
MAX_K = 100
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def open_archive(settings: Settings) -> Archive:
    return Archive(settings.data_dir, settings.archive_config())


# The command's one Settings: the group builds it (`ctx.ensure_object`), options such as
# --data-dir replace it with a copy that has them applied, each command takes it with `@pass_settings`.
pass_settings = click.make_pass_decorator(Settings, ensure=True)


def applies_to_settings(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    """An option callback that puts the option's value (when given) into the command's Settings."""

    def apply(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is not None:
            ctx.obj = ctx.ensure_object(Settings).model_copy(update={name: value})

    return apply


data_dir_option = click.option(
    "-d",
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    expose_value=False,
    callback=applies_to_settings("data_dir"),
    help="Archive folder (default: NEWSBOT_DATA_DIR, else ./data).",
)
cluster_option = click.option(
    "--cluster",
    metavar="ADDRESS",
    expose_value=False,
    callback=applies_to_settings("ray_address"),
    help="Embed on this Ray cluster (HOST:PORT, ray://HOST:10001, auto; default: NEWSBOT_RAY_ADDRESS).",
)


DISK_FULL = "the disk is full: nothing stored so far is lost; free some space and run the command again"
# A Discord token: three base64url parts. Discord's error bodies can echo what was sent.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}")


def redact(text: str, *secrets: str) -> str:
    """Text safe to print: every given secret and anything shaped like a Discord token removed."""
    for secret in filter(None, secrets):
        text = text.replace(secret, "[redacted]")
    return _TOKEN.sub("[redacted]", text)


def is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return isinstance(exc, sqlite3.OperationalError) and "full" in str(exc)


class Guarded(click.Group):
    """Every failure is one line: a bad setting, a full disk, or (logged in full) anything else."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, KeyboardInterrupt, SystemExit):
            raise
        except ValidationError as exc:
            raise click.ClickException(f"bad setting: {_setting_error(exc)}") from None
        except Exception as exc:
            if is_disk_full(exc):
                raise click.ClickException(DISK_FULL) from None
            logging.getLogger(__name__).debug("unexpected failure", exc_info=True)
            raise click.ClickException(redact(f"unexpected {type(exc).__name__}: {exc}")[:500]) from None


def _setting_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    name = "_".join(str(part) for part in first.get("loc", ())).upper()
    return f"NEWSBOT_{name}: {first.get('msg', 'invalid')}" if name else str(first.get("msg"))


@click.group(cls=Guarded, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="newsbot")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Answers questions about a news archive.

    In Discord (`newsbot run`) or in the terminal (`newsbot ask`, `newsbot chat`).

    Example:

    \b
        newsbot ingest ~/archive/
        newsbot ask "What did the Kremlin expect from Macron's visit?"
    """
    from index.ingest import limits

    limits.configure(ctx.ensure_object(Settings).read_limits())


def read_inputs(paths: tuple[str, ...], settings: Settings) -> Iterator[Article | ReadProblem]:
    """Files and folders from disk; feeds and article pages from the web."""
    from index.ingest.readers import read_path
    from index.web.feeds import is_url, read_url_sync

    for path in paths:
        if is_url(path):
            yield from read_url_sync(path, settings.fetch_settings())
        elif not Path(path).exists():
            yield ReadProblem(path, "no such file or folder")
        else:
            yield from read_path(Path(path))


def print_report(report: IngestReport) -> None:
    click.echo(
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"duplicates {report.duplicates}; {report.chunks} chunks, {report.embedded} embedded"
    )
    print_problems(report.problems)


def print_problems(problems: list[ReadProblem]) -> None:
    """What could not be read, each with its file (and line) or URL and the reason, on stderr."""
    if problems:
        click.echo(f"skipped {len(problems)}:", err=True)
        for problem in problems:
            click.echo(f"  {problem.source}: {problem.reason}", err=True)


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@data_dir_option
@cluster_option
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@pass_settings
def ingest(settings: Settings, paths: tuple[str, ...], quiet: bool) -> None:
    """Add articles from files, folders or the web.

    PATHS are files or folders (text, JSON/JSON Lines, gzipped or not, saved HTML pages, WARC/ARC
    web archives; folders recursively) or http(s) URLs of RSS/Atom feeds or single articles.

    Only new or changed articles are chunked and embedded; running it twice changes nothing.
    Items that cannot be read are listed at the end and the rest is ingested; the exit code
    is 0 when nothing was skipped, 3 when something was.

    Example:

    \b
        newsbot ingest ~/archive/
        newsbot ingest articles.jsonl.gz --data-dir /srv/newsbot
        newsbot ingest https://example.com/feed.xml
    """
    archive = open_archive(settings)
    report = run_or_exit(lambda: archive.ingest(read_inputs(paths, settings), progress=not quiet))
    print_report(report)
    sys.exit(EXIT_SKIPPED if report.problems else 0)


def run_or_exit(action: Callable[[], T]) -> T:
    """Archive errors are one line with the fix, never a traceback."""
    try:
        return action()
    except ArchiveError as exc:
        raise click.ClickException(str(exc)) from None


@cli.group("index")
def index_group() -> None:
    """Build, check and describe the search index.

    Example:

    \b
        newsbot index stats
        newsbot index rebuild
    """


@index_group.command("rebuild")
@data_dir_option
@cluster_option
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@pass_settings
def index_rebuild(settings: Settings, quiet: bool) -> None:
    """Re-embed everything into a fresh index.

    Every article is chunked and embedded again into a new index, which is then swapped in. The old index keeps answering until the swap; if the rebuild is interrupted, the old one
    stays in place and running the command again starts over. Use it after changing the
    embedding model or the chunk settings; with the model setting `auto` it keeps the archive's own model.

    Example:

    \b
        NEWSBOT_EMBEDDING_MODEL=model2vec:~/m2v newsbot index rebuild
        newsbot index rebuild --cluster ray://head:10001
    """
    archive = open_archive(settings)
    count = run_or_exit(lambda: archive.rebuild(progress=not quiet))
    click.echo(f"rebuilt: {count} chunks from {archive.store.count('articles')} articles")


@index_group.command("sync")
@data_dir_option
@cluster_option
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@pass_settings
def index_sync(settings: Settings, quiet: bool) -> None:
    """Embed the chunks the index lacks.

    It also drops vectors of deleted chunks. Run it after an interrupted ingest, when
    `newsbot index stats` reports a mismatch.

    Example:

    \b
        newsbot index sync
    """
    archive = open_archive(settings)
    count = run_or_exit(lambda: archive.sync(progress=not quiet))
    click.echo(f"embedded {count} missing chunks")


@index_group.command("stats")
@data_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_settings
def index_stats(settings: Settings, as_json: bool) -> None:
    """Show what the archive holds.

    Articles, chunks, date range, outlets, model, index type and size, last build, feedback votes.

    Example:

    \b
        newsbot index stats
        newsbot index stats --json
    """
    from bot.state import Feedback

    archive = open_archive(settings)
    stats: dict[str, Any] = {**archive.stats().to_json(), "feedback": Feedback(archive).counts()}
    if as_json:
        click.echo(json.dumps(stats, indent=2))
        return
    for key, value in stats.items():
        if key == "outlets":
            value = ", ".join(f"{name} ({n})" for name, n in list(value.items())[:10])
        if key == "problems":
            value = "; ".join(value) or "none"
        if key == "feedback":
            value = f"up {value['up']}, down {value['down']}"
        click.echo(f"{key.replace('_', ' ')}: {value}")


class DateType(click.ParamType):
    """A date in any common shape (2022-02-07, February 7 2022, …), read as UTC."""

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime | None:
        from index.ingest.dates import parse_query_date

        try:
            return parse_query_date(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


since_option = click.option("-s", "--since", type=DateType(), help="Only articles published on or after this date.")
# every command reads a plain `until` date as in Discord: that whole day included (`Filters.given`)
until_option = click.option(
    "-u", "--until", type=DateType(), help="Only articles published up to and including this date."
)


def query_options(func: F) -> F:
    """The options `search` and `ask` share."""
    options = [
        click.option(
            "-k", "--k", default=ARTICLES, show_default=True, type=click.IntRange(1, MAX_K), help="How many articles."
        ),
        since_option,
        until_option,
        click.option("-o", "--outlet", "outlets", multiple=True, help="Only this outlet (repeatable)."),
        click.option(
            "--as-of", type=DateType(), help="Answer as if asked on this date ('last week' is relative to it)."
        ),
        data_dir_option,
        click.option("--json", "as_json", is_flag=True, help="Print JSON (schema in the README)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def make_filters(
    since: datetime | None, until: datetime | None, outlets: tuple[str, ...], as_of: datetime | None
) -> Filters:
    from index.search import Filters

    return Filters.given(since, until, outlets, as_of)


batch_option = click.option(
    "--batch",
    type=click.File("r"),
    help='JSON Lines of {"question" (or "query"), as_of?, since?, until?, k?, outlet?}, "-" for stdin; '
    "one answer per line, the model loaded once. The options given are every line's defaults.",
)


def open_for_queries(settings: Settings) -> Archive:
    archive = open_archive(settings)
    if archive.store.count("chunks") == 0:
        raise click.ClickException(f"the archive in {archive.data_dir} is empty: run `newsbot ingest PATH` first")
    run_or_exit(archive.require_compatible_model)
    for problem in archive.check():  # answering goes on from what is indexed; writers repair it
        click.echo(f"warning: {problem}", err=True)
    return archive


@cli.command("search")
@click.argument("query", required=False)
@query_options
@batch_option
@pass_settings
def search_command(
    settings: Settings,
    query: str | None,
    k: int,
    since: datetime | None,
    until: datetime | None,
    outlets: tuple[str, ...],
    as_of: datetime | None,
    as_json: bool,
    batch: TextIO | None,
) -> None:
    """Find the articles that best match QUERY.

    Dense and keyword search, fused; each article with its best passages.

    Example:

    \b
        newsbot search "Kremlin Macron talks"
        newsbot search "interest rates" -s 2022-01-01 -u 2022-03-31 -o Reuters --json
        newsbot search --batch questions.jsonl
    """
    from bot.render import format_results
    from index.search import search

    archive = open_for_queries(settings)
    filters = make_filters(since, until, outlets, as_of)
    if batch:  # one JSON object per line, with or without --json
        return print_batch(batch, k, filters, lambda i: search(archive, i.text, k=i.k, filters=i.filters))
    if not query:
        raise click.UsageError("give a QUERY or --batch FILE")
    response = search(archive, query, k=k, filters=filters)
    click.echo(json.dumps(response.to_json(), ensure_ascii=False) if as_json else format_results(response))


def print_batch(
    lines: Iterable[str],
    k: int,
    defaults: Filters,
    answer: Callable[[BatchItem], Any],
    render: Callable[[Any], str] | None = None,
) -> None:
    """Each line's answer in order: its `to_json()` on one line, or with `render` the rendered text and a
    blank line; a bad line is its error (bot/batch.py reads the lines)."""
    from bot.batch import error_text, run_batch

    for _, result in run_batch(lines, k, defaults, answer, MAX_K):
        if render is None:
            click.echo(json.dumps(result if isinstance(result, dict) else result.to_json(), ensure_ascii=False))
        else:
            click.echo((error_text(result) if isinstance(result, dict) else render(result)) + "\n")


@cli.command("ask")
@click.argument("question", required=False)
@query_options
@batch_option
@pass_settings
def ask_command(
    settings: Settings,
    question: str | None,
    k: int,
    since: datetime | None,
    until: datetime | None,
    outlets: tuple[str, ...],
    as_of: datetime | None,
    as_json: bool,
    batch: TextIO | None,
) -> None:
    """Answer QUESTION with quotes and sources.

    The sentences that answer it, quoted verbatim from the archive, each with its numbered source.

    Example:

    \b
        newsbot ask "What did the Kremlin expect from Macron's visit?"
        newsbot ask "What happened last week?" --as-of 2022-02-08 -k 3
        newsbot ask --batch questions.jsonl --json
    """
    from bot.answer import Answer, ask

    archive = open_for_queries(settings)
    filters = make_filters(since, until, outlets, as_of)
    llm = settings.llm_config()
    if batch:
        return print_batch(
            batch,
            k,
            filters,
            lambda i: ask(archive, i.text, k=i.k, filters=i.filters, llm=llm),
            None if as_json else Answer.render,
        )
    if not question:
        raise click.UsageError("give a QUESTION or --batch FILE")
    answer = ask(archive, question, k=k, filters=filters, llm=llm)
    click.echo(json.dumps(answer.to_json(), ensure_ascii=False) if as_json else answer.render())


@cli.command("chat")
@data_dir_option
@click.option("--as-of", type=DateType(), help="Answer as if asked on this date.")
@click.option("--continue", "resume", is_flag=True, help="Carry on the last chat's conversation instead of a new one.")
@pass_settings
def chat_command(settings: Settings, as_of: datetime | None, resume: bool) -> None:
    """Ask questions in the terminal.

    One question per line; reads stdin when it is piped. Each question follows the ones before
    it, as in a Discord thread: "what did he say next?" searches with the earlier question. A
    line `/new` starts a new conversation.

    Example:

    \b
        newsbot chat
        echo "Who won the election?" | newsbot chat --as-of 2022-05-01
        newsbot chat --continue
    """
    from bot.console import chat

    chat(open_for_queries(settings), sys.stdin, as_of=as_of, llm=settings.llm_config(), resume=resume)


@cli.command("feedback")
@data_dir_option
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="JSON Lines: question, as_of, cited_urls, vote (up/down), reason, user_hash, voted_at.",
)
@pass_settings
def feedback_command(settings: Settings, as_json: bool) -> None:
    """List the 👍/👎 votes on the bot's answers.

    The votes given in Discord, oldest first, each with its reason and question.

    Example:

    \b
        newsbot feedback
        newsbot feedback --json > votes.jsonl
    """
    from bot.state import Feedback

    records = Feedback(open_archive(settings)).records()
    for record in records:
        if as_json:
            click.echo(json.dumps(record.to_json(), ensure_ascii=False))
        else:
            reason = f" ({record.reason})" if record.reason else ""
            click.echo(f"{record.voted_at[:16]}  {'👍' if record.vote == 'up' else '👎'}{reason}  {record.question}")
    if not records and not as_json:
        click.echo("no votes yet")


@cli.command("timeline")
@click.argument("topic")
@since_option
@until_option
@click.option(
    "--png", "png", type=click.Path(dir_okay=False, path_type=Path), help="Also write the articles-per-week chart here."
)
@data_dir_option
@pass_settings
def timeline_command(
    settings: Settings, topic: str, since: datetime | None, until: datetime | None, png: Path | None
) -> None:
    """Show TOPIC's articles in date order.

    The archive's articles on TOPIC, oldest first (duplicates folded), and how many a week.

    Example:

    \b
        newsbot timeline "Ukraine grain deal"
        newsbot timeline inflation -s 2022-01-01 --png inflation.png
    """
    from bot.chart import weekly_chart
    from bot.render import format_timeline
    from bot.timeline import build_timeline

    filters = make_filters(since, until, (), None)
    timeline = build_timeline(open_for_queries(settings), topic, filters.since, filters.until)
    click.echo(format_timeline(timeline))
    if png is not None:
        weeks = timeline.weeks()
        if not weeks:
            raise click.ClickException("no dated articles on that topic: no chart written")
        png.write_bytes(weekly_chart(weeks, f"“{topic}”: articles per week"))
        click.echo(f"chart: {png}")


def discord_token(settings: Settings) -> str:
    if not settings.discord_token or not settings.discord_token.get_secret_value().strip():
        raise click.ClickException(
            'DISCORD_TOKEN is not set: put the bot token in .env (see the README, "Run it in your Discord server")'
        )
    return settings.discord_token.get_secret_value().strip()


def run_discord(action: Callable[[], T], token: str = "") -> T:
    """Discord's refusals are one line with the fix, never a traceback (and never the token)."""
    import aiohttp
    import discord

    try:
        return action()
    except discord.LoginFailure:
        raise click.ClickException(
            "Discord rejected DISCORD_TOKEN: copy the token again from the Developer Portal (Bot → Reset Token)"
        ) from None
    except discord.PrivilegedIntentsRequired:
        raise click.ClickException(
            "ASK_CHANNEL_IDS needs the Message Content intent: enable it in the Developer Portal "
            "(Bot → Privileged Gateway Intents) or unset ASK_CHANNEL_IDS"
        ) from None
    except discord.HTTPException as exc:
        raise click.ClickException(
            redact(f"Discord refused the request: {exc.status} {exc.text}", token)[:500]
        ) from None
    except (OSError, aiohttp.ClientError) as exc:  # no network, DNS, TLS: say so in one line
        raise click.ClickException(redact(f"cannot reach Discord: {exc}", token)) from None


@cli.command("run")
@data_dir_option
@pass_settings
def run_command(settings: Settings) -> None:
    """Run the Discord bot.

    Runs until Ctrl-C; needs DISCORD_TOKEN (see the README's Discord section). It answers messages that mention it and, with ASK_CHANNEL_IDS, every message in those
    channels. Slash commands appear once registered with `newsbot sync-commands`.

    Example:

    \b
        DISCORD_TOKEN=… newsbot run --data-dir /srv/newsbot
    """
    from bot.discord.app import run_bot

    token = discord_token(settings)
    archive = open_archive(settings)
    run_or_exit(archive.require_compatible_model)
    try:
        run_discord(lambda: run_bot(settings, token, archive), token)
    finally:
        archive.close()


@cli.command("sync-commands")
@pass_settings
def sync_commands_command(settings: Settings) -> None:
    """Register the slash commands with Discord.

    In DISCORD_GUILD_ID when set (they show at once), else globally (may take up to an hour to
    show). Run it after installing or upgrading newsbot.

    Example:

    \b
        DISCORD_GUILD_ID=123456789012345678 newsbot sync-commands
    """
    import asyncio

    from bot.discord.app import sync_commands

    token = discord_token(settings)
    names = run_discord(lambda: asyncio.run(sync_commands(settings, token)), token)
    where = f"to guild {settings.discord_guild_id}" if settings.discord_guild_id else "globally"
    click.echo(f"synced {len(names)} commands {where}: {', '.join('/' + n for n in names)}")


@cli.command("watch")
@data_dir_option
@click.option("--once", is_flag=True, help="Poll every feed once, then exit (for cron or a timer).")
@pass_settings
def watch_command(settings: Settings, once: bool) -> None:
    """Poll the feeds and ingest new items.

    The feeds in NEWSBOT_FEEDS, every NEWSBOT_WATCH_MINUTES. Each feed's items are remembered in the archive, so only items it never showed before are
    fetched and ingested. Chunks that a crash left out of the index are embedded first. Runs until
    Ctrl-C; with --once the exit code is 3 when some item or feed could not be read.

    Example:

    \b
        NEWSBOT_FEEDS=https://example.com/feed.xml newsbot watch
        newsbot watch --once
    """
    if not settings.feeds:
        raise click.ClickException("NEWSBOT_FEEDS is empty: list the feed URLs to watch (comma or space separated)")
    archive = open_archive(settings)
    repaired = run_or_exit(archive.repair)
    if repaired:
        click.echo(f"embedded {repaired} chunks missing from the index")
    try:
        skipped = run_or_exit(lambda: asyncio.run(watch_feeds(archive, settings, once)))
    except KeyboardInterrupt:
        skipped = 0
    sys.exit(EXIT_SKIPPED if skipped else 0)


async def watch_feeds(archive: Archive, settings: Settings, once: bool) -> int:
    """One poll (`--once`, returning how many problems it had) or polls until cancelled."""
    from index.web.watch import Watcher

    async with Watcher(archive, settings.feeds, settings.fetch_settings()) as watcher:
        if once:
            return print_poll(await watcher.poll_once(), watcher.problems)

        async def report(new: list[NewArticle]) -> None:
            print_poll(new, watcher.problems)

        await watcher.run(settings.watch_minutes, report)
    return 0


def print_poll(new: list[NewArticle], problems: list[ReadProblem]) -> int:
    click.echo(f"{len(new)} new article{'s' * (len(new) != 1)}")
    for found in new:
        article = found.article
        click.echo(f"  {article.title or 'Untitled'} — {article.outlet or 'unknown'} {article.url or ''}".rstrip())
    print_problems(problems)
    return len(problems)


def main() -> None:
    cli()


if __name__ == "__main__":  # `python -m bot.cli`, as the crash tests start it
    main()
