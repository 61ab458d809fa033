"""Threads, follow-ups, feedback, timelines and follows end to end: the real discord.py against the
fake Discord on 127.0.0.1, a real archive."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from bot import embeds
from bot.discord.app import ShardedNewsBot
from bot.state import BotState
from index.archive import Archive
from index.article import Article
from index.store.rows import NewArticle
from index.web.watch import describe_new
from tests.conftest import utc
from tests.fake_discord import FakeDiscord, Intent, Op
from tests.test_discord_bot import KREMLIN, add_channel, mention, reply_to, running_bot, until

pytestmark = pytest.mark.asyncio

FOLLOW_UP = "What did he say after that?"
EPHEMERAL = 64


def cites(call: Any, fragment: str) -> bool:
    fields = call.json["embeds"][0].get("fields") or [{"value": ""}]
    return fragment in fields[0]["value"]


async def answer_in_thread(fake: FakeDiscord, thread_id: int, after: int) -> Any:
    return await fake.wait_for_call(
        "POST",
        rf"/channels/{thread_id}/messages",
        after=after,
        predicate=lambda c: c.status == 200 and bool(c.json.get("embeds")),
    )


# --------------------------------------------------------------------------- threads and follow-ups


async def test_follow_up_in_the_thread_needs_no_mention_and_carries_the_context(
    fake_discord: FakeDiscord, news_archive: Archive
) -> None:
    async with running_bot(fake_discord, news_archive, message_content=True):
        assert fake_discord.identify_payloads[0]["intents"] & Intent.MESSAGE_CONTENT
        asked = await mention(fake_discord, KREMLIN)
        assert cites(await reply_to(fake_discord, asked), "kremlin-macron")
        thread = int(asked["id"])
        mark = len(fake_discord.calls)
        await fake_discord.send_message(thread, fake_discord.reader, FOLLOW_UP)  # no mention
        followed = await answer_in_thread(fake_discord, thread, mark)
        assert cites(followed, "kremlin-macron")
        assert followed.json["embeds"][0]["title"] == FOLLOW_UP
        assert (
            len(fake_discord.calls_matching("POST", r"/channels/\d+/messages/\d+/threads")) == 1
        )  # no thread in a thread

        cold = await mention(fake_discord, FOLLOW_UP)  # the same words without the earlier question
        alone = await reply_to(fake_discord, cold)
        assert alone.json["embeds"][0]["description"] == embeds.NOTHING_FOUND
        assert not cites(alone, "kremlin")


async def test_without_message_content_a_follow_up_needs_a_mention(
    fake_discord: FakeDiscord, news_archive: Archive
) -> None:
    async with running_bot(fake_discord, news_archive):
        asked = await mention(fake_discord, KREMLIN)
        await reply_to(fake_discord, asked)
        thread = int(asked["id"])
        mark = len(fake_discord.calls)
        await fake_discord.send_message(thread, fake_discord.reader, "Wheat prices in Chicago?")  # unread: no content
        await mention(fake_discord, FOLLOW_UP, channel_id=thread)
        followed = await answer_in_thread(fake_discord, thread, mark)
        assert cites(followed, "kremlin-macron")  # the context survived the unread message
        assert len(fake_discord.calls_matching("POST", rf"/channels/{thread}/messages", after=mark)) == 1


async def test_context_survives_a_restart(fake_discord: FakeDiscord, news_archive: Archive) -> None:
    async with running_bot(fake_discord, news_archive, message_content=True):
        asked = await mention(fake_discord, KREMLIN)
        await reply_to(fake_discord, asked)
    async with running_bot(fake_discord, news_archive, message_content=True):
        mark = len(fake_discord.calls)
        await fake_discord.send_message(int(asked["id"]), fake_discord.reader, FOLLOW_UP)
        assert cites(await answer_in_thread(fake_discord, int(asked["id"]), mark), "kremlin-macron")


# --------------------------------------------------------------------------- feedback


async def click(fake: FakeDiscord, user: Any, message_id: int, custom_id: str, **extra: Any) -> Any:
    sent = await fake.send_component(user, message_id, custom_id, **extra)
    return await fake.wait_for_call("POST", sent.callback_path)


async def test_feedback_buttons_work_after_a_restart_one_vote_per_user(
    fake_discord: FakeDiscord, news_archive: Archive
) -> None:
    async with running_bot(fake_discord, news_archive):
        asked = await mention(fake_discord, KREMLIN)
        answer_id = int((await reply_to(fake_discord, asked)).response["id"])
        feedback = BotState(news_archive).feedback
        await until(lambda: feedback.knows(answer_id), 10.0)  # stored just after it is posted
    async with running_bot(fake_discord, news_archive):  # a new process would see the same database
        up = await click(fake_discord, fake_discord.reader, answer_id, "feedback:up")
        assert (up.json["type"], up.json["data"]["flags"], up.json["data"]["content"]) == (
            4,
            EPHEMERAL,
            embeds.vote_text("up"),
        )
        await until(lambda: feedback.counts() == {"up": 1, "down": 0}, 10.0)
        down = await click(fake_discord, fake_discord.reader, answer_id, "feedback:down")
        select = down.json["data"]["components"][0]["components"][0]
        assert select["custom_id"] == f"feedback:reason:{answer_id}"
        assert select["type"] == 3
        await until(lambda: feedback.counts() == {"up": 0, "down": 1}, 10.0)  # changed, not added
        ephemeral_id = int(down.response["resource"]["message"]["id"])
    async with running_bot(fake_discord, news_archive):  # the reason select too survives a restart
        chosen = await click(
            fake_discord, fake_discord.reader, ephemeral_id, select["custom_id"], component_type=3, values=["outdated"]
        )
        assert chosen.json["type"] == 7
        assert chosen.json["data"]["content"] == embeds.reason_text("Outdated")
        await until(lambda: [r.reason for r in feedback.records()] == ["outdated"], 10.0)
        await click(fake_discord, fake_discord.moderator, answer_id, "feedback:up")
        await until(lambda: feedback.counts() == {"up": 1, "down": 1}, 10.0)
    records = {r.vote: r for r in feedback.records()}
    assert records["down"].question == KREMLIN
    assert records["down"].cited_urls[0].endswith("kremlin-macron")
    assert records["down"].user_hash != records["up"].user_hash


async def test_a_vote_on_an_answer_no_longer_stored_is_thanked_then_corrected(
    fake_discord: FakeDiscord, news_archive: Archive
) -> None:
    feedback = BotState(news_archive).feedback
    async with running_bot(fake_discord, news_archive):
        asked = await mention(fake_discord, KREMLIN)
        answer_id = int((await reply_to(fake_discord, asked)).response["id"])
        await until(lambda: feedback.knows(answer_id), 10.0)
        with feedback.db.conn:  # e.g. the bot's state was reset since the answer was posted
            feedback.db.execute("DELETE FROM answers WHERE message_id = ?", [answer_id])
        sent = await fake_discord.send_component(fake_discord.reader, answer_id, "feedback:up")
        thanks = await fake_discord.wait_for_call("POST", sent.callback_path)
        correction = await fake_discord.wait_for_call("POST", sent.followup_path)
    assert thanks.json["data"]["content"] == embeds.vote_text("up")
    assert (correction.status, correction.json["content"], correction.json["flags"]) == (
        200,
        embeds.VOTE_UNKNOWN,
        EPHEMERAL,
    )
    assert feedback.counts() == {"up": 0, "down": 0}


async def test_ask_carries_feedback_buttons_and_status_counts_votes(
    fake_discord: FakeDiscord, news_archive: Archive
) -> None:
    async with running_bot(fake_discord, news_archive):
        sent = await fake_discord.send_interaction(fake_discord.reader, "ask", {"question": KREMLIN})
        edit = await fake_discord.wait_for_call("PATCH", sent.original_path)
        assert [b["custom_id"] for b in edit.json["components"][0]["components"]] == ["feedback:up", "feedback:down"]
        await click(fake_discord, fake_discord.moderator, int(edit.response["id"]), "feedback:down")
        feedback = BotState(news_archive).feedback
        await until(lambda: feedback.counts()["down"] == 1, 10.0)
        status = await fake_discord.send_interaction(fake_discord.reader, "status")
        fields = {
            f["name"]: f["value"]
            for f in (await fake_discord.wait_for_call("PATCH", status.original_path)).json["embeds"][0]["fields"]
        }
        assert fields["Feedback"] == "👍 0 · 👎 1"


# --------------------------------------------------------------------------- timeline


async def test_timeline_pages_in_date_order_with_a_png_chart(fake_discord: FakeDiscord, news_archive: Archive) -> None:
    later = Article(
        text="The Kremlin said talks with Macron would go on by phone after the visit to Moscow ended.",
        title="Kremlin says Macron talks continue",
        url="https://www.themoscowtimes.com/2022/02/21/kremlin-macron-phone",
        outlet="The Moscow Times",
        published=utc(2022, 2, 21),
    )
    news_archive.ingest([later], progress=False)
    async with running_bot(fake_discord, news_archive):
        sent = await fake_discord.send_interaction(fake_discord.reader, "timeline", {"topic": "Kremlin Macron talks"})
        edit = await fake_discord.wait_for_call("PATCH", sent.original_path, 30.0)  # matplotlib's first import is slow
    embed = edit.json["embeds"][0]
    lines = embed["description"].splitlines()
    assert [line.split(" · ")[0] for line in lines] == ["7 Feb 2022", "21 Feb 2022"]
    assert embed["image"]["url"] == f"attachment://{embeds.CHART_FILE}"
    (chart,) = edit.files
    assert chart.filename == embeds.CHART_FILE
    assert chart.data.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(chart.data))
    image.verify()
    assert image.format == "PNG"
    assert image.mode == "RGBA"
    assert image.size[0] > 300


# --------------------------------------------------------------------------- follows

WHEAT = Article(
    text="Wheat prices climbed again on Monday in Chicago as Black Sea shipping stayed disrupted.",
    title="Wheat prices climb again",
    url="https://www.usatoday.com/story/money/2022/03/01/wheat-prices-climb",
    outlet="USA Today",
    published=utc(2022, 3, 1),
)
OTHER = Article(
    text="A new museum of modern sculpture opened in Lisbon with works by Portuguese artists.",
    title="Lisbon opens sculpture museum",
    url="https://www.example.com/lisbon-museum",
    outlet="Example News",
    published=utc(2022, 3, 1),
)

MARATHON = Article(
    text="Thousands of runners crossed the finish line of the Boston marathon under clear skies on Monday.",
    title="Boston marathon finishes in sunshine",
    url="https://www.example.com/boston-marathon",
    outlet="Example News",
    published=utc(2022, 3, 2),
)


def polled(archive: Archive, articles: list[Article], first_poll: bool) -> list[NewArticle]:
    """What a feed poll hands the bot: the new articles, stored."""
    ids = archive.ingest(articles, progress=False).new_article_ids
    with archive.lock:
        return describe_new(archive.store, ids, set(), "https://feeds.example.com/rss", first_poll)


async def test_follow_fires_once_for_a_matching_new_article_only(
    fake_discord: FakeDiscord, news_archive: Archive
) -> None:
    channel_posts = rf"/channels/{fake_discord.channel.id}/messages"
    news = add_channel(fake_discord, "new-articles")
    async with running_bot(
        fake_discord, news_archive, follow_threshold=0.6, ANNOUNCE_CHANNEL_ID=str(news.id)
    ) as newsbot:
        sent = await fake_discord.send_interaction(fake_discord.reader, "follow", {"topic": "wheat prices"})
        assert (await fake_discord.wait_for_call("PATCH", sent.original_path)).json["content"].startswith("Following")
        backlog = polled(
            news_archive,
            [Article(**{**WHEAT.__dict__, "url": WHEAT.url + "-old", "title": "Wheat prices climb (old)"})],
            True,
        )
        await newsbot.announce(backlog)
        mark = len(fake_discord.calls)
        await newsbot.announce(polled(news_archive, [WHEAT, OTHER], False))
        posted = await fake_discord.wait_for_call("POST", channel_posts, after=mark)
        assert posted.json["embeds"][0]["title"] == "New on “wheat prices”"
        assert WHEAT.url in posted.json["embeds"][0]["description"]
        await newsbot.announce(polled(news_archive, [MARATHON], False))  # new, but not on the topic
        listed = await fake_discord.send_interaction(fake_discord.reader, "following")
        assert (
            "wheat prices"
            in (await fake_discord.wait_for_call("PATCH", listed.original_path)).json["embeds"][0]["description"]
        )
    follow_posts = [c for c in fake_discord.calls_matching("POST", channel_posts) if c.json.get("embeds")]
    assert [c.json["embeds"][0]["description"].count("wheat-prices-climb") for c in follow_posts] == [1]
    announced = [
        c.json["embeds"][0]["description"]
        for c in fake_discord.calls_matching("POST", rf"/channels/{news.id}/messages")
    ]
    assert len(announced) == 2
    assert "wheat-prices-climb" in announced[0]
    assert "lisbon-museum" in announced[0]  # no backlog
    assert "boston-marathon" in announced[1]


async def test_follow_in_a_dm_posts_to_the_person_until_unfollowed(
    fake_discord: FakeDiscord, news_archive: Archive
) -> None:
    dm = fake_discord.dm_channel(fake_discord.reader)
    dm_posts = rf"/channels/{dm.id}/messages"

    async def command(name: str) -> str:
        sent = await fake_discord.send_interaction(
            fake_discord.reader, name, {"topic": " wheat  prices "}, channel_id=dm.id
        )
        return (await fake_discord.wait_for_call("PATCH", sent.original_path)).json["content"]

    async with running_bot(fake_discord, news_archive, follow_threshold=0.6) as newsbot:
        assert await command("follow") == embeds.follow_text("wheat prices", True)
        assert await command("follow") == embeds.follow_text("wheat prices", False)
        await newsbot.announce(polled(news_archive, [WHEAT], False))
        posted = await fake_discord.wait_for_call("POST", dm_posts)
        assert posted.json["embeds"][0]["title"] == "New on “wheat prices”"
        assert [c.path for c in fake_discord.calls_matching("POST", "/users/@me/channels")] == ["/users/@me/channels"]
        assert await command("unfollow") == embeds.unfollow_text("wheat prices", True)
        assert await command("unfollow") == embeds.unfollow_text("wheat prices", False)
    assert [f.topic for f in BotState(news_archive).follows.of("user", fake_discord.reader.id)] == []


# --------------------------------------------------------------------------- sharding


async def test_newsbot_shards_makes_an_auto_sharded_bot(fake_discord: FakeDiscord, news_archive: Archive) -> None:
    async with running_bot(fake_discord, news_archive, shards="1") as newsbot:
        assert isinstance(newsbot, ShardedNewsBot)
        identify = await fake_discord.wait_for_gateway(Op.IDENTIFY)
        assert identify.d["shard"] == [0, 1]
        assert cites(await reply_to(fake_discord, await mention(fake_discord, KREMLIN)), "kremlin-macron")


# --------------------------------------------------------------------------- /config


async def test_config_sets_an_ask_channel_for_admins_only(fake_discord: FakeDiscord, news_archive: Archive) -> None:
    general = add_channel(fake_discord, "general")
    async with running_bot(fake_discord, news_archive, message_content=True):
        refused = await fake_discord.send_interaction(fake_discord.reader, "config ask-channel", {"channel": general})
        assert (
            "Manage Server" in (await fake_discord.wait_for_call("POST", refused.callback_path)).json["data"]["content"]
        )
        sent = await fake_discord.send_interaction(fake_discord.moderator, "config ask-channel", {"channel": general})
        shown = (await fake_discord.wait_for_call("PATCH", sent.original_path)).json["embeds"][0]
        assert f"<#{general.id}>" in shown["fields"][0]["value"]
    assert BotState(news_archive).guilds.ask_channels() == {fake_discord.guild.id: {general.id}}
    async with running_bot(fake_discord, news_archive, message_content=True):  # stored: still an ask-channel
        asked = await fake_discord.send_message(general.id, fake_discord.reader, "Wheat prices in Chicago?")
        assert cites(await reply_to(fake_discord, asked), "wheat-prices")


async def test_run_starts_again_sharded_when_discord_requires_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    import discord

    from bot.discord import app
    from tests.test_discord_bot import make_settings

    started: list[str] = []
    refused = {""}  # Discord closes one-connection bots with 4011

    class Stub:
        def __init__(self, settings: Any) -> None:
            self.shards = settings.shards

        def run(self, token: str, root_logger: bool) -> None:
            started.append(self.shards)
            if self.shards in refused:
                raise discord.ConnectionClosed(
                    SimpleNamespace(close_code=None), shard_id=None, code=app.SHARDING_REQUIRED
                )

    monkeypatch.setattr(app, "create_bot", lambda settings, archive: Stub(settings))
    app.run_bot(make_settings(), "token")
    assert started == ["", "auto"]
    refused.add("2")
    with pytest.raises(discord.ConnectionClosed):  # already sharded as configured: the error stands
        app.run_bot(make_settings(shards="2"), "token")
    assert started == ["", "auto", "2"]
