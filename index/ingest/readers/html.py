"""Saved HTML pages, turned into articles by trafilatura (no hand parsing of the text)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import trafilatura

from index.article import Article, ReadProblem
from index.ingest.readers.jsonl import pick, record_to_article, split_authors
from index.ingest.readers.text import decode_bytes, read_small
from index.web.urls import host_of, outlet_for_url, strip_credentials

# The charset a page declares in <meta charset> or http-equiv, looked for near the top.
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_CHARSET_WINDOW = 4096
# Shorter than this is a menu or a cookie banner that trafilatura fell back to, not an article.
MIN_TEXT_CHARS = 50


def read_html(path: Path) -> Iterator[Article | ReadProblem]:
    """The article on a saved .html/.htm page (gzipped or not)."""
    data = read_small(path)
    yield data if isinstance(data, ReadProblem) else article_from_html(data, source=str(path))


def article_from_html(
    html: str | bytes,
    url: str | None = None,
    source: str = "",
    fallback: Mapping[str, Any] | None = None,
) -> Article | ReadProblem:
    """The article on an HTML page; `fallback` (title, published, url, authors) fills what it lacks.

    The page's own canonical URL (link rel=canonical, og:url) wins over `url`.
    A fallback date that cannot be read leaves the article undated.
    """
    source = source or url or "html"
    page = html if isinstance(html, str) else decode_html(html)
    try:
        document = trafilatura.bare_extraction(page, url=url, with_metadata=True, include_comments=False)
    except Exception as err:  # lxml and trafilatura fail in many ways on broken pages
        return ReadProblem(source, f"HTML could not be parsed: {type(err).__name__}: {err}")
    page_data = _as_mapping(document)
    if len((page_data.get("text") or "").strip()) < MIN_TEXT_CHARS:
        return ReadProblem(source, "no article text found")
    record = _page_record(page_data, url, fallback or {})
    results = list(record_to_article(record, source))
    return next((item for item in results if isinstance(item, Article)), results[0])


def decode_html(data: bytes) -> str:
    """A page's text in the charset it declares, else UTF-8 or a detected one; never fails."""
    declared = _CHARSET.search(data[:_CHARSET_WINDOW])
    return decode_bytes(data, declared.group(1).decode("ascii") if declared else None)


def _as_mapping(document: Any) -> Mapping[str, Any]:
    """trafilatura 2 returns a Document, 1.x a dict; None when it found nothing."""
    if document is None:
        return {}
    return document if isinstance(document, Mapping) else document.as_dict()


def _page_record(page: Mapping[str, Any], url: str | None, fallback: Mapping[str, Any]) -> dict[str, Any]:
    """What the page says, with the caller's URL and fallback where it says nothing."""
    page_url = _absolute(page.get("url"), url) or url or pick(fallback, "url")
    return {
        "text": page.get("text"),
        "title": page.get("title") or pick(fallback, "title"),
        "url": page_url,
        "authors": split_authors(page.get("author")) or pick(fallback, "authors"),
        "published": page.get("date") or pick(fallback, "published"),
        "outlet": _known_outlet(page_url) or page.get("sitename"),
    }


def _absolute(found: str | None, base: str | None) -> str | None:
    """The page's URL made absolute; None unless it is http(s)."""
    if not found:
        return None
    absolute = strip_credentials(urljoin(base or "", found.strip()))
    return absolute if absolute.startswith(("http://", "https://")) else None


def _known_outlet(url: Any) -> str | None:
    """The curated outlet name for a URL; None for a host we only know by name."""
    if not isinstance(url, str):
        return None
    outlet = outlet_for_url(url)
    return outlet if outlet and outlet != host_of(url) else None
