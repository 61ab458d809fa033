"""When should `ask` abstain? Signals of each question against its best result, and models over them,
judged by 5-fold cross-validation on the dev questions and the unanswerable set.

    python benchmarks/eval_abstention.py               # corpus_5k (cached): report, write docs/benchmarks.md
    python benchmarks/eval_abstention.py --no-write    # print only
    python benchmarks/eval_abstention.py --full        # the same signals and models on the full corpus
    python benchmarks/eval_abstention.py --across-sizes               # fitted at one size or both, judged at both
    python benchmarks/eval_abstention.py --across-sizes --write-model # refit the shipped model on every question
                                                       # at both sizes, its constants to bot/abstain_model.py

Every question (109 dev questions, each of which corpus_5k answers; benchmarks/unanswerable_questions.jsonl,
which it does not, though the full corpus holds a few: `found_in`, counted answerable there) is searched on its quiz date as `ask` searches it, its quotes chosen as `ask` chooses them,
and its signals (bot/abstain.py `signals`, plus two from the keyword ranking that `ask` does not compute)
cached to a file: the cross-validation over feature sets and thresholds then takes seconds.

The goal (issue 9, item 3): answer ≥ 95% of the dev questions and refuse ≥ 90% of the unanswerable ones,
on the held-out folds. Folds are those of benchmarks/eval_answers.py (answerable and unanswerable questions
folded separately, seed 7). For each fold a model is fitted on the other four and its threshold chosen
there; the held-out fold is scored with both. The table shows the held-out mean beside the tuned-on mean.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.abstention_fit import (  # noqa: E402
    ANSWERED_GOAL,
    L2,
    ONE_SIZE_SIGNALS,
    REFUSED_GOAL,
    RULES,
    fit,
    probabilities,
)
from benchmarks.answer_match import any_answer  # noqa: E402
from benchmarks.common import (  # noqa: E402
    CACHE,
    command_line,
    dev_questions,
    labelled_questions,
    md_table,
    percentiles,
    write_section,
)
from benchmarks.eval_answers import (  # noqa: E402
    FOLDS,
    SEED,
    as_of,
    folds_of,
    full_archive,
    open_archive,
    quoted_text,
)
from bot.abstain import SIGNALS, signals  # noqa: E402
from bot.answer import AnswerTuning, build_answer, confidence  # noqa: E402
from bot.choose import overlap  # noqa: E402
from index.archive import Archive  # noqa: E402
from index.ingest.dates import parse_date  # noqa: E402
from index.search import Filters, SearchResponse, keyword_candidates, search  # noqa: E402
from index.search.hybrid import chunk_facts  # noqa: E402

MODEL_FILE = Path(__file__).resolve().parents[1] / "bot" / "abstain_model.py"
EXTRA = ("bm25", "agree")  # from the keyword ranking: measured here, shipped only if they earn their cost


# ----------------------------------------------------------------------------- signals, cached


def keyword_signals(archive: Archive, response: SearchResponse) -> dict[str, float]:
    """The best BM25 chunk score per unit of the question's rarity weight, and whether that chunk's
    story is the top result's (dense and keyword rankings agreeing)."""
    from bot.choose import idf_weights

    best = keyword_candidates(archive, response.query, 1)
    if not best or not response.results:
        return {"bm25": 0.0, "agree": 0.0}
    weight = sum(idf_weights(archive, response.query).values()) or 1.0
    facts = chunk_facts(archive, [best[0][0]])
    top = chunk_facts(archive, [p.chunk_id for p in response.results[0].passages[:1]])
    same = bool(facts and top and next(iter(facts.values())).story == next(iter(top.values())).story)
    return {"bm25": best[0][1] / weight, "agree": float(same)}


