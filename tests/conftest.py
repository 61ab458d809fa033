"""Shared fixtures: real SQLite and FAISS files in tmp_path, the fake embedder, the seed article."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from index.archive import Archive, ArchiveConfig
from index.article import Article
from index.embedding import FakeEmbedder

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"
SHARED = REPO.parent / "shared"
SEED = SAMPLES / "moscowtimes-2022-02-07-putin-macron.txt"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.fixture
def fake_config() -> ArchiveConfig:
    return ArchiveConfig(model="fake", chunk_tokens=60, overlap_tokens=12)


@pytest.fixture
def archive(tmp_path: Path, fake_config: ArchiveConfig) -> Archive:
    opened = Archive(tmp_path / "data", fake_config, embedder=FakeEmbedder())
    yield opened
    opened.close()


def make_article(n: int, **fields) -> Article:
    base = dict(
        text=f"Story number {n} tells about topic{n}. It has a second sentence about detail{n}.",
        title=f"Headline {n}",
        url=f"https://news.example.com/story/{n}",
        outlet="Example News",
        published=utc(2022, 2, 1 + n % 27),
    )
    base.update(fields)
    return Article(**base)


NEWS = [
    Article(
        text="The European Union will require a common USB-C charger for all new phones, tablets and cameras "
        "sold in the bloc from 2024. Lawmakers said the rule will cut electronic waste. Apple opposed the plan.",
        title="EU agrees common phone charger rule",
        url="https://www.reuters.com/technology/eu-charger-2022-06-07/?utm_source=feed",
        outlet="Reuters",
        published=utc(2022, 6, 7),
    ),
    Article(
        text="The Kremlin said Monday that talks with Emmanuel Macron were very important but that no decisive "
        "breakthroughs could be expected. Peskov told reporters the situation was too complex.",
        title="Kremlin expects no breakthrough from Macron visit",
        url="https://www.themoscowtimes.com/2022/02/07/kremlin-macron",
        outlet="The Moscow Times",
        published=utc(2022, 2, 7),
    ),
    Article(
        text="The prime minister of Sudan resigned on Sunday amid mass protests that followed the military coup "
        "of last October. Abdalla Hamdok said the country was at a dangerous crossroads.",
        title="Sudan prime minister Hamdok resigns",
        url="https://edition.cnn.com/2022/01/02/africa/sudan-hamdok-resigns",
        outlet="CNN",
        published=utc(2022, 1, 2),
    ),
    Article(
        text="Wheat prices rose sharply on Tuesday as traders worried about supplies from the Black Sea region. "
        "Corn and soybean futures also climbed in Chicago trading.",
        title="Wheat prices jump",
        url="https://www.usatoday.com/story/money/2022/02/22/wheat-prices",
        outlet="USA Today",
        published=utc(2022, 2, 22),
    ),
]


@pytest.fixture
def news_archive(archive: Archive) -> Archive:
    archive.ingest(NEWS, progress=False)
    return archive


from tests.chat_fixture import chat_server  # noqa: F401,E402  (the misbehaving chat endpoint fixture)
from tests.fake_discord_fixtures import fake_discord  # noqa: F401,E402  (the fake Discord fixture)
from tests.http_fixture import news_server  # noqa: F401,E402  (the local news web server fixture)
