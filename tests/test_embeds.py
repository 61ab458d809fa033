"""The embed builders alone: Discord's limits with giant inputs, cuts, escaping, links."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import discord
import pytest

from bot import embeds
from bot.answer import Answer, Citation
from index.search import Filters, Passage, Result, SearchResponse
from index.store.rows import ArchiveStats, ArticleRow

GIANT = "word " * 5000
LINK_RE = re.compile(r"\[(?:\\.|[^\[\]\\])*\]\((https?://[^()\s]*)\)")


def assert_within_limits(embed: discord.Embed) -> None:
    data = embed.to_dict()
    assert len(data.get("title", "")) <= 256
    assert len(data.get("description", "")) <= 4096
    assert len(data.get("fields", [])) <= 25
    for field in data.get("fields", []):
        assert 0 < len(field["name"]) <= 256
        assert 0 < len(field["value"]) <= 1024
    assert len(data.get("footer", {}).get("text", "")) <= 2048
    assert len(embed) <= 6000


def unbalanced_links(text: str) -> bool:
    """A cut inside `[text](url)` leaves a bracket outside any whole link (texts here escape all others)."""
    return bool(re.search(r"(?<!\\)[\[\]]", LINK_RE.sub("", text)))


def citation(n: int, **fields: object) -> Citation:
    base = dict(
        url=f"https://news.example.com/{n}",
        title=f"Headline {n}",
        outlet="Example News",
        published="2022-02-07T00:00:00+00:00",
        quote="q",
    )
    base.update(fields)
    return Citation(n, **base)  # type: ignore[arg-type]


def answer(quotes: list[tuple[str, int]], citations: list[Citation], **fields: object) -> Answer:
    return Answer("What happened?", quotes, citations, abstained=False, **fields)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- cut


def test_cut_keeps_short_text() -> None:
    assert embeds.cut("Short.", 10) == "Short."


def test_cut_ends_at_a_sentence_boundary() -> None:
    text = "The first sentence is here. The second one is longer and will not fit at all."
    assert embeds.cut(text, 40) == "The first sentence is here.…"


def test_cut_falls_back_to_a_word_boundary_without_sentences() -> None:
    cut = embeds.cut("alpha beta gamma delta epsilon", 14)
    assert cut == "alpha beta…"
    assert len(cut) <= 14


def test_cut_never_splits_a_link() -> None:
    text = "See " + " ".join(f"[story {i}](https://example.com/{i})" for i in range(50))
    for limit in range(5, 400, 7):
        cut = embeds.cut(text, limit)
        assert len(cut) <= limit
        assert not unbalanced_links(cut), cut


def test_cut_of_a_giant_word_stops_before_a_link_and_any_lone_backslash() -> None:
    assert embeds.cut("x" * 50 + "[a](https://e.com/" + "y" * 100 + ")", 60) == "x" * 50 + "…"
    assert embeds.cut("a" * 9 + "\\*" + "b" * 20, 11) == "a" * 9 + "…"


# --------------------------------------------------------------------------- escaping and links


def test_escape_neutralises_markdown_and_mentions() -> None:
    text = embeds.escape("**bold** _it_ `code` @everyone <@123456789012345678> # title")
    assert "\\*\\*bold\\*\\*" in text
    assert "\\_it\\_" in text
    assert "\\`code\\`" in text
    assert "@everyone" not in text
    assert "<@123456789012345678>" not in text


def test_link_escapes_brackets_and_encodes_parentheses() -> None:
    made = embeds.link("EU [draft] *rule*", "https://e.com/a_(b) c")
    assert made == "[EU \\[draft\\] \\*rule\\*](https://e.com/a_%28b%29%20c)"
    assert embeds.link("Local file", "file:///etc/passwd") == "Local file"
    assert embeds.link("Script", "javascript:alert(1)") == "Script"


# --------------------------------------------------------------------------- answers


def test_answer_embed_quotes_numbers_and_linked_sources() -> None:
    made = embeds.answer_embed(
        answer(
            [("The Kremlin said talks were very important.", 1), ("Apple opposed the plan.", 2)],
            [
                citation(1, outlet="The Moscow Times"),
                citation(2, url="https://www.reuters.com/x?utm=1", outlet="Reuters"),
            ],
            window="the week of 7 Feb 2022",
        )
    )
    assert made.title == "What happened?"
    assert (
        made.description
        == "> “The Kremlin said talks were very important.” **[1]**\n> “Apple opposed the plan.” **[2]**"
    )
    sources = made.fields[0]
    assert sources.name == "Sources"
    assert sources.value.splitlines() == [
        "**1.** [Headline 1](https://news.example.com/1) — The Moscow Times, 7 Feb 2022",
        "**2.** [Headline 2](https://www.reuters.com/x?utm=1) — Reuters, 7 Feb 2022",
    ]
    assert made.footer.text == "Searched the week of 7 Feb 2022"


def test_answer_embed_escapes_quotes_and_headlines() -> None:
    made = embeds.answer_embed(
        answer(
            [("Ping @everyone and <@123456789012345678> with **bold** claims.", 1)],
            [citation(1, title="Bold *claims* [sic]", outlet="_Outlet_")],
        )
    )
    assert "@everyone" not in made.description
    assert "<@123456789012345678>" not in made.description
    assert "\\*\\*bold\\*\\*" in made.description
    assert made.fields[0].value.startswith(
        "**1.** [Bold \\*claims\\* \\[sic\\]](https://news.example.com/1) — \\_Outlet\\_"
    )


def test_abstained_answer_says_nothing_found() -> None:
    made = embeds.answer_embed(Answer("zebra?", [], [], abstained=True))
    assert made.description == "I found nothing in the archive that answers that."
    assert not made.fields


def giant_answer_embed() -> discord.Embed:
    sentence = "This sentence is part of a very long quote. "
    quotes = [(sentence * 200, n) for n in range(1, 11)]
    citations = [citation(n, title=GIANT, outlet=GIANT, url="https://e.com/" + "p" * 3000) for n in range(1, 31)]
    return embeds.answer_embed(
        Answer(GIANT, quotes, citations, abstained=False, window=GIANT, filters={"outlets": [GIANT] * 5})
    )


def test_giant_answer_stays_within_limits() -> None:
    made = giant_answer_embed()
    assert_within_limits(made)
    assert not unbalanced_links(made.fields[0].value)


def test_giant_answer_keeps_quotes_cut_at_sentences() -> None:
    made = giant_answer_embed()
    assert_within_limits(made)
    assert made.description
    assert made.fields  # some of the sources still shown
    for line in made.description.splitlines():
        assert line.startswith("> “"), line
        assert line.endswith("**"), line
        assert "quote.…”" in line  # cut right after a sentence's full stop


def test_many_sources_are_split_over_fields_with_whole_lines() -> None:
    citations = [citation(n, title=f"A rather long headline number {n} " * 4) for n in range(1, 40)]
    made = embeds.answer_embed(answer([("One quoted sentence here.", 1)], citations))
    assert_within_limits(made)
    assert len(made.fields) > 1
    lines = [line for field in made.fields for line in field.value.splitlines()]
    assert [line.split(".**")[0] for line in lines] == [f"**{n}" for n in range(1, len(lines) + 1)]  # in order
    assert len(lines) > len(made.fields)
    assert all(line.startswith("**") and line.endswith("7 Feb 2022") for line in lines)


# --------------------------------------------------------------------------- search results, articles, status


def result(n: int, **fields: object) -> Result:
    base = dict(
        article_id=n,
        url=f"https://e.com/{n}",
        title=f"Headline {n}",
        outlet="Reuters",
        published="2022-06-07T00:00:00+00:00",
        score=1.0,
        dense=0.9,
        passages=[Passage(n, f"Passage {n} text. More.", 1.0)],
    )
    base.update(fields)
    return Result(**base)  # type: ignore[arg-type]


def test_results_pages_number_across_pages() -> None:
    response = SearchResponse("wheat", Filters(outlets=["Reuters"]), None, [result(n) for n in range(1, 13)])
    pages = embeds.results_pages(response, page_size=5)
    assert len(pages) == 3
    assert [p.footer.text for p in pages] == [f"Page {i} of 3 · outlets: Reuters" for i in (1, 2, 3)]
    assert pages[1].description.startswith(
        "**6.** [Headline 6](https://e.com/6) — Reuters, 7 Jun 2022\n> Passage 6 text."
    )
    assert pages[2].description.count("**1") == 2  # results 11 and 12


def test_results_pages_giant_results_and_empty() -> None:
    giant = [result(n, title=GIANT, outlet=GIANT, passages=[Passage(1, GIANT, 1.0)]) for n in range(50)]
    pages = embeds.results_pages(SearchResponse(GIANT, Filters(), None, giant))
    assert len(pages) > 1
    for page in pages:
        assert_within_limits(page)
        assert not unbalanced_links(page.description)
    empty = embeds.results_pages(SearchResponse("zebra", Filters(), None, []))
    assert len(empty) == 1
    assert empty[0].description == "No matching articles."


def test_article_embed_with_giant_row() -> None:
    row = ArticleRow(
        id=1,
        key="k",
        title=GIANT,
        url="https://e.com/" + "a" * 3000,
        outlet=GIANT,
        published="2022-02-07T00:00:00+00:00",
        authors=(GIANT,) * 5,
        text="First sentence. " * 2000,
    )
    made = embeds.article_embed(row)
    assert_within_limits(made)
    assert made.description.endswith("First sentence.…")
    assert made.url is None  # too long for an embed URL


def test_article_embed_opening_paragraph_and_link() -> None:
    row = ArticleRow(
        id=1,
        key="k",
        title="EU charger",
        url="https://www.reuters.com/eu",
        outlet="Reuters",
        authors=("Foo Bar",),
        published="2022-06-07T00:00:00+00:00",
        text="First paragraph here.\n\nSecond paragraph.",
    )
    made = embeds.article_embed(row)
    assert (made.title, made.url, made.description) == (
        "EU charger",
        "https://www.reuters.com/eu",
        "First paragraph here.",
    )
    values = {f.name: f.value for f in made.fields}
    assert values == {
        "Outlet": "Reuters",
        "Published": "7 Jun 2022",
        "Authors": "Foo Bar",
        "Link": "[Read the article](https://www.reuters.com/eu)",
    }


def test_recent_embed_lists_sources() -> None:
    rows = [
        ArticleRow(n, f"k{n}", f"https://e.com/{n}", f"H{n}", "CNN", "2022-01-02T00:00:00+00:00") for n in range(1, 4)
    ]
    made = embeds.recent_embed(rows, "CNN")
    assert made.title == "Most recent articles from CNN"
    assert made.description.splitlines()[0] == "**1.** [H1](https://e.com/1) — CNN, 2 Jan 2022"
    assert_within_limits(embeds.recent_embed([ArticleRow(1, "k", None, GIANT, GIANT, None)] * 25))


def test_status_embed_fields_and_giant_outlet_list() -> None:
    stats = ArchiveStats(
        articles=1234,
        chunks=5678,
        vectors=5678,
        published_from="2022-01-02T00:00:00+00:00",
        published_to="2022-06-07T00:00:00+00:00",
        outlets={f"Outlet {i} " * 10: i for i in range(3000)},
        embedding_model="fake",
        embedding_dimension=64,
        index_kind="flat",
        index_build_id="20220101-abc",
        index_built_at="2022-06-08T10:00:00+00:00",
        last_ingest="2022-06-08T09:00:00+00:00",
        problems=("the store holds 3 chunks but the vector index 2",) * 40,
    )
    made = embeds.status_embed(stats, {"up": 3, "down": 1}, 2)
    assert_within_limits(made)
    values = {f.name: f.value for f in made.fields}
    assert values["Articles"] == "1,234"
    assert values["Coverage"] == "2 Jan 2022 – 7 Jun 2022"
    assert values["Outlets (3,000)"].startswith("Outlet 0")
    assert "<t:" in values["Last ingest"]
    assert "flat, 20220101-abc" in values["Index"]
    assert values["Model"] == "fake (64 dimensions)"
    assert values["Feedback"] == "👍 3 · 👎 1"
    assert values["Followed topics"] == "2"


def test_status_embed_of_an_empty_archive() -> None:
    made = embeds.status_embed(ArchiveStats())
    values = {f.name: f.value for f in made.fields}
    assert "Feedback" not in values
    assert "Followed topics" not in values
    assert values["Coverage"] == "no dated articles"
    assert values["Last ingest"] == "never"


# --------------------------------------------------------------------------- fit and short texts


def test_fit_cuts_every_part_of_an_oversized_embed() -> None:
    embed = discord.Embed(title=GIANT, description=GIANT, url="https://e.com/" + "x" * 3000)
    embed.set_footer(text=GIANT)
    embed.set_author(name=GIANT)
    for _ in range(40):
        embed.add_field(name=GIANT, value=GIANT)
    assert_within_limits(embeds.fit(embed))
    assert len(embed.description) >= embeds.KEEP_DESCRIPTION  # fields go before the description does


@pytest.mark.parametrize(
    "stage,done,total,expected",
    [
        ("starting", 0, 0, "Reindexing: starting…"),
        ("embedding", 50, 200, "Reindexing: embedding 50/200 (25%)…"),
    ],
)
def test_progress_text(stage: str, done: int, total: int, expected: str) -> None:
    assert embeds.progress_text(stage, done, total) == expected


def test_short_texts() -> None:
    retry = datetime(2030, 1, 1, tzinfo=timezone.utc)
    assert embeds.cooldown_text(retry).endswith(f"<t:{int(retry.timestamp())}:R>.")
    assert embeds.reindex_done_text(1234, 2.5) == "Reindex done: 1,234 chunks embedded in 2.5 s."
    assert len(embeds.bad_date_text(GIANT)) <= 2000
    assert len(embeds.clip_content(GIANT)) <= 2000


def test_filters_note_says_until_the_day_the_asker_gave():
    """A plain `until` date is kept as the next midnight (exclusive); the note names the day that was given."""
    day = {"since": "2022-02-01T00:00:00+00:00", "until": "2022-02-08T00:00:00+00:00"}
    assert embeds.filters_note(day, None) == "since 1 Feb 2022; until 7 Feb 2022"
    assert embeds.filters_note({"until": "2022-02-07T12:30:00+00:00"}, None) == "before 7 Feb 2022"