def variant_signals(archive: Archive, response: SearchResponse) -> dict[str, float]:
    """Variants tried and not shipped: a softer date fit (outside the window fading over a week),
    the share of the question's three rarest words in the top article, its names in the lede only."""
    from bot.abstain import names_found, question_names, time_fit, timestamp, top_article
    from bot.choose import article_stems, idf_weights

    if not response.results:
        return dict.fromkeys(
            ("time_soft", "rare3_article", "names_lede", "rare_paragraph", "rare_sentence", "rare_passage"), 0.0
        )
    window, article, published = response.window, top_article(archive, response), response.results[0].published
    soft = time_fit(response)
    if window is not None and published and soft == 0.0:
        moment = timestamp(published)
        since = window.since.timestamp() if window.since else moment
        until = window.until.timestamp() if window.until else moment
        soft = float(np.exp(-max(since - moment, moment - until, 0.0) / (7 * 86400)))
    weights = idf_weights(archive, response.query)
    rarest, stems = sorted(weights, key=weights.__getitem__, reverse=True)[:3], article_stems(article.sentences)
    return {
        "time_soft": soft,
        "rare3_article": sum(s in stems for s in rarest) / len(rarest) if rarest else 0.0,
        "names_lede": names_found(question_names(response.query), lede_text(archive, response)),
        **concentration(archive, response, article.whole),
    }


def concentration(archive: Archive, response: SearchResponse, text: str) -> dict[str, float]:
    """The question's rare words in the top article's best paragraph, its best sentence, and its
    passages found: a digest of many stories holds them apart, the story asked about together."""
    from bot.abstain import content_of
    from bot.choose import idf_weights
    from bot.quotes import article_sentences

    weights = idf_weights(archive, content_of(response))
    passages = " ".join(p.text for p in response.results[0].passages)
    return {
        "rare_paragraph": max((overlap(weights, p) for p in text.split("\n\n") if p.strip()), default=0.0),
        "rare_sentence": max((overlap(weights, s.text) for s in article_sentences(text)), default=0.0),
        "rare_passage": overlap(weights, passages),
    }


def lede_text(archive: Archive, response: SearchResponse) -> str:
    from bot.quotes import article_sentences, is_lede

    with archive.lock:
        row = archive.store.article(response.results[0].article_id)
    lede = [s.text for s in article_sentences(row.text if row else "") if is_lede(s)]
    return " ".join([(row.title if row else None) or "", *lede])


def quote_overlap(archive: Archive, response: SearchResponse, quotes: list[str]) -> float:
    """The rarity-weighted share of the question's words in the quotes chosen (one story's sentences,
    where a digest of many stories holds the words apart)."""
    from bot.choose import article_stems, idf_weights

    return overlap(idf_weights(archive, response.query), article_stems(" ".join(quotes)))


def timed_signals(archive: Archive, response: SearchResponse, lead: str | None) -> dict[str, float]:
    """`signals` as `ask` computes them, with the milliseconds that took (what abstaining adds to `ask`)."""
    started = time.perf_counter()
    values = signals(archive, response, lead)
    return {**values, "signals_ms": (time.perf_counter() - started) * 1000}


def measure(archive: Archive, question: dict, answerable: bool) -> dict:
    response = search(archive, question["question"], k=5, filters=Filters(as_of=parse_date(as_of(question["asked"]))))
    answer = build_answer(archive, response, tuning=replace(AnswerTuning(), floor=-1.0))
    lead = answer.quotes[0][0] if answer.quotes else None
    return {
        "question": question["question"],
        "answerable": answerable,
        **timed_signals(archive, response, lead),  # first, as `ask` computes them: after the quotes only
        "quoted": answerable and any_answer(quoted_text(answer), question["answers"]),
        "confidence": confidence(archive, response),  # what `ask` compared with its floor until now
        "top": response.results[0].title if response.results else None,
        **variant_signals(archive, response),
        "rare_quote": quote_overlap(archive, response, [q for q, _ in answer.quotes]),
        **keyword_signals(archive, response),
        **{f"r{rank}_{k}": v for rank in (1, 2) for k, v in signals(archive, response, None, rank).items()},
    }


def cached_rows(archive: Archive, name: str, refresh: bool) -> list[dict]:
    """Every question's signals, in the order of `labelled_questions` at every size."""
    questions = labelled_questions(archive)
    path = CACHE / f"abstention-signals-{name}.json"
    if path.exists() and not refresh:
        rows = json.loads(path.read_text())
        same = [(r["question"], r["answerable"]) for r in rows] == [(q["question"], a) for q, a in questions]
        if same and {*SIGNALS, "time_soft", "rare_quote", "rare_sentence", "signals_ms"} <= set(rows[0]):
            return rows
    rows = [measure(archive, q, answerable) for q, answerable in tqdm(questions, desc="questions")]
    path.write_text(json.dumps(rows))
    return rows


