"""What the bot shows in Discord: plain functions from answers, results and rows to embeds and texts.

Every builder stays within Discord's limits whatever it is given; `fit` is the last guard.
Archive text is escaped (Markdown and mentions), so a quote can neither format nor ping."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import discord
from discord.utils import format_dt

from bot.answer import NOTHING_FOUND, Answer, Citation
from index.search import Result, SearchResponse
from index.store.rows import ArchiveStats, ArticleRow

if TYPE_CHECKING:
    from bot.timeline import Timeline

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits)
TITLE = 256
DESCRIPTION = 4096
FIELD_NAME = 256
FIELD_VALUE = 1024
FIELDS = 25
FOOTER = 2048
AUTHOR = 256
TOTAL = 6000
CONTENT = 2000
URL = 2048

ELLIPSIS = "…"
QUOTE = 1000  # one quoted sentence at most; three still fit one description
HEADLINE = 200  # keeps a source line with its link well inside one field value
SNIPPET = 300
OPENING = 1500
LINKED_URL = 512  # a longer URL is not linked: it would crowd out the text around it
KEEP_DESCRIPTION = 1000  # when an embed is too big, the description is cut down to this before fields go
COLOUR = discord.Colour.blurple()

APOLOGY = "Sorry, something went wrong while answering that. It has been logged; please try again later."
NOT_YOURS = "These buttons belong to whoever ran the search; run `/search` yourself to page through results."
NO_RESULTS = "No matching articles."
EMPTY_QUESTION = "Ask me something about the news, e.g. “what did the Kremlin expect from Macron's visit?”"

MASKED_LINK = re.compile(r"\[(?:\\.|[^\[\]\\])*\]\([^()\s]*\)")
SENTENCE_END = re.compile(r"[.!?…][\"'”’»)\]*_~|]*(?=\s)|\n")
WORD_END = re.compile(r"\S(?=\s)")


# --------------------------------------------------------------------------- text


def cut(text: str, limit: int) -> str:
    """`text` if it fits `limit`, else a prefix + "…": at a sentence end if one is past half of it,
    else at a word end, never inside a Markdown link `[text](url)` nor after a lone escaping backslash."""
    if len(text) <= limit:
        return text
    room = limit - len(ELLIPSIS)
    if room <= 0:
        return ELLIPSIS[:limit]
    links = [m.span() for m in MASKED_LINK.finditer(text)]

    def allowed(i: int) -> bool:
        return 0 < i <= room and not any(start < i < end for start, end in links)

    end = _last_end(text, SENTENCE_END, room, allowed, at_least=room // 2) or _last_end(text, WORD_END, room, allowed)
    if end is None:  # one giant word: cut it, but before any link that straddles the cut
        end = min([start for start, stop in links if start < room < stop] + [room])
    while end > 0 and text[end - 1] == "\\":
        end -= 1
    return text[:end].rstrip() + ELLIPSIS


def _last_end(
    text: str, pattern: re.Pattern[str], room: int, allowed: Callable[[int], bool], at_least: int = 1
) -> int | None:
    ends = [m.end() for m in pattern.finditer(text, 0, room + 1) if allowed(m.end())]
    return ends[-1] if ends and ends[-1] >= at_least else None


def one_line(text: str | None) -> str:
    return " ".join((text or "").split())


# Zero-width, bidi-override and other invisible formatting characters: an article could hide text
# with them or make a line read backwards ("gnp.exe" as "exe.png").
INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb]"
)
# Every character Discord's Markdown gives a meaning to anywhere in a line; `<` starts every mention
# (<@user>, <@&role>, <#channel>, </command:id>, <t:timestamp>), `[` every masked link.
_MARKDOWN = re.compile(r"([\\*_~|`\[\]<>])")
_LINE_START = re.compile(r"^([#>-])")
_MASS_MENTION = re.compile(r"@(everyone|here)", re.IGNORECASE)
_SCHEME = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*):(?=//)")  # "https://…" in text would be a live link
WORD_JOINER = "\u2060"


def visible(text: str | None) -> str:
    """The text without invisible and direction-override characters."""
    return INVISIBLE.sub("", text or "")


def escape(text: str | None) -> str:
    """Archive or user text shown as typed, inert: no Markdown, links, mentions or hidden characters."""
    text = _MARKDOWN.sub(r"\\\1", one_line(visible(text)))
    text = _LINE_START.sub(r"\\\1", text)
    text = _MASS_MENTION.sub("@\u200b\\1", text)  # the zero-width space discord.py uses too
    return _SCHEME.sub(rf"\1:{WORD_JOINER}", text)


def link(text: str, url: str | None) -> str:
    """`[text](url)` for a usable web address, else the escaped text alone."""
    shown = re.sub(r"(?<!\\)([\[\]])", r"\\\1", escape(text))
    target = safe_url(url)
    return f"[{shown}]({target})" if target and len(target) <= LINKED_URL else shown


def safe_url(url: str | None) -> str | None:
    """The URL with the characters that would end a Markdown link encoded; None unless http(s)."""
    url = (url or "").strip()
    if not re.match(r"https?://[^\s/]", url, re.IGNORECASE):
        return None
    for char, code in (("(", "%28"), (")", "%29"), (" ", "%20"), ("<", "%3C"), (">", "%3E")):
        url = url.replace(char, code)
    return url


def date_text(published: str | None) -> str:
    """'7 Jun 2022' for a stored ISO date, 'undated' without one."""
    if not published:
        return "undated"
    try:
        moment = datetime.fromisoformat(published)
    except ValueError:
        return escape(published[:10])
    return f"{moment.day} {moment:%b %Y}"


def join_within(entries: Iterable[str], limit: int, sep: str = "\n") -> str:
    """Whole entries while they fit; the first one is cut rather than nothing shown."""
    text = ""
    for entry in entries:
        candidate = f"{text}{sep}{entry}" if text else entry
        if len(candidate) > limit:
            return text or cut(entry, limit)
        text = candidate
    return text


def clip_content(text: str) -> str:
    return cut(text, CONTENT)


# --------------------------------------------------------------------------- limits


def fit(embed: discord.Embed) -> discord.Embed:
    """Cuts every part to its limit, then the description and, failing that, the last fields to 6000 in all."""
    if embed.title:
        embed.title = cut(embed.title, TITLE)
    if embed.url and len(embed.url) > URL:
        embed.url = None
    if embed.description:
        embed.description = cut(embed.description, DESCRIPTION)
    if embed.footer.text:
        embed.set_footer(text=cut(embed.footer.text, FOOTER), icon_url=embed.footer.icon_url)
    if embed.author.name:
        embed.set_author(name=cut(embed.author.name, AUTHOR), url=embed.author.url, icon_url=embed.author.icon_url)
    fields = [(f.name, f.value, f.inline) for f in embed.fields][:FIELDS]
    embed.clear_fields()
    for name, value, inline in fields:
        embed.add_field(name=cut(name or "\u200b", FIELD_NAME), value=cut(value or "—", FIELD_VALUE), inline=inline)
    overflow = len(embed) - TOTAL
    if overflow > 0 and embed.description:
        embed.description = cut(embed.description, max(len(embed.description) - overflow, KEEP_DESCRIPTION))
    while len(embed) > TOTAL and embed.fields:
        embed.remove_field(len(embed.fields) - 1)
    return embed


def add_lines_as_fields(embed: discord.Embed, name: str, lines: Sequence[str]) -> None:
    """Lines in as few fields as fit 1024 characters each; a line is never split across two."""
    value = ""
    for line in lines:
        if value and len(value) + 1 + len(line) > FIELD_VALUE:
            embed.add_field(name=name, value=value, inline=False)
            name, value = "\u200b", ""
        value = f"{value}\n{line}" if value else cut(line, FIELD_VALUE)
    if value:
        embed.add_field(name=name, value=value, inline=False)


# --------------------------------------------------------------------------- answers


def source_line(
    n: int,
    title: str | None,
    url: str | None,
    outlet: str | None,
    published: str | None,
    also_in: Sequence[str] = (),
) -> str:
    """`**1.** [Headline](url) — Outlet, 7 Jun 2022 · also in: AP, BBC`"""
    headline = link(cut(one_line(title) or "Untitled", HEADLINE), url)
    line = (
        f"**{n}.** {headline} — {escape(cut(one_line(outlet), HEADLINE)) or 'unknown outlet'}, {date_text(published)}"
    )
    if also_in:
        line += " · also in: " + escape(cut(", ".join(also_in), HEADLINE))
    return line


def citation_line(citation: Citation) -> str:
    return source_line(citation.n, citation.title, citation.url, citation.outlet, citation.published, citation.also_in)


def quote_line(sentence: str, n: int) -> str:
    return f"> “{cut(escape(sentence), QUOTE)}” **[{n}]**"


def lead_text(lead: str) -> str:
    """The answer's opening line, escaped but for its **bold** answer span, its [n] citations bold like
    the quotes' (after escaping, they read \\[n\\])."""
    parts = one_line(lead).split("**")
    escaped = cut("**".join(_spaced(part, escape(part)) for part in parts), QUOTE)
    return re.sub(r"\\\[(\d+(?:, ?\d+)*)\\\]", r"**[\1]**", escaped)


