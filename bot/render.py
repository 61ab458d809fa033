"""Plain-text views of search results and timelines for the terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from index.search import SearchResponse

if TYPE_CHECKING:
    from bot.timeline import Timeline


def format_results(response: SearchResponse) -> str:
    if not response.results:
        return "No matching articles."
    lines = [f"Window: {response.window.describe()}"] if response.window else []
    for n, result in enumerate(response.results, 1):
        date = (result.published or "")[:10] or "undated"
        also = f" (also in: {', '.join(result.also_in)})" if result.also_in else ""
        lines.append(f"{n}. {result.title or 'Untitled'} — {result.outlet or 'unknown'}, {date}{also}")
        if result.url:
            lines.append(f"   {result.url}")
        if result.passages:
            snippet = " ".join(result.passages[0].text.split())
            lines.append(f"   {snippet[:240]}{'…' if len(snippet) > 240 else ''}")
    return "\n".join(lines)


def format_timeline(timeline: Timeline) -> str:
    """One line per story, oldest first, then the weekly counts."""
    if not timeline.entries and not timeline.undated:
        return f"No articles on “{timeline.topic}”."
    lines = []
    for result in [*timeline.entries, *timeline.undated]:
        also = f" (also in: {', '.join(result.also_in)})" if result.also_in else ""
        lines.append(
            f"{(result.published or 'undated')[:10]}  {result.title or 'Untitled'} — {result.outlet or 'unknown'}{also}"
        )
        if result.url:
            lines.append(f"            {result.url}")
    weeks = timeline.weeks()
    if weeks:
        lines.append("\nArticles per week: " + ", ".join(f"{monday.isoformat()} {n}" for monday, n in weeks if n))
    return "\n".join(lines)