# ----------------------------------------------------------------------------- cross-validation


def fold_of(answerable: list[bool], k: int = FOLDS) -> np.ndarray:
    """Each question's fold: answerable and unanswerable ones folded separately (as eval_answers.py)."""
    fold = np.zeros(len(answerable), dtype=int)
    for flag in (True, False):
        group = [i for i, a in enumerate(answerable) if a == flag]
        fold[group] = folds_of(group, k)
    return fold


def shares(score: np.ndarray, cut: float, y: np.ndarray, quoted: np.ndarray, idx: np.ndarray) -> dict[str, float]:
    dev, others = idx[y[idx] == 1], idx[y[idx] == 0]
    return {
        "answered": float((score[dev] >= cut).mean()),
        "refused": float((score[others] < cut).mean()),
        "quoted": float(((score[dev] >= cut) & quoted[dev]).mean()),
    }


def scorer(kind: str, rows: list[dict]):  # type: ignore[no-untyped-def]
    """(train indexes → score of every question): the current confidence, or a model over signals
    fitted on the top result; "best of 3: …" scores each question by the best of its top three results."""
    if kind == "confidence":
        values = np.array([r["confidence"] for r in rows])
        return lambda train: values
    ranks = 3 if kind.startswith("best of 3: ") else 1
    names = kind.removeprefix("best of 3: ").split("+")
    x = [np.array([[r[f"r{k}_{n}" if k else n] for n in names] for r in rows], dtype=np.float64) for k in range(ranks)]
    y = np.array([r["answerable"] for r in rows], dtype=np.float64)

    def score(train: np.ndarray) -> np.ndarray:
        model = fit(x[0][train], y[train])
        return np.max([probabilities(model, xi) for xi in x], axis=0)

    return score


def cross_validate(rows: list[dict], kind: str, rule: str, within: np.ndarray | None = None) -> dict:
    """Held-out and tuned-on shares, the mean over the folds (of `within` only, when given: the inner
    folds of a nested cross-validation)."""
    members = np.arange(len(rows)) if within is None else within
    y = np.array([r["answerable"] for r in rows], dtype=int)
    quoted = np.array([r["quoted"] for r in rows], dtype=bool)
    folds = FOLDS if within is None else FOLDS - 1
    fold = np.full(len(rows), -1)
    fold[members] = fold_of([bool(y[i]) for i in members], folds)
    score_of = scorer(kind, rows)
    held, tuned = [], []
    for f in range(folds):
        train, test = np.flatnonzero((fold != f) & (fold >= 0)), np.flatnonzero(fold == f)
        score = score_of(train)
        cut = RULES[rule](score[train][y[train] == 1], score[train][y[train] == 0])
        held.append(shares(score, cut, y, quoted, test))
        tuned.append(shares(score, cut, y, quoted, train))
    return {"held_out": _mean(held), "tuned_on": _mean(tuned)}


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def margin(row: dict[str, float]) -> float:
    return min(row["answered"] - ANSWERED_GOAL, row["refused"] - REFUSED_GOAL)


def nested(rows: list[dict], choices: list[tuple[str, str]]) -> tuple[dict, list[tuple[str, str]]]:
    """Feature set and threshold rule chosen per outer fold by an inner cross-validation on its four
    tuning folds (widest held-out margin, then fewer signals), then fitted there and scored on the
    held-out fold: the estimate that includes choosing among the candidates."""
    y = np.array([r["answerable"] for r in rows], dtype=int)
    quoted = np.array([r["quoted"] for r in rows], dtype=bool)
    fold = fold_of([bool(a) for a in y])
    held, tuned, chosen = [], [], []
    for f in range(FOLDS):
        train, test = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        inner = {c: margin(cross_validate(rows, *c, within=train)["held_out"]) for c in choices}
        best = max(choices, key=lambda c: (inner[c], -c[0].count("+")))
        score = scorer(best[0], rows)(train)
        cut = RULES[best[1]](score[train][y[train] == 1], score[train][y[train] == 0])
        held.append(shares(score, cut, y, quoted, test))
        tuned.append(shares(score, cut, y, quoted, train))
        chosen.append(best)
    return {"held_out": _mean(held), "tuned_on": _mean(tuned)}, chosen


