"""Calibrates NEWSBOT_FOLLOW_THRESHOLD: how well a new article must match a followed topic.

    python benchmarks/follow_threshold.py --sample   # scores corpus_5k against TOPICS, writes candidates to label
    python benchmarks/follow_threshold.py            # reads the labels, writes docs/benchmarks.md

Each topic is scored against every article of the RealTimeQA corpus_5k archive exactly as the bot
scores a newly ingested article (bot/follows.py `topic_scores`). `--sample` picks up to PER_BAND
articles from each score band per topic into benchmarks/follow_labels.jsonl with `on_topic: null`;
a person reads each headline and opening and sets `on_topic` to true or false. The evaluation
reports, per band, the share of labelled articles that are on the topic (precision), and the
threshold: the lowest band edge from which every higher band is at least TARGET precise.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import BENCH_MODEL, cached_archive, require_data, write_section  # noqa: E402
from bot.follows import topic_scores  # noqa: E402
from index.archive import Archive, ArchiveConfig  # noqa: E402
from index.store.rows import ArticleRow  # noqa: E402

TOPICS = [
    "Russia's invasion of Ukraine",
    "inflation and interest rate rises",
    "COVID-19 vaccines and boosters",
    "Elon Musk buying Twitter",
    "abortion rights and Roe v. Wade",
    "mass shootings and gun control",
    "the death of Queen Elizabeth II",
    "the World Cup in Qatar",
    "heat waves, drought and wildfires",
    "the January 6 Capitol attack hearings",
]
BANDS = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0, 1.1, 1.2]
PER_BAND = 4
TARGET = 2 / 3  # at least two posts in three on the topic; a stricter 0.8 is reported beside it
LABELS = Path(__file__).with_name("follow_labels.jsonl")


def open_corpus() -> Archive:
    (source,) = require_data("realtimeqa/corpus_5k.jsonl.gz")
    return cached_archive("corpus_5k", [source], ArchiveConfig(model=BENCH_MODEL))


def all_articles(archive: Archive) -> list[ArticleRow]:
    """Every article, its text cut to the opening 300 characters."""
    with archive.lock:
        rows = archive.store.db.query(
            "SELECT id, key, url, title, outlet, published, substr(text, 1, 300) AS text FROM articles"
        )
        return [ArticleRow.from_row(row) for row in rows]


def band_of(score: float) -> float | None:
    return max((edge for edge in BANDS if score >= edge), default=None)


def sample(archive: Archive, seed: int = 7) -> list[dict]:
    articles = all_articles(archive)
    by_id = {a.id: a for a in articles}
    rng, picked = random.Random(seed), []
    for topic in TOPICS:
        scores = topic_scores(archive, topic, articles)
        bands: dict[float, list[int]] = {}
        for article_id, score in scores.items():
            edge = band_of(score)
            if edge is not None:
                bands.setdefault(edge, []).append(article_id)
        for edge, ids in sorted(bands.items()):
            for article_id in rng.sample(ids, min(PER_BAND, len(ids))):
                a = by_id[article_id]
                picked.append(
                    {
                        "topic": topic,
                        "band": edge,
                        "score": round(scores[article_id], 4),
                        "url": a.url,
                        "title": a.title,
                        "opening": " ".join(a.text.split()),
                        "on_topic": None,
                    }
                )
    return picked


def precision_by_band(labels: list[dict]) -> dict[float, tuple[int, int]]:
    """band → (on topic, labelled)."""
    counts: dict[float, tuple[int, int]] = {}
    for row in labels:
        if row["on_topic"] is None:
            continue
        on, n = counts.get(row["band"], (0, 0))
        counts[row["band"]] = (on + bool(row["on_topic"]), n + 1)
    return dict(sorted(counts.items()))


def threshold(counts: dict[float, tuple[int, int]], target: float = TARGET) -> float | None:
    """The lowest band edge from which every band at or above it is at least `target` precise."""
    chosen = None
    for edge in sorted(counts, reverse=True):
        on, n = counts[edge]
        if on / n < target:
            break
        chosen = edge
    return chosen


def report(labels: list[dict]) -> str:
    counts = precision_by_band(labels)
    upper = dict(zip(BANDS, [f"{b:.2f}" for b in BANDS[1:]] + ["…"]))
    rows = [f"| {edge:.2f}–{upper[edge]} | {on}/{n} | {on / n:.2f} |" for edge, (on, n) in counts.items()]
    chosen, strict = threshold(counts), threshold(counts, 0.8)
    on_topic = [r for r in labels if r["on_topic"]]
    kept = sum(r["band"] >= (chosen or 99) for r in on_topic)
    return "\n".join(
        [
            "Command: `python benchmarks/follow_threshold.py` (labels in benchmarks/follow_labels.jsonl; "
            "re-sample with `--sample`).",
            "",
            f"{len(TOPICS)} topics written for the purpose, scored against all 4,993 articles of RealTimeQA corpus_5k "
            f"(MiniLM) as `/follow` scores new articles: best chunk cosine + {0.5} × share of the topic's words in the "
            f"headline and best chunk. Up to {PER_BAND} articles per topic and score band, each judged on or off the "
            "topic by reading its headline and opening.",
            "",
            "| score band | on topic | precision |",
            "|---|---|---|",
            *rows,
            "",
            f"Threshold: **{chosen}** — the lowest band edge from which every band is at least {TARGET:.0%} on topic "
            f"(for 80%: {strict}). It is the NEWSBOT_FOLLOW_THRESHOLD default. Of the {len(on_topic)} labelled on-topic "
            f"articles, {kept} score at or above it (bands are sampled equally, not in proportion to their size, so "
            "these are per-band precisions, not the precision of a whole follow). Many off-topic articles in the upper "
            'bands are news round-ups ("5 things to know", "News from around our 50 states") that mention the topic.',
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sample", action="store_true", help="write candidates to label to benchmarks/follow_labels.jsonl"
    )
    args = parser.parse_args()
    if args.sample:
        picked = sample(open_corpus())
        LABELS.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in picked))
        print(f"{len(picked)} candidates in {LABELS}: set on_topic to true/false, then run without --sample")
        return
    labels = [json.loads(line) for line in LABELS.read_text().splitlines() if line.strip()]
    body = report(labels)
    print(body)
    write_section("Follow threshold", body)


if __name__ == "__main__":
    main()
