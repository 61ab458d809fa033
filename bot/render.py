"""Plain-text views of search results for the terminal."""
from __future__ import annotations

from index.search import SearchResponse


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