# ----------------------------------------------------------------------------- candidates and report

SHIPPED = ("+".join(ONE_SIZE_SIGNALS), "widest margin")
CANDIDATES = [
    "dense+coverage",  # what the shipped confidence added up until now, weighed by the model instead
    *(f"dense+{s}" for s in ("rare_lede", "rare_article", "names", "typed", "time_fit", "bm25", "agree", "runner_up")),
    "dense+rare_lede+rare_article+time_fit",
    "dense+rare_article+time_fit",
    "dense+rare_lede+rare_article+names+typed+time_fit",
    "dense+coverage+rare_lede+names+typed+time_fit",
    "dense+coverage+rare_lede+names+typed+bm25",
    "dense+coverage+rare_lede+names+typed+agree",
    "rare_lede+rare_article+time_fit",
    "rare_lede+rare_article+names+typed+time_fit",
    # variants of the shipped signals, tried after it
    "rare_lede+rare_article+time_soft",
    "rare_lede+rare3_article+time_fit",
    "rare_lede+rare_article+names_lede+time_fit",
    "best of 3: rare_lede+rare_article+time_fit",
    "rare_lede+rare_article+rare_quote+time_fit",
    "rare_lede+rare_quote+time_fit",
    "dense+rare_lede+rare_article+rare_quote+time_fit",
    "rare_lede+rare_article+rare_paragraph+time_fit",
    "rare_lede+rare_paragraph+time_fit",
]


def fitted_model(rows: list[dict], kind: str, rule: str) -> dict:
    """The model fitted on every question, with its threshold chosen there: what `ask` ships."""
    names = kind.split("+")
    x = np.array([[r[n] for n in names] for r in rows], dtype=np.float64)
    y = np.array([r["answerable"] for r in rows], dtype=np.float64)
    model = fit(x, y)
    p = probabilities(model, x)
    mean, scale, weights, bias, low, high = model
    threshold = RULES[rule](p[y == 1], p[y == 0])
    return {
        "signals": names,
        "mean": mean,
        "scale": scale,
        "weights": weights,
        "bias": bias,
        "threshold": threshold,
        "low": low,
        "high": high,
    }


def write_model(model: dict, answerable: dict[str, int], n_questions: int) -> None:
    def floats(values) -> str:  # type: ignore[no-untyped-def]
        return "(" + ", ".join(f"{float(v):.6g}" for v in values) + ("," if len(values) == 1 else "") + ")"

    MODEL_FILE.write_text(
        '"""The abstention model `ask` ships (bot/abstain.py): written by `python benchmarks/eval_abstention.py '
        '--across-sizes --write-model`."""\n\nfrom bot.abstain import AbstainModel\n\n'
        f"# Logistic regression (L2 {L2}, standardised signals) fitted on all {n_questions} questions (dev and\n"
        "# unanswerable set), each over corpus_5k and over the full corpus (int8 MiniLM), answerable: "
        + ", ".join(f"{n} at {size}" for size, n in answerable.items())
        + ".\n# The threshold has the widest margin over answering 95% and refusing 90% of them; signals are held\n"
        "# inside [low, high].\n"
        '# Its cross-validated figures: docs/benchmarks.md, "Abstention across archive sizes".\n'
        "MODEL = AbstainModel(\n"
        "    signals=("
        + ", ".join(f'"{n}"' for n in model["signals"])
        + ("," if len(model["signals"]) == 1 else "")
        + "),\n"
        f"    mean={floats(model['mean'])},\n"
        f"    scale={floats(model['scale'])},\n"
        f"    weights={floats(model['weights'])},\n"
        f"    bias={model['bias']:.6g},\n"
        f"    threshold={model['threshold']:.6g},\n"
        f"    low={floats(model['low'])},\n"
        f"    high={floats(model['high'])},\n"
        ")\n"
    )


