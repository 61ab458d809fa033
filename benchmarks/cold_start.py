"""Search from a cold page cache: the first searches after the OS has dropped archive.db's pages (a
reboot, or other disk-heavy work beside the bot), with the embedding model warmed only, and with
`Archive.warm` (the model, the keyword index, and the two SQLite indexes ranking reads:
`Lookups.read_facts`).

    python benchmarks/cold_start.py                  # the full corpus (cached archive)
    python benchmarks/cold_start.py --archive DIR    # another archive's data dir
    python benchmarks/cold_start.py --no-write       # print only

Each run: archive.db's pages dropped from the page cache (posix_fadvise DONTNEED), the archive opened
in this process, warmed one way or the other (timed), then the first `--questions` dev questions
searched once each, as `ask` searches them (quiz date as `as_of`). The two ways alternate, `--rounds`
times each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import CACHE, command_line, dev_questions, md_table, percentiles, write_section  # noqa: E402
from benchmarks.eval_answers import as_of  # noqa: E402
from index.archive import Archive, ArchiveConfig  # noqa: E402
from index.embedding import embed_queries  # noqa: E402
from index.ingest.dates import parse_date  # noqa: E402
from index.search import Filters, search  # noqa: E402

WAYS = ("model only", "Archive.warm")


def drop_cached_pages(path: Path) -> None:
    """Asks the OS to drop the file's clean pages from its cache (no root needed)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def one_run(folder: Path, way: str, questions: list[dict]) -> dict[str, float | list[float]]:
    drop_cached_pages(folder / "archive.db")
    archive = Archive(folder, ArchiveConfig())
    started = time.perf_counter()
    embed_queries(archive.embedder, ["What happened this week?"]) if way == WAYS[0] else archive.warm()
    warm_ms = (time.perf_counter() - started) * 1000
    times = []
    for q in questions:
        started = time.perf_counter()
        search(archive, q["question"], k=5, filters=Filters(as_of=parse_date(as_of(q["asked"]))))
        times.append((time.perf_counter() - started) * 1000)
    archive.close()
    return {"warm_ms": warm_ms, "searches": times}


def report(folder: Path, runs: dict[str, list[dict]], n: int) -> str:
    rows = []
    for way, done in runs.items():
        searches = [t for r in done for t in r["searches"]]  # type: ignore[union-attr]
        first = [statistics.mean(r["searches"][:10]) for r in done]  # type: ignore[index]
        p = percentiles(searches)
        warm = statistics.median([r["warm_ms"] for r in done])  # type: ignore[misc]
        rows.append([way, f"{warm:.0f}", f"{statistics.median(first):.1f}", f"{p['p50']:.1f}", f"{p['p95']:.1f}",
                     f"{max(searches):.0f}"])  # fmt: skip
    heads = ["warmed by", "warming ms (median)", "first 10 searches: mean ms", "search p50", "p95", "max"]
    return (
        f"{command_line()} — `{folder.name}` ({(folder / 'archive.db').stat().st_size / 2**20:,.0f} MiB archive.db), "
        f"its pages dropped from the page cache before each run; then warmed one way, then the first {n} dev "
        f"questions searched once each. {len(next(iter(runs.values())))} runs per way, alternating; the search "
        f"figures pool every run's searches.\n\n{md_table(heads, rows)}\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--archive", type=Path, help="an archive's data dir (default: the cached full corpus)")
    parser.add_argument("--questions", type=int, default=40, help="dev questions searched per run")
    parser.add_argument("--rounds", type=int, default=3, help="runs per way")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    folder = args.archive or next(iter(sorted(CACHE.glob("corpus-*"))))
    questions = dev_questions()[: args.questions]
    runs: dict[str, list[dict]] = {way: [] for way in WAYS}
    for _ in range(args.rounds):
        for way in WAYS:
            runs[way].append(one_run(folder, way, questions))
            print(way, f"{runs[way][-1]['warm_ms']:.0f} ms warming", flush=True)
    body = report(folder, runs, len(questions))
    print(body)
    if not args.no_write:
        write_section("Search from a cold page cache", body)


if __name__ == "__main__":
    main()
