"""The keyword query made from a free-text question: no stop words, only the rarest terms."""

from __future__ import annotations

import itertools
import re

from index.store.lookups import Lookups
from index.store.postings import Postings, fold, stem, tokens

STOP_WORDS = frozenset(
    """
a about above after again against all almost also am an and any are aren't as at be because been
before being below between both but by can could couldn't did didn't do does doesn't doing don't
down during each either else ever every few for from further had hadn't has hasn't have haven't
having he he'd he'll he's her here here's hers herself him himself his how how's however i i'd i'll
i'm i've if in into is isn't it it's its itself just let's like made make many may me might more
most much must mustn't my myself neither no nor not now of off on once one only or other ought our
ours ourselves out over own per quite rather said same say says shan't she she'd she'll she's should
shouldn't since so some such than that that's the their theirs them themselves then there there's
these they they'd they'll they're they've this those though through to too toward under until up
upon us very was wasn't we we'd we'll we're we've were weren't what what's when when's where where's
whether which while who who's whom whose why why's will with within without won't would wouldn't
yet you you'd you'll you're you've your yours yourself yourselves
week weeks today yesterday month months year years recently last this past new news according
""".split()
)
WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
MAX_TERMS = 8
# BM25 scores every chunk a term matches, so a question of common words OR-ed together costs in
# proportion to their document counts: MAX_POSTINGS bounds them, the rarest terms taken first. Terms
# in more than COMMON_SHARE of the chunks can also be dropped: at 5% that cost hybrid MRR@10 .734 →
# .713 on the full corpus with real vectors and nothing on corpus_5k (docs/benchmarks.md, "Keyword
# stage: capping common terms"), so no share is dropped; the postings bound alone bounds the cost.
COMMON_SHARE = 1.0
COMMON_FLOOR = 10_000  # with a share cap: below this many chunks a term is cheap to score, however common
MAX_POSTINGS = 60_000


def question_terms(question: str) -> list[str]:
    """Distinct lower-case content words of the question, in order, folded as FTS5's unicode61 folds
    the text ("naïve" → "naive"): a word kept with its diacritics is counted in no chunk and dropped."""
    words = [fold(w).replace("’", "'") for w in WORD.findall(question)]
    content = [w for w in words if w not in STOP_WORDS and (len(w) > 1 or w.isdigit())]
    return list(dict.fromkeys(w.split("'")[0] for w in content))


def rarest_terms(
    lookups: Lookups,
    terms: list[str],
    limit: int = MAX_TERMS,
    max_postings: int = MAX_POSTINGS,
    common_share: float = COMMON_SHARE,
    *,
    postings: Postings | None = None,
) -> list[str]:
    """The `limit` terms found in fewest chunks, as many as match `max_postings` chunks in all;
    terms the archive never uses, or uses in more than `common_share` of its chunks, are dropped."""
    stems = {t: stem(t) for t in terms}
    found = document_counts(lookups, list(stems.values()), postings)
    common = max(common_share * found[None], COMMON_FLOOR)
    counts = {term: found[stemmed] for term, stemmed in stems.items() if 0 < found[stemmed] <= common}
    chosen, total = [], 0
    for term in sorted(counts, key=counts.__getitem__)[:limit]:
        total += counts[term]
        if total > max_postings:
            break
        chosen.append(term)
    return chosen


# lookups id → (lookups, its connection's total_changes then, stem → chunks containing it)
_COUNTS: dict[int, tuple[Lookups, int, dict[str | None, int]]] = {}


def document_counts(lookups: Lookups, stems: list[str], postings: Postings | None = None) -> dict[str | None, int]:
    """Chunks containing each stem, and under `None` all chunks: from the in-memory keyword index where
    it is current (its counts are the ones its BM25 scores by), else from FTS5. fts5vocab counts by
    walking the term's whole posting list (~0.4 ms a term at corpus_5k, 7 ms for a common word at 1M
    chunks), so its counts are kept until the connection writes; writes by other processes only make
    them slightly stale, which ranking terms by rarity tolerates."""
    if postings is not None:
        return {**{s: postings.document_count(s) for s in stems}, None: postings.docs}
    changes = lookups.changes()
    entry = _COUNTS.get(id(lookups))
    if entry is None or entry[0] is not lookups or entry[1] != changes:
        if len(_COUNTS) >= 8:  # archives come and go (tests, rebuilds)
            _COUNTS.clear()
        entry = _COUNTS[id(lookups)] = (lookups, changes, {})
    cache = entry[2]
    if None not in cache:
        cache[None] = lookups.chunk_count()
    for stemmed in stems:
        if stemmed not in cache:
            cache[stemmed] = lookups.term_count(stemmed)
    return {stemmed: cache[stemmed] for stemmed in [*stems, None]}


def match_expression(terms: list[str]) -> str | None:
    """An FTS5 OR query of quoted terms (quoting keeps words such as NOT or NEAR literal)."""
    if not terms:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def phrase_pairs(question: str, terms: list[str], names_only: bool) -> list[str]:
    """Neighbouring question words that are both among `terms`, as two-word phrases ("names_only":
    both capitalised, as in "Serena Williams"); a match of the pair scores on top of its words."""
    chosen = set(terms)
    words = WORD.findall(question)
    pairs = [
        f"{a.lower()} {b.lower()}"
        for a, b in itertools.pairwise(words)
        if a.lower() in chosen and b.lower() in chosen and (not names_only or (a[0].isupper() and b[0].isupper()))
    ]
    return list(dict.fromkeys(pairs))


def index_terms(lookups: Lookups, question: str, postings: Postings | None = None) -> list[str]:
    """The question's rarest terms as the in-memory keyword index holds them (tokens, stemmed), chosen by
    that index's counts where given, else by FTS5's (then the terms `keyword_query` gives FTS5)."""
    chosen = rarest_terms(lookups, question_terms(question), postings=postings)
    return [t for term in chosen for t in tokens(term)]


def keyword_query(lookups: Lookups, question: str, phrases: str = "none") -> str | None:
    """The FTS5 query for a question: its rarest terms, and with `phrases` "names" or "all" their pairs."""
    terms = rarest_terms(lookups, question_terms(question))
    pairs = phrase_pairs(question, terms, names_only=phrases == "names") if phrases != "none" else []
    return match_expression([*terms, *pairs])
