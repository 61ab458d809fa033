"""Finding passages: hybrid (dense + keyword) search, keyword terms, time phrases and browsing.

The public names of `index.search.hybrid` are re-exported, so `from index.search import search` works."""

from index.search.hybrid import (
    Filters,
    Passage,
    Result,
    SearchResponse,
    Tuning,
    allowed_chunks,
    dense_candidates,
    embed_query,
    fuse,
    keyword_candidates,
    search,
    time_prior,
    whole_day_until,
)

__all__ = [
    "Filters",
    "Passage",
    "Result",
    "SearchResponse",
    "Tuning",
    "allowed_chunks",
    "dense_candidates",
    "embed_query",
    "fuse",
    "keyword_candidates",
    "search",
    "time_prior",
    "whole_day_until",
]
