"""Time and peak memory of the readers on the hostile inputs of issue 10, at the default limits.

    .venv/bin/python -m benchmarks.hostile

Each case runs in its own process (peak RSS is per process) on a file generated in a temporary folder.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import write_section

CASE = """
import sys, time
from pathlib import Path
from index.ingest.readers import read_path
from index.web.feeds import parse_feed
from index.article import ReadProblem
path = Path(sys.argv[1])
start = time.perf_counter()
if path.suffix == ".rss":
    items, problems = parse_feed(path.read_bytes(), "https://feed.example/", max_items=500)
    found = len(items)
else:
    results = list(read_path(path))
    problems = [r for r in results if isinstance(r, ReadProblem)]
    found = len(results) - len(problems)
longest = max((len(p.reason) for p in problems), default=0)
# VmHWM: this process's own peak (ru_maxrss would carry the parent's over fork and exec)
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(time.perf_counter() - start, found, len(problems), longest, peak)
"""


def warc_zeros(path: Path) -> Path:
    target = path / "zeros.warc.gz"
    with gzip.open(target, "wb", compresslevel=9) as out:
        for _ in range(1024):  # 1 GiB of zeros: about 1 MB compressed
            out.write(bytes(1 << 20))
    return target


def newline_bomb(path: Path) -> Path:
    target = path / "newlines.jsonl"
    with target.open("wb") as out:
        for _ in range(256):
            out.write(b"\n" * (1 << 20))
        out.write(json.dumps({"text": "the one record"}).encode() + b"\n")
    return target


def json_array(path: Path) -> Path:
    target = path / "array.json"
    record = {"title": "t", "text": "word " * 40}
    target.write_text(json.dumps([record] * 280_000))  # about 60 MB, under the 64 MiB document limit
    return target


def huge_headline(path: Path) -> Path:
    target = path / "headline.jsonl"
    target.write_text(json.dumps({"title": "H" * 1_000_000, "text": "A short body."}) + "\n")
    return target


def big_feed(path: Path) -> Path:
    target = path / "feed.rss"
    items = "".join(f"<item><title>T{n}</title><link>https://a.example/{n}</link></item>" for n in range(100_000))
    target.write_text(f'<rss version="2.0"><channel>{items}</channel></rss>')
    return target


def measure(path: Path) -> tuple[float, int, int, int, float]:
    """Seconds, articles (or items), problems, longest problem and peak RSS in MB of one reading process."""
    done = subprocess.run(
        [sys.executable, "-c", CASE, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    seconds, found, problems, longest, peak_kb = done.stdout.split()
    return float(seconds), int(found), int(problems), int(longest), int(peak_kb) / 1024


CASES: list[tuple[str, str, Callable[[Path], Path]]] = [
    ("WARC gzip bomb: 1 GiB of zeros", "120 s, 17.9 GB RSS, a 200 MB message", warc_zeros),
    ("256 MiB of newlines, one record", "216 s CPU", newline_bomb),
    ("60 MB JSON array", "1.2 GB RSS at 64 MB", json_array),
    ("1 MB headline", "copied into every FTS row", huge_headline),
    ("RSS feed of 100,000 items", "25 s, 474 MB (with the item pages)", big_feed),
]


def main() -> None:
    rows = [
        "| input | file size | seconds | articles/items | problems | longest problem | peak RSS | before (issue 10) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    with tempfile.TemporaryDirectory() as folder:
        for name, before, make in CASES:
            path = make(Path(folder))
            seconds, found, problems, longest, rss = measure(path)
            size = path.stat().st_size / 1e6
            rows.append(
                f"| {name} | {size:,.1f} MB | {seconds:.2f} | {found:,} | {problems} | {longest} chars | {rss:,.0f} MB | {before} |"
            )
            print(rows[-1], flush=True)
            path.unlink()
    body = (
        "Readers on issue 10's hostile inputs at the default limits, one process per case "
        "(`.venv/bin/python -m benchmarks.hostile`). The headline case reads the file only; "
        "the cut to 500 characters happens when the archive stores it. The feed case is "
        "`parse_feed` with the 500-item cap (no page fetches).\n\n" + "\n".join(rows)
    )
    write_section("Hostile inputs", body)


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"done in {time.perf_counter() - started:.0f} s")
