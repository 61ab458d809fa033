"""Left running: memory, latency and database growth over thousands of questions.

    python benchmarks/soak.py                       # 6,000 questions over a private copy of corpus_5k
    python benchmarks/soak.py --questions 1000 --no-write

What the bot runs for each question in a Discord thread, in one process, without discord.py (its own
caches are bounded: at most `max_messages`, 1,000, messages kept): the conversation's turns read,
`answer_in_context` (search, quotes, abstention), the turn stored, the reply embed built, the answer
recorded for votes. Every `--every` questions: resident memory, the process's Python objects, the
entries of each function cache of bot/ and index/, and the archive database's size.

Questions: the dev questions, the unanswerable set, and one question per corpus_5k headline ("What
did the news say about <headline>?", asked on the article's date), shuffled (seed 0). Every fourth
question is a follow-up ("What happened next?") in the thread of an earlier one; the others start a
new thread, as a mention does. Most of corpus_5k's stories are asked about once, so the caches meet
new articles all run long, as a bot's do over months of news.
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import gc
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import filler  # noqa: E402
from benchmarks.common import (  # noqa: E402
    UNANSWERABLE,
    command_line,
    dev_questions,
    md_table,
    percentiles,
    read_jsonl,
    rss_mib,
    write_section,
)
from benchmarks.eval_answers import as_of  # noqa: E402
from bot import embeds  # noqa: E402
from bot.conversation import answer_in_context  # noqa: E402
from bot.state import BotState  # noqa: E402
from index.archive import Archive, ArchiveConfig  # noqa: E402
from index.ingest.dates import parse_date  # noqa: E402
from index.search import Filters  # noqa: E402

FOLLOW_UP = "What happened next?"


def questions(archive: Archive, count: int) -> list[dict]:
    """`count` questions: the benchmark sets and one per headline, shuffled, repeated if need be."""
    rows = archive.store.db.execute(
        "SELECT title, published FROM articles WHERE title IS NOT NULL AND published IS NOT NULL"
    )
    made = [{"question": f"What did the news say about {title.strip()}?", "asked": day[:10]} for title, day in rows]
    pool = [*dev_questions(), *read_jsonl(UNANSWERABLE), *made]
    random.Random(0).shuffle(pool)
    return [pool[i % len(pool)] for i in range(count)]


def lru_caches() -> dict[str, functools._lru_cache_wrapper]:
    """Each function cache of bot/ and index/, by module and name."""
    found = {}
    for name, module in list(sys.modules.items()):
        if name.startswith(("bot.", "index.")):
            for attribute, value in vars(module).items():
                if isinstance(value, functools._lru_cache_wrapper) and value.__module__ == name:
                    found[f"{name.split('.', 1)[1]}.{attribute}"] = value
    return found


def released_mib() -> float:
    """Resident memory after a collection, with freed heap handed back to the OS (glibc's malloc_trim)."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    return rss_mib()


def cache_costs() -> list[list[str]]:
    """Per cache, largest first: entries, hit rate over the run, and the memory that clearing it frees."""
    rows = []
    for name, cached in lru_caches().items():
        info, before = cached.cache_info(), released_mib()
        cached.cache_clear()
        freed = before - released_mib()
        rate = info.hits / (info.hits + info.misses) if info.hits + info.misses else 0.0
        rows.append(
            (freed, [f"`{name}`", f"{info.currsize:,} / {info.maxsize or 0:,}", f"{rate:.0%}", f"{freed:,.1f}"])
        )
    return [row for _, row in sorted(rows, key=lambda item: -item[0])]


def snapshot(archive: Archive, asked: int, times: list[float]) -> dict:
    gc.collect()
    pages, free, size = (
        archive.store.db.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_count", "freelist_count", "page_size")
    )
    return {
        "asked": asked,
        "rss": rss_mib(),
        "objects": len(gc.get_objects()),
        "db_mib": (pages - free) * size / 2**20,
        "p50": percentiles(times)["p50"] if times else float("nan"),
    }


def one_question(archive: Archive, state: BotState, question: dict, thread: str, number: int) -> None:
    """What the thread's question costs the bot, Discord left out (bot/discord/answering.py)."""
    turns = state.conversations.turns(thread)
    filters = Filters(as_of=parse_date(as_of(question["asked"])))
    found, turn = answer_in_context(archive, turns, question["question"], filters)
    state.conversations.add(thread, turn)
    embeds.answer_embed(found)
    state.feedback.record_answer(number, found.question, question["asked"], [c.url for c in found.citations if c.url])


def soak(archive: Archive, asked: list[dict], every: int) -> list[dict]:
    """Each question as a thread's (every fourth a follow-up in a recent thread); a snapshot every `every`."""
    state = BotState(archive)
    archive.warm()
    shots, times, threads = [snapshot(archive, 0, [])], [], []
    for number, question in enumerate(asked, 1):
        if number % 4 == 0 and threads:
            thread, question = random.Random(number).choice(threads[-50:]), {**question, "question": FOLLOW_UP}
        else:
            thread = f"thread:{number}"
            threads.append(thread)
        started = time.perf_counter()
        one_question(archive, state, question, thread, number)
        times.append((time.perf_counter() - started) * 1000)
        if number % every == 0:
            shots.append(snapshot(archive, number, times[-every:]))
            print(f"{number:,} asked: RSS {shots[-1]['rss']:,.0f} MiB, p50 {shots[-1]['p50']:.1f} ms", flush=True)
    return shots


def report(shots: list[dict], folder: Path, costs: list[list[str]]) -> str:
    rows = [
        [
            f"{s['asked']:,}" + (", every cache then cleared" if s.get("cleared") else ""),
            f"{s['rss']:,.0f}",
            f"{s['objects']:,}",
            f"{s['db_mib']:.1f}",
            "" if s["asked"] == 0 or s.get("cleared") else f"{s['p50']:.1f}",
        ]
        for s in shots
    ]
    table = md_table(
        ["questions asked", "RSS MiB", "Python objects", "archive.db MiB in use", "p50 ms (since the last row)"], rows
    )
    costs_table = md_table(["function cache", "entries / maxsize", "hit rate", "MiB freed by clearing it"], costs)
    return (
        f"{command_line()} — a private copy of corpus_5k ({folder.name}), warmed as the bot starts; each question "
        "as a Discord thread's question runs it, without discord.py (module docstring): the turns read, "
        "`answer_in_context`, the turn stored, the embed built, the answer recorded. A fourth of them are "
        "follow-ups in an earlier thread.\n\n"
        f"{table}\n\nThe function caches at the end, each cleared in turn (resident memory after a garbage "
        f"collection and glibc's `malloc_trim`, before and after):\n\n{costs_table}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=6000)
    parser.add_argument("--every", type=int, default=500)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    folder = filler.fresh_copy("soak-corpus_5k")
    archive = Archive(folder, ArchiveConfig())
    shots = soak(archive, questions(archive, args.questions), args.every)
    costs = cache_costs()
    shots.append({**snapshot(archive, shots[-1]["asked"], []), "rss": released_mib(), "cleared": True})
    text = report(shots, folder, costs)
    print(text)
    if not args.no_write:
        write_section("Left running: memory and latency over thousands of questions", text)


if __name__ == "__main__":
    main()