def row_of(label: str, cv: dict) -> list[str]:
    h, t = cv["held_out"], cv["tuned_on"]
    return [label, *(f"{v:.1%}" for v in (h["answered"], h["refused"], t["answered"], t["refused"], h["quoted"]))]


def label_of(kind: str) -> str:
    return (
        "the previous confidence (cosine + coverage), its floor" if kind == "confidence" else kind.replace("+", " + ")
    )


def held_out_refusals(rows: list[dict], kind: str, rule: str) -> np.ndarray:
    """Whether each question is refused by the model of the fold that held it out."""
    y = np.array([r["answerable"] for r in rows], dtype=int)
    fold, score_of = fold_of([bool(a) for a in y]), scorer(kind, rows)
    refused = np.zeros(len(rows), dtype=bool)
    for f in range(FOLDS):
        train, test = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        score = score_of(train)
        refused[test] = score[test] < RULES[rule](score[train][y[train] == 1], score[train][y[train] == 0])
    return refused


def shipped_text(rows: list[dict], n_other: int) -> str:
    """The shipped method question by question: how many it answers and refuses held-out, on the
    original and the added unanswerable questions, and whether the answerable questions it refuses were
    answered by their quotes at all."""
    refused = held_out_refusals(rows, *SHIPPED)
    dev = [i for i, r in enumerate(rows) if r["answerable"]]
    others = [i for i, r in enumerate(rows) if not r["answerable"]]
    first = len(dev_questions()) + ORIGINAL_UNANSWERABLE  # rows run dev questions, then the set in its order
    old, new = [i for i in others if i < first], [i for i in others if i >= first]
    lost = [i for i in dev if refused[i]]
    return (
        f"Held out, it answers {sum(not refused[i] for i in dev)} of {len(dev)} answerable questions and refuses "
        f"{sum(refused[i] for i in others)} of {n_other} unanswerable ones ({sum(refused[i] for i in old)} of the "
        f"first {len(old)}, {sum(refused[i] for i in new)} of the {len(new)} added); of the {len(lost)} answerable questions "
        f"it refuses, {sum(rows[i]['quoted'] for i in lost)} had a gold answer in the quotes `ask` would have shown "
        f"(the others had found the wrong story or the wrong sentences)."
    )


ORIGINAL_UNANSWERABLE = 63  # the set before this benchmark; the rest were added before any tuning here