def _spaced(raw: str, escaped: str) -> str:
    """`escaped` with the spaces `raw` had around it (escaping trims them)."""
    return (" " if raw[:1].isspace() else "") + escaped + (" " if raw[-1:].isspace() and escaped else "")


def answer_embed(answer: Answer) -> discord.Embed:
    """The quoted sentences with their numbers, and the numbered sources with headline links."""
    embed = discord.Embed(title=cut(escape(answer.question) or "Your question", TITLE), colour=COLOUR)
    footer = filters_note(answer.filters, answer.window)
    if footer:
        embed.set_footer(text=footer)
    add_lines_as_fields(embed, "Sources", [citation_line(c) for c in answer.citations])
    if answer.abstained:
        embed.description = NOTHING_FOUND
    else:
        # the quotes are the answer: they keep KEEP_DESCRIPTION however long the sources, which fit() trims instead
        room = max(KEEP_DESCRIPTION, min(DESCRIPTION, TOTAL - len(embed)))
        lead = [lead_text(answer.lead)] if answer.lead else []
        embed.description = join_within([*lead, *(quote_line(s, n) for s, n in answer.supporting())], room)
    return fit(embed)


def until_text(until: str) -> str:
    """'until 6 Feb 2022' for the exclusive end a plain `until` date became (next midnight), else 'before …'."""
    try:
        end = datetime.fromisoformat(until)
    except ValueError:
        return f"before {date_text(until)}"
    if end == end.replace(hour=0, minute=0, second=0, microsecond=0):
        return f"until {date_text((end - timedelta(days=1)).isoformat())}"
    return f"before {date_text(until)}"


