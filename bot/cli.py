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
    from index.search import Filters

from bot.settings import Settings
from index.archive import Archive, ArchiveError, IngestReport
from index.article import Article, ReadProblem

EXIT_SKIPPED = 3
MAX_K = 100
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def open_archive(data_dir: Path | None, settings: Settings | None = None) -> Archive:
    settings = settings or Settings()
    return Archive(data_dir or settings.data_dir, settings.archive_config())


data_dir_option = click.option(
    "-d",
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Archive folder (default: NEWSBOT_DATA_DIR, else ./data).",
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
def cli() -> None:
    """Answers questions about a news archive.

    In Discord (`newsbot run`) or in the terminal (`newsbot ask`, `newsbot chat`).

    Example:

    \b
        newsbot ingest ~/archive/
        newsbot ask "What did the Kremlin expect from Macron's visit?"
    """
    from index import limits

    limits.configure(Settings().read_limits())


def read_inputs(paths: tuple[str, ...], settings: Settings) -> Iterator[Article | ReadProblem]:
    """Files and folders from disk; feeds and article pages from the web."""
    from index.readers import read_path
    from index.readers.feeds import is_url, read_url_sync

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
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def ingest(paths: tuple[str, ...], data_dir: Path | None, quiet: bool) -> None:
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
    settings = Settings()
    archive = open_archive(data_dir, settings)
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
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def index_rebuild(data_dir: Path | None, quiet: bool) -> None:
    """Re-embed everything into a fresh index.

    Every article is chunked and embedded again into a new index, which is then swapped in. The old index keeps answering until the swap; if the rebuild is interrupted, the old one
    stays in place and running the command again starts over. Use it after changing the
    embedding model or the chunk settings.

    Example:

    \b
        NEWSBOT_EMBEDDING_MODEL=model2vec:~/m2v newsbot index rebuild
    """
    archive = open_archive(data_dir)
    count = run_or_exit(lambda: archive.rebuild(progress=not quiet))
    click.echo(f"rebuilt: {count} chunks from {archive.store.count('articles')} articles")


@index_group.command("sync")
@data_dir_option
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def index_sync(data_dir: Path | None, quiet: bool) -> None:
    """Embed the chunks the index lacks.

    It also drops vectors of deleted chunks. Run it after an interrupted ingest, when
    `newsbot index stats` reports a mismatch.

    Example:

    \b
        newsbot index sync
    """
    archive = open_archive(data_dir)
    count = run_or_exit(lambda: archive.sync(progress=not quiet))
    click.echo(f"embedded {count} missing chunks")


@index_group.command("stats")
@data_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def index_stats(data_dir: Path | None, as_json: bool) -> None:
    """Show what the archive holds.

    Articles, chunks, date range, outlets, model, index type and size, last build.

    Example:

    \b
        newsbot index stats
        newsbot index stats --json
    """
    stats = open_archive(data_dir).stats()
    if as_json:
        click.echo(json.dumps(stats, indent=2))
        return
    for key, value in stats.items():
        if key == "outlets":
            value = ", ".join(f"{name} ({n})" for name, n in list(value.items())[:10])
        if key == "problems":
            value = "; ".join(value) or "none"
        click.echo(f"{key.replace('_', ' ')}: {value}")


class DateType(click.ParamType):
    """A date in any common shape (2022-02-07, February 7 2022, …), read as UTC."""

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime | None:
        from index.dates import parse_query_date

        try:
            return parse_query_date(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def query_options(func: F) -> F:
    """The options `search` and `ask` share."""
    options = [
        click.option("-k", "--k", default=5, show_default=True, type=click.IntRange(1, MAX_K), help="How many articles."),
        click.option("-s", "--since", type=DateType(), help="Only articles published on or after this date."),
        click.option("-u", "--until", type=DateType(), help="Only articles published up to and including this date."),
        click.option("-o", "--outlet", "outlets", multiple=True, help="Only this outlet (repeatable)."),
        click.option("--as-of", type=DateType(), help="Answer as if asked on this date ('last week' is relative to it)."),
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


def open_for_queries(data_dir: Path | None) -> Archive:
    archive = open_archive(data_dir)
    if archive.store.count("chunks") == 0:
        raise click.ClickException(f"the archive in {archive.data_dir} is empty: run `newsbot ingest PATH` first")
    run_or_exit(archive.require_compatible_model)
    for problem in archive.check():  # answering goes on from what is indexed; writers repair it
        click.echo(f"warning: {problem}", err=True)
    return archive


@cli.command("search")
@click.argument("query", required=False)
@query_options
@click.option("--batch", type=click.File("r"), help="JSON Lines of {query, as_of?, since?, until?, k?}; one result object per line.")
def search_command(
    query: str | None, k: int, since: datetime | None, until: datetime | None, outlets: tuple[str, ...],
    as_of: datetime | None, data_dir: Path | None, as_json: bool, batch: TextIO | None,
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

    archive = open_for_queries(data_dir)
    if batch:
        return run_batch(archive, batch, k, make_filters(since, until, outlets, as_of))
    if not query:
        raise click.UsageError("give a QUERY or --batch FILE")
    response = search(archive, query, k=k, filters=make_filters(since, until, outlets, as_of))
    click.echo(json.dumps(response.to_json(), ensure_ascii=False) if as_json else format_results(response))


def run_batch(archive: Archive, lines: Iterable[str], k: int, defaults: Filters) -> None:
    from dataclasses import replace

    from index.dates import parse_query_date
    from index.search import search, whole_day_until

    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            dates: dict[str, Any] = {f: parse_query_date(item[f]) for f in ("as_of", "since", "until") if item.get(f)}
            if "until" in dates:
                dates["until"] = whole_day_until(dates["until"])
            filters = replace(defaults, **dates)
            response = search(archive, str(item["query"]), k=batch_k(item.get("k", k)), filters=filters)
            click.echo(json.dumps(response.to_json(), ensure_ascii=False))
        except (ValueError, KeyError, TypeError, OverflowError, RecursionError) as exc:
            click.echo(json.dumps({"line": number, "error": f"{type(exc).__name__}: {exc}"[:300]}))


def batch_k(value: object) -> int:
    """A batch line's k: a whole number from 1 to MAX_K, else ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or not 1 <= value <= MAX_K:
        raise ValueError(f"k must be a whole number from 1 to {MAX_K}, not {value!r}")
    return int(value)


@cli.command("ask")
@click.argument("question")
@query_options
def ask_command(
    question: str, k: int, since: datetime | None, until: datetime | None, outlets: tuple[str, ...],
    as_of: datetime | None, data_dir: Path | None, as_json: bool,
) -> None:
    """Answer QUESTION with quotes and sources.

    The sentences that answer it, quoted verbatim from the archive, each with its numbered source.

    Example:

    \b
        newsbot ask "What did the Kremlin expect from Macron's visit?"
        newsbot ask "What happened last week?" --as-of 2022-02-08 -k 3
    """
    from bot.answer import ask

    archive = open_for_queries(data_dir)
    filters = make_filters(since, until, outlets, as_of)
    answer = ask(archive, question, k=k, filters=filters, llm=Settings().llm_config())
    click.echo(json.dumps(answer.to_json(), ensure_ascii=False) if as_json else answer.render())


@cli.command("chat")
@data_dir_option
@click.option("--as-of", type=DateType(), help="Answer as if asked on this date.")
def chat_command(data_dir: Path | None, as_of: datetime | None) -> None:
    """Ask questions in the terminal.

    One question per line; reads stdin when it is piped.

    Example:

    \b
        newsbot chat
        echo "Who won the election?" | newsbot chat --as-of 2022-05-01
    """
    from bot.console import chat

    chat(open_for_queries(data_dir), sys.stdin, as_of=as_of, llm=Settings().llm_config())


def discord_token(settings: Settings) -> str:
    if not settings.discord_token or not settings.discord_token.get_secret_value().strip():
        raise click.ClickException("DISCORD_TOKEN is not set: put the bot token in .env (see the README, \"Run it in your Discord server\")")
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
        raise click.ClickException(redact(f"Discord refused the request: {exc.status} {exc.text}", token)[:500]) from None
    except (OSError, aiohttp.ClientError) as exc:  # no network, DNS, TLS: say so in one line
        raise click.ClickException(redact(f"cannot reach Discord: {exc}", token)) from None


@cli.command("run")
@data_dir_option
def run_command(data_dir: Path | None) -> None:
    """Run the Discord bot.

    Runs until Ctrl-C; needs DISCORD_TOKEN (see the README's Discord section). It answers messages that mention it and, with ASK_CHANNEL_IDS, every message in those
    channels. Slash commands appear once registered with `newsbot sync-commands`.

    Example:

    \b
        DISCORD_TOKEN=… newsbot run --data-dir /srv/newsbot
    """
    from bot.discord.app import run_bot

    settings = Settings()
    token = discord_token(settings)
    archive = open_archive(data_dir, settings)
    run_or_exit(archive.require_compatible_model)
    try:
        run_discord(lambda: run_bot(settings, token, archive), token)
    finally:
        archive.close()


@cli.command("sync-commands")
def sync_commands_command() -> None:
    """Register the slash commands with Discord.

    In DISCORD_GUILD_ID when set (they show at once), else globally (may take up to an hour to
    show). Run it after installing or upgrading newsbot.

    Example:

    \b
        DISCORD_GUILD_ID=123456789012345678 newsbot sync-commands
    """
    import asyncio

    from bot.discord.app import sync_commands

    settings = Settings()
    token = discord_token(settings)
    names = run_discord(lambda: asyncio.run(sync_commands(settings, token)), token)
    where = f"to guild {settings.discord_guild_id}" if settings.discord_guild_id else "globally"
    click.echo(f"synced {len(names)} commands {where}: {', '.join('/' + n for n in names)}")


@cli.command("watch")
@data_dir_option
@click.option("--once", is_flag=True, help="Poll every feed once, then exit (for cron or a timer).")
def watch_command(data_dir: Path | None, once: bool) -> None:
    """Poll the feeds and ingest new items.

    The feeds in NEWSBOT_FEEDS, every NEWSBOT_WATCH_MINUTES. Each feed's items are remembered in the archive, so only items it never showed before are
    fetched and ingested. Chunks that a crash left out of the index are embedded first. Runs until
    Ctrl-C; with --once the exit code is 3 when some item or feed could not be read.

    Example:

    \b
        NEWSBOT_FEEDS=https://example.com/feed.xml newsbot watch
        newsbot watch --once
    """
    settings = Settings()
    if not settings.feeds:
        raise click.ClickException("NEWSBOT_FEEDS is empty: list the feed URLs to watch (comma or space separated)")
    archive = open_archive(data_dir, settings)
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
    from index.watch import Watcher

    async with Watcher(archive, settings.feeds, settings.fetch_settings()) as watcher:
        if once:
            return print_poll(await watcher.poll_once(), watcher.problems)

        async def report(new: list[dict]) -> None:
            print_poll(new, watcher.problems)

        await watcher.run(settings.watch_minutes, report)
    return 0


def print_poll(new: list[dict], problems: list[ReadProblem]) -> int:
    click.echo(f"{len(new)} new article{'s' * (len(new) != 1)}")
    for article in new:
        click.echo(f"  {article['title'] or 'Untitled'} — {article['outlet'] or 'unknown'} {article['url'] or ''}".rstrip())
    print_problems(problems)
    return len(problems)


def main() -> None:
    cli()


if __name__ == "__main__":  # `python -m bot.cli`, as the crash tests start it
    main()