def report(rows: list[dict], archive: Archive, name: str) -> str:
    n_dev = sum(r["answerable"] for r in rows)
    n_other, n_held = len(rows) - n_dev, sum(r["answerable"] for r in rows[len(dev_questions()) :])
    table = [row_of(f"{label_of('confidence')} ({rule})", cross_validate(rows, "confidence", rule)) for rule in RULES]
    table += [row_of(label_of(kind), cross_validate(rows, kind, "widest margin")) for kind in CANDIDATES]
    table += [
        row_of(
            f"**{label_of(SHIPPED[0])}, answer-95% threshold**",
            cross_validate(rows, SHIPPED[0], "answer 95% of the tuning folds"),
        )
    ]
    cv, chosen = nested(rows, [(k, r) for k in CANDIDATES for r in RULES])
    table += [row_of("nested: signals and threshold rule chosen per fold by an inner 4-fold CV", cv)]
    stats = archive.stats()
    ms = percentiles([r["signals_ms"] for r in rows])
    headers = [
        "abstention by",
        "answered (held-out)",
        "refused (held-out)",
        "answered (tuned on)",
        "refused (tuned on)",
        "answer quoted (held-out)",
    ]
    return (
        f"{command_line()} — {n_dev} answerable questions ({len(dev_questions())} dev questions, each asked on its "
        f"quiz date, and {n_held} of `benchmarks/unanswerable_questions.jsonl` whose answer this archive holds: "
        f"`found_in`) and {n_other} unanswerable ones (the rest of that set: of its first {ORIGINAL_UNANSWERABLE}, "
        f"the rest added before any tuning here, each checked absent from corpus_5k by searching it), over {name}: "
        f"{stats.articles:,} articles. Logistic regressions (numpy, L2 {L2}) over the signals named "
        f"(bot/abstain.py), fitted per fold on the four other folds ({FOLDS} folds, seed {SEED}, the folds of "
        f"eval_answers.py), threshold chosen there (widest margin over answering {ANSWERED_GOAL:.0%} and refusing "
        f'{REFUSED_GOAL:.0%}, unless named); mean over the folds. "Answer quoted": answered with a gold answer in '
        f"the quoted text.\n\n{md_table(headers, table)}\n\n"
        f"Signals: `dense` the best chunk's cosine; `coverage` the share of the question's words in the top result's "
        f"headline and passages; `rare_lede` / `rare_article` the rarity-weighted (log inverse document frequency) "
        f"share of them in its headline and lede / whole text; `names` the share of the question's capitalised names "
        f"in it; `typed` the opening quote holds a name/number/date/place of the kind asked for; `time_fit` its date "
        f"inside the question's window, else exp(−age/14 days) before `as_of`; `bm25` the best BM25 chunk score per "
        f"unit of rarity weight; `agree` that chunk is the top result's story; `runner_up` the second story's fused "
        f"score over the first's. Nested choice per fold: {'; '.join(f'{k} ({r})' for k, r in chosen)}.\n\n"
        f"**The shipped signals at this size alone**: {label_of(SHIPPED[0])}, the widest-margin threshold (what "
        f'`ask` ships adds the archive\'s size and is fitted at two sizes: "Abstention across archive sizes"). '
        f"They hold no cosine, whose scale differs between "
        f"embedding models (measured here with `{stats.embedding_model}` retrieval only). {shipped_text(rows, n_other)} "
        f"Computing the signals takes p50 {ms['p50']:.1f} ms, p95 {ms['p95']:.1f} ms per question (every question "
        f"once, n = {ms['n']}); `ask` computes them before choosing quotes, which a refused question then skips."
    )


# ----------------------------------------------------------------------------- across archive sizes

SIZES = ("corpus_5k", "full corpus")  # the names open_archive and full_archive give