def filters_note(filters: dict, window: str | None) -> str:
    """'Searched the week of …; since 1 Feb 2022; outlets: Reuters' from an answer's filters."""
    parts = [f"Searched {window}"] if window else []
    if filters.get("since"):
        parts.append(f"since {date_text(filters['since'])}")
    if filters.get("until"):
        parts.append(until_text(filters["until"]))
    if filters.get("outlets"):
        parts.append("outlets: " + ", ".join(filters["outlets"]))
    return one_line(visible("; ".join(parts)))  # footers render no Markdown, links or mentions: nothing to escape


# --------------------------------------------------------------------------- search results


def result_entry(n: int, result: Result) -> str:
    lines = [source_line(n, result.title, result.url, result.outlet, result.published, result.also_in)]
    if result.passages:
        lines.append(f"> {cut(escape(result.passages[0].text), SNIPPET)}")
    return "\n".join(lines)


def results_pages(response: SearchResponse, page_size: int = 5) -> list[discord.Embed]:
    """One embed per `page_size` results, numbered across pages; one 'no results' page when empty."""
    title = cut(f"Search: {escape(response.query)}", TITLE)
    window = response.window.describe() if response.window else None
    if not response.results:
        return [fit(discord.Embed(title=title, description=NO_RESULTS, colour=COLOUR))]
    starts = range(0, len(response.results), page_size)
    pages = []
    for page, start in enumerate(starts, 1):
        entries = [result_entry(start + i + 1, r) for i, r in enumerate(response.results[start : start + page_size])]
        embed = discord.Embed(title=title, description=join_within(entries, DESCRIPTION, "\n\n"), colour=COLOUR)
        note = filters_note(response.filters.to_json(), window)
        embed.set_footer(text=f"Page {page} of {len(starts)}" + (f" · {note}" if note else ""))
        pages.append(fit(embed))
    return pages


