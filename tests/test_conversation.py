"""Follow-up questions and what the bot remembers (conversations, votes, follows, server settings):
plain functions and real SQLite, no Discord."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from bot.conversation import answer_in_context, contextual_query, leans_on_context
from bot.state import BotState, Cited, Turn
from index.archive import Archive
from index.article import Article
from index.search import Filters
from tests.conftest import utc

KREMLIN = "What did the Kremlin say about Macron talks?"
FOLLOW_UP = "What did he say after that?"
LATER = Article(
    text="Days after the Macron talks, the Kremlin said Peskov saw no grounds yet for a deal on security guarantees. "
    "The Kremlin spokesman said talks with Macron would continue by phone.",
    title="Kremlin sees no grounds for deal after Macron talks",
    url="https://www.themoscowtimes.com/2022/02/10/kremlin-after-macron",
    outlet="The Moscow Times",
    published=utc(2022, 2, 10),
)
AS_OF = Filters(as_of=utc(2022, 2, 12))


def cited_urls(answer) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.url for c in answer.citations]


@pytest.mark.parametrize(
    ("question", "leans"),
    [
        (FOLLOW_UP, True),
        ("And then?", True),
        ("What did Macron say next?", True),
        ("Wheat prices in Chicago rose on Black Sea supply fears", False),
        (KREMLIN, False),
    ],
)
def test_a_question_leans_on_context_when_it_names_little(question: str, leans: bool) -> None:
    assert leans_on_context(question) is leans


def test_contextual_query_puts_the_follow_up_first_and_drops_a_replaced_time_phrase() -> None:
    earlier = Turn("Kremlin Macron talks in February 2022", "Kremlin Macron talks in February 2022")
    assert contextual_query(FOLLOW_UP, earlier) == f"{FOLLOW_UP} Kremlin Macron talks in February 2022"
    query = contextual_query("and what happened in March 2022?", earlier, utc(2022, 6, 1))
    assert query.startswith("and what happened in March 2022?")
    assert "February" not in query
    long = Turn("x", " ".join(f"word{n}" for n in range(100)))
    assert len(contextual_query(FOLLOW_UP, long).split()) == 40


def test_a_follow_up_finds_the_earlier_story_only_in_context(news_archive: Archive) -> None:
    first, turn = answer_in_context(news_archive, [], KREMLIN, AS_OF)
    assert any("kremlin-macron" in (url or "") for url in cited_urls(first))
    alone, _ = answer_in_context(news_archive, [], FOLLOW_UP, AS_OF)
    assert not any("kremlin" in (url or "") for url in cited_urls(alone))
    followed, next_turn = answer_in_context(news_archive, [turn], FOLLOW_UP, AS_OF)
    assert any("kremlin-macron" in (url or "") for url in cited_urls(followed))
    assert followed.question == FOLLOW_UP
    assert next_turn.query.startswith(FOLLOW_UP)


def test_a_follow_up_prefers_the_cited_storys_later_coverage(news_archive: Archive) -> None:
    first, turn = answer_in_context(news_archive, [], KREMLIN, AS_OF)
    assert cited_urls(first)[0].endswith("kremlin-macron")
    news_archive.ingest([LATER], progress=False)
    followed, _ = answer_in_context(news_archive, [turn], FOLLOW_UP, AS_OF)
    assert cited_urls(followed)[0] == LATER.url


def test_a_follow_up_keeps_the_earlier_filters_unless_it_sets_its_own(news_archive: Archive) -> None:
    only_cnn = Filters(outlets=["CNN"], as_of=utc(2022, 2, 12))
    _, turn = answer_in_context(news_archive, [], "Sudan prime minister resigned", only_cnn)
    assert turn.filters["outlets"] == ["CNN"]
    later = utc(2022, 3, 1)  # after the wheat story (22 February): only the outlet can keep it out
    followed, carried = answer_in_context(news_archive, [turn], "What about wheat prices?", Filters(as_of=later))
    assert carried.filters["outlets"] == ["CNN"]
    assert not any("wheat" in (url or "") for url in cited_urls(followed))
    own, _ = answer_in_context(
        news_archive, [turn], "What about wheat prices?", Filters(outlets=["USA Today"], as_of=later)
    )
    assert any("wheat-prices" in (url or "") for url in cited_urls(own))


def test_conversations_are_bounded_and_survive_reopening(archive: Archive, tmp_path) -> None:  # type: ignore[no-untyped-def]
    state = BotState(archive)
    for n in range(8):
        state.conversations.add(
            "thread:1", Turn(f"question {n}", f"query {n}", {"outlets": []}, [Cited("u", "t", "2022-02-07")])
        )
    state.conversations.add("thread:2", Turn("other", "other"))
    archive.close()
    reopened = Archive(archive.data_dir, archive.config, embedder=archive.embedder)
    turns = BotState(reopened).conversations.turns("thread:1")
    assert [t.question for t in turns] == [f"question {n}" for n in range(2, 8)]
    assert turns[-1].cited == [Cited("u", "t", "2022-02-07")]
    BotState(reopened).conversations.reset("thread:1")
    assert BotState(reopened).conversations.turns("thread:1") == []
    assert [t.question for t in BotState(reopened).conversations.turns("thread:2")] == ["other"]
    reopened.close()


def test_one_vote_per_user_per_answer_changeable_with_a_reason(archive: Archive) -> None:
    feedback = BotState(archive).feedback
    feedback.record_answer(111, KREMLIN, "2022-02-12T00:00:00+00:00", ["https://a.example/1"])
    assert feedback.vote(111, 7, "up")
    assert feedback.vote(111, 8, "up")
    assert feedback.counts() == {"up": 2, "down": 0}
    assert not feedback.set_reason(111, 7, "outdated")  # no 👎 to give a reason for
    assert feedback.vote(111, 7, "down")
    assert feedback.set_reason(111, 7, "outdated")
    assert feedback.counts() == {"up": 1, "down": 1}
    assert not feedback.vote(999, 7, "up")  # not an answer the bot recorded
    records = feedback.records()
    down = next(r for r in records if r.vote == "down")
    assert (down.question, down.reason, down.cited_urls) == (KREMLIN, "outdated", ["https://a.example/1"])
    assert down.user_hash not in ("7", hashlib.sha256(b"7").hexdigest()[:32])  # salted
    assert len({r.user_hash for r in records}) == 2
    with pytest.raises(ValueError):
        feedback.vote(111, 7, "sideways")


def test_follows_are_unique_per_target_and_rate_counted(archive: Archive) -> None:
    follows = BotState(archive).follows
    assert follows.add("channel", 5, "wheat prices")
    assert not follows.add("channel", 5, "wheat prices")
    assert follows.add("user", 9, "wheat prices")
    follow = follows.of("channel", 5)[0]
    now = utc(2022, 3, 1, 12)
    follows.record_post(follow.id, 1, now - timedelta(minutes=90))
    follows.record_post(follow.id, 2, now - timedelta(minutes=10))
    assert follows.room_this_hour(follow.id, 3, now) == 2
    assert follows.was_posted(follow.id, 1)
    assert follows.remove("channel", 5, "wheat prices")
    assert not follows.remove("channel", 5, "wheat prices")
    assert [(f.target_kind, f.target_id) for f in follows.all()] == [("user", 9)]


def test_guild_settings_round_trip(archive: Archive) -> None:
    guilds = BotState(archive).guilds
    guilds.set_ask_channels(1, {10, 11})
    guilds.set_announce_channel(1, 12)
    guilds.set_announce_channel(2, 20)
    guilds.set_announce_channel(2, None)
    assert guilds.ask_channels() == {1: {10, 11}}
    assert guilds.announce_channels() == {1: 12}