def size_matrix(rows: list[dict], names: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.array([[r[n] for n in names] for r in rows], dtype=np.float64)
    return x, np.array([r["answerable"] for r in rows], dtype=int), np.array([r["quoted"] for r in rows], dtype=bool)


def across_sizes(sets: dict[str, list[dict]], kind: str, rule: str, train_on: tuple[str, ...]) -> dict[str, dict]:
    """Held-out shares at each size of a model fitted per fold on the training questions' rows at the
    `train_on` sizes (pooled), its threshold chosen on those rows. The folds are the same questions at
    every size (the rows are in one order), so no question is held out at one size and trained on at another."""
    names = kind.split("+")
    data = {size: size_matrix(rows, names) for size, rows in sets.items()}
    fold = fold_of([bool(a) for a in data[SIZES[0]][1]])
    held: dict[str, list[dict[str, float]]] = {size: [] for size in sets}
    for f in range(FOLDS):
        train, test = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        x = np.vstack([data[size][0][train] for size in train_on])
        y = np.concatenate([data[size][1][train] for size in train_on])
        model = fit(x, y)
        p = probabilities(model, x)
        cut = RULES[rule](p[y == 1], p[y == 0])
        for size, (xs, ys, quoted) in data.items():
            held[size].append(shares(probabilities(model, xs), cut, ys, quoted, test))
    return {size: _mean(rows) for size, rows in held.items()}


# The archive's size as a signal: only a model fitted at more than one size can weigh it
SHIPPED_ACROSS = ("rare_lede+rare_article+time_fit+log_chunks", "widest margin")
ACROSS = [
    SHIPPED[0],
    SHIPPED_ACROSS[0],
    "rare_lede+rare_article+rare_paragraph+time_fit+log_chunks",
    "rare_lede+rare_paragraph+time_fit+log_chunks",
    "rare_lede+rare_article+rare_sentence+time_fit+log_chunks",
    "rare_lede+rare_article+rare_passage+time_fit+log_chunks",
    "rare_lede+rare_article+names+typed+time_fit+log_chunks",
    "dense+rare_lede+rare_article+time_fit+log_chunks",
    "coverage+rare_lede+rare_article+time_fit+log_chunks",
]
POOLED = tuple(SIZES)


def across_report(sets: dict[str, list[dict]]) -> str:
    """Each candidate fitted at one size or at both, judged held-out at both: which transfers."""
    table = []
    for kind in ACROSS:
        for train_on in [(size,) for size in SIZES] + [POOLED]:
            cv = across_sizes(sets, kind, "widest margin", train_on)
            cells = [f"{cv[size][k]:.1%}" for size in SIZES for k in ("answered", "refused", "quoted")]
            worst = min(margin(cv[size]) for size in SIZES)
            table.append([label_of(kind), " + ".join(train_on), *cells, f"{worst:+.1%}"])
    headers = ["signals", "fitted on", *(f"{size}: {k}" for size in SIZES for k in ("answered", "refused", "quoted"))]
    counts = ", ".join(
        f"{size}: {sum(r['answerable'] for r in rows)} answerable, {sum(not r['answerable'] for r in rows)} not"
        for size, rows in sets.items()
    )
    return (
        f"{command_line()} — the signals cached by `--refresh` and `--full --refresh` ({counts}: the 109 dev "
        f"questions, and the unanswerable set less those whose answer the archive holds, `found_in`, which count "
        f"as answerable there). Each question is in one fold at both sizes. Each model is fitted per fold on the four other folds' questions "
        f"at the sizes named (both: each training question twice, once per archive), its widest-margin threshold "
        f"chosen on the same rows, and judged on the held-out fold at each size (held-out shares, mean over "
        f"{FOLDS} folds). The last column is the smaller of the two sizes' margins over answering "
        f"{ANSWERED_GOAL:.0%} and refusing {REFUSED_GOAL:.0%}. `log_chunks` is the log of the archive's chunk "
        f"count, the same for every question of one archive: only a model fitted at both sizes can weigh it.\n\n"
        f"{md_table(headers + ['worst margin'], table)}\n\n**Shipped** (bot/abstain_model.py, `--across-sizes "
        f"--write-model`): {label_of(SHIPPED_ACROSS[0])}, fitted on every question at both sizes, the widest-margin "
        f"threshold; each signal is held inside the range it was fitted on, so an archive smaller than corpus_5k or "
        f"larger than the full corpus is treated as the nearer of the two."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--refresh", action="store_true", help="measure the signals again (ignore the cache)")
    parser.add_argument(
        "--write-model", action="store_true", help="with --across-sizes: refit the shipped model on all questions"
    )
    parser.add_argument(
        "--full", action="store_true", help="the full corpus (cached archive): the same model, judged there"
    )
    parser.add_argument(
        "--across-sizes", action="store_true", help="models fitted at one size or both, judged at both (cached signals)"
    )
    args = parser.parse_args()
    if args.write_model and not args.across_sizes:
        parser.error("the shipped model is fitted at both archive sizes: --write-model needs --across-sizes")
    if args.across_sizes:
        return sizes_main(args)
    archive, name = full_archive(None) if args.full else open_archive(None)
    rows = cached_rows(archive, name, args.refresh)
    body = report(rows, archive, name)
    print(body)
    if not args.no_write:
        write_section(f"Abstention: RealTimeQA {name}", body)


def sizes_main(args: argparse.Namespace) -> None:
    sets = {}
    for opened in (open_archive(None), full_archive(None)):
        archive, name = opened
        sets[name] = cached_rows(archive, name, args.refresh)
        archive.close()
    body = across_report(sets)
    print(body)
    if args.write_model:
        rows = [r for size in POOLED for r in sets[size]]
        counts = {size: sum(r["answerable"] for r in sets[size]) for size in POOLED}
        write_model(fitted_model(rows, *SHIPPED_ACROSS), counts, len(sets[SIZES[0]]))
    if not args.no_write:
        write_section("Abstention across archive sizes", body)


if __name__ == "__main__":
    main()