# --------------------------------------------------------------------------- articles


def article_lines(rows: Sequence[ArticleRow]) -> list[str]:
    return [source_line(n, r.title, r.url, r.outlet, r.published) for n, r in enumerate(rows, 1)]


def recent_embed(rows: Sequence[ArticleRow], outlet: str | None = None) -> discord.Embed:
    """Articles newest first, one source line each."""
    title = "Most recent articles" + (f" from {escape(outlet)}" if outlet else "")
    lines = article_lines(rows)
    description = join_within(lines, DESCRIPTION) if lines else NO_RESULTS
    return fit(discord.Embed(title=cut(title, TITLE), description=description, colour=COLOUR))


def announcement_embed(rows: Sequence[ArticleRow], more: int = 0) -> discord.Embed:
    """New articles from the watched feeds: one source line each, and how many more came."""
    lines = article_lines(rows)
    if more:
        lines.append(f"…and {more} more")
    return fit(discord.Embed(title="New in the archive", description=join_within(lines, DESCRIPTION), colour=COLOUR))


def opening_paragraph(text: str | None) -> str:
    """The first non-blank paragraph, cut at a sentence end."""
    paragraphs = [p for p in re.split(r"\n\s*\n|\r\n\s*\r\n", text or "") if p.strip()]
    return cut(escape(paragraphs[0]), OPENING) if paragraphs else ""


def article_embed(row: ArticleRow) -> discord.Embed:
    """Headline (linked), outlet, date, authors, link and opening paragraph of one stored article."""
    url = safe_url(row.url)
    embed = discord.Embed(
        title=cut(escape(row.title) or "Untitled", TITLE),
        url=url if url and len(url) <= URL else None,
        description=opening_paragraph(row.text) or "(no text)",
        colour=COLOUR,
    )
    embed.add_field(name="Outlet", value=escape(row.outlet) or "unknown", inline=True)
    embed.add_field(name="Published", value=date_text(row.published), inline=True)
    if row.authors:
        embed.add_field(name="Authors", value=escape(", ".join(row.authors)), inline=True)
    if url:
        embed.add_field(
            name="Link",
            value=link("Read the article", url) if len(url) <= LINKED_URL else cut(url, FIELD_VALUE),
            inline=False,
        )
    return fit(embed)


def article_missing_embed(url: str) -> discord.Embed:
    return fit(
        discord.Embed(
            title="Not in the archive", description=f"No stored article has the address {escape(url)}.", colour=COLOUR
        )
    )


# --------------------------------------------------------------------------- status


def moment_text(iso: str | None) -> str:
    """Discord's local-time rendering of a stored UTC moment, with how long ago."""
    if not iso:
        return "never"
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return escape(iso)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return f"{format_dt(moment, 'f')} ({format_dt(moment, 'R')})"


def status_embed(stats: ArchiveStats, votes: dict[str, int] | None = None, follows: int | None = None) -> discord.Embed:
    """Counts, coverage, outlets, last ingest, index build and model from `Archive.stats()`; the
    feedback votes and the followed topics when given."""
    embed = discord.Embed(title="Archive status", colour=COLOUR)
    embed.add_field(name="Articles", value=f"{stats.articles:,}", inline=True)
    embed.add_field(name="Chunks", value=f"{stats.chunks:,}", inline=True)
    embed.add_field(name="Vectors", value=f"{stats.vectors:,}", inline=True)
    coverage = f"{date_text(stats.published_from)} – {date_text(stats.published_to)}"
    embed.add_field(name="Coverage", value=coverage if stats.published_from else "no dated articles", inline=False)
    listed = [f"{escape(name)} ({n:,})" for name, n in stats.outlets.items()]
    embed.add_field(
        name=f"Outlets ({len(stats.outlets):,})", value=join_within(listed, FIELD_VALUE, ", ") or "none", inline=False
    )
    embed.add_field(name="Last ingest", value=moment_text(stats.last_ingest), inline=False)
    add_index_fields(embed, stats)
    if votes is not None:
        embed.add_field(name="Feedback", value=f"👍 {votes.get('up', 0):,} · 👎 {votes.get('down', 0):,}", inline=True)
    if follows is not None:
        embed.add_field(name="Followed topics", value=f"{follows:,}", inline=True)
    if stats.problems:
        add_lines_as_fields(embed, "Needs attention", [escape(p) for p in stats.problems])
    return fit(embed)


def add_index_fields(embed: discord.Embed, stats: ArchiveStats) -> None:
    """The index's kind and build, and the model it was embedded with."""
    build = stats.index_build_id or "built by ingest"
    built = moment_text(stats.index_built_at or stats.index_updated_at)
    embed.add_field(name="Index", value=f"{escape(stats.index_kind) or 'none'}, {escape(build)}, {built}", inline=False)
    dimension = stats.embedding_dimension
    model = escape(stats.embedding_model) or "none yet"
    embed.add_field(name="Model", value=f"{model} ({dimension} dimensions)" if dimension else model, inline=False)


# --------------------------------------------------------------------------- short texts


def cooldown_text(retry_at: datetime) -> str:
    return f"One question at a time: you can ask again {format_dt(retry_at, 'R')}."


def reindex_cooldown_text(retry_at: datetime) -> str:
    return f"The archive was reindexed recently; /reindex can run again {format_dt(retry_at, 'R')}."


def progress_text(stage: str, done: int = 0, total: int = 0) -> str:
    if not total:
        return f"Reindexing: {escape(stage)}…"
    return f"Reindexing: {escape(stage)} {done:,}/{total:,} ({100 * done // total}%)…"


def reindex_done_text(chunks: int, seconds: float) -> str:
    return f"Reindex done: {chunks:,} chunks embedded in {seconds:,.1f} s."


def bad_date_text(value: object) -> str:
    return clip_content(f"“{escape(str(value))}” is not a date I can read; try 2022-02-07 or “7 February 2022”.")


# --------------------------------------------------------------------------- threads, feedback, follows

THREAD_NAME = 100  # Discord's limit on a thread's name
VOTE_UNKNOWN = "I can no longer find that answer, so the vote was not recorded."
REASON_PLACEHOLDER = "Why? (optional)"
NEEDS_CONTENT_INTENT = (
    "Saved, but this bot runs without the Message Content intent, so it cannot read questions there "
    "without a mention: set NEWSBOT_MESSAGE_CONTENT=true (and enable the intent in the Developer Portal)."
)


def thread_name(question: str) -> str:
    """The thread an answer starts: named from the question, within Discord's 100 characters."""
    return cut(one_line(question), THREAD_NAME) or "Question"


def vote_text(vote: str) -> str:
    if vote == "up":
        return "Thanks — glad it helped. 👍 recorded (click again to change your vote)."
    return "Thanks — 👎 recorded. If you like, say what was wrong:"


def reason_text(label: str) -> str:
    return f"Thanks — noted: {label.lower()}."


def follow_embed(topic: str, article: ArticleRow) -> discord.Embed:
    """A new article on a followed topic: headline (linked), outlet and date."""
    line = source_line(1, article.title, article.url, article.outlet, article.published)
    embed = discord.Embed(
        title=cut(f"New on “{escape(one_line(topic))}”", TITLE), description=line.removeprefix("**1.** "), colour=COLOUR
    )
    return fit(embed)


def follow_text(topic: str, added: bool) -> str:
    topic = escape(one_line(topic))
    if added:
        return f"Following “{topic}”: new articles on it will be posted here."
    return f"Already following “{topic}” here."


def unfollow_text(topic: str, removed: bool) -> str:
    topic = escape(one_line(topic))
    return f"Stopped following “{topic}”." if removed else f"“{topic}” was not followed here."


def following_embed(topics: Sequence[str]) -> discord.Embed:
    lines = [f"• {escape(cut(one_line(t), HEADLINE))}" for t in topics]
    description = join_within(lines, DESCRIPTION) if lines else "Nothing is followed here; add a topic with `/follow`."
    return fit(discord.Embed(title="Followed topics", description=description, colour=COLOUR))


def config_embed(ask_channels: Sequence[int], announce_channel: int | None, from_environment: bool) -> discord.Embed:
    """The server's ask-channels and announce channel, as mentions."""
    embed = discord.Embed(title="Settings for this server", colour=COLOUR)
    listed = ", ".join(f"<#{c}>" for c in ask_channels) or "none (questions need a mention)"
    embed.add_field(name="Ask-channels", value=cut(listed, FIELD_VALUE), inline=False)
    embed.add_field(
        name="Announce channel", value=f"<#{announce_channel}>" if announce_channel else "none", inline=False
    )
    if from_environment:
        embed.set_footer(text="Defaults from the environment (ASK_CHANNEL_IDS, ANNOUNCE_CHANNEL_ID) apply too.")
    return fit(embed)


# --------------------------------------------------------------------------- timelines

CHART_FILE = "timeline.png"


def timeline_entry(result: Result) -> str:
    """`7 Feb 2022 · [Headline](url) — Outlet · also in: AP`"""
    headline = link(cut(one_line(result.title) or "Untitled", HEADLINE), result.url)
    line = f"{date_text(result.published)} · {headline} — {escape(cut(one_line(result.outlet), HEADLINE)) or 'unknown outlet'}"
    if result.also_in:
        line += " · also in: " + escape(cut(", ".join(result.also_in), HEADLINE))
    return line


def timeline_pages(timeline: Timeline, page_size: int = 10, chart: bool = True) -> list[discord.Embed]:
    """Stories oldest first, `page_size` a page; every page shows the attached weekly chart."""
    title = cut(f"Timeline: {escape(one_line(timeline.topic))}", TITLE)
    entries = [timeline_entry(r) for r in [*timeline.entries, *timeline.undated]]
    if not entries:
        return [fit(discord.Embed(title=title, description=NO_RESULTS, colour=COLOUR))]
    starts = range(0, len(entries), page_size)
    span = f"{len(entries)} stories" + (
        f", {date_text(timeline.entries[0].published)} – {date_text(timeline.entries[-1].published)}"
        if timeline.entries
        else ""
    )
    pages = []
    for page, start in enumerate(starts, 1):
        embed = discord.Embed(
            title=title, description=join_within(entries[start : start + page_size], DESCRIPTION), colour=COLOUR
        )
        embed.set_footer(text=f"Page {page} of {len(starts)} · {span}")
        if chart:
            embed.set_image(url=f"attachment://{CHART_FILE}")
        pages.append(fit(embed))
    return pages
