"""ANNOUNCE_CHANNEL_ID end to end: the bot watches a feed on 127.0.0.1 and posts what is new to the fake Discord."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot import create_bot
from index.archive import Archive
from index.web.watch import to_announce
from tests.fake_discord import FakeChannel, FakeDiscord, new_snowflake, running_client
from tests.http_fixture import LOOPBACK, NewsServer
from tests.test_watch import FEED, publish, site  # noqa: F401  (site: the feed server fixture)

CHANNEL_TEXT, CHANNEL_CATEGORY, CHANNEL_FORUM = 0, 4, 15
NEW_TITLE = "Council backs footbridge"
POLL_TIMEOUT = 30.0  # seconds for one poll of the local feed, generous for a loaded machine
Polls = asyncio.Queue[list[dict[str, Any]]]


def announce_channel(fake: FakeDiscord, kind: int) -> FakeChannel:
    channel = FakeChannel(new_snowflake(), "feed-news", fake.guild.id, kind)
    fake.guild.channels.append(channel)
    return channel


@contextlib.asynccontextmanager
async def watching_bot(
    fake: FakeDiscord, archive: Archive, server: NewsServer, channel: FakeChannel
) -> AsyncIterator[Polls]:
    """The bot watching the test site's feed, announcing in `channel`; yields each poll's new articles
    once the bot has finished announcing them."""
    from bot.settings import Settings

    settings = Settings(  # type: ignore[call-arg]  # pydantic-settings' _env_file
        _env_file=None,
        feeds=[server.url(FEED)],
        fetch_allow=list(LOOPBACK),
        fetch_retries=0,
        fetch_timeout=5,
        watch_minutes=0.005,
        announce_channel_id=channel.id,
        cooldown_seconds=0,
    )
    newsbot = create_bot(settings, archive=archive, guild_ready_timeout=0.1)
    polls: Polls = asyncio.Queue()
    announce = newsbot.announce

    async def announce_then_tell(new: list[dict[str, Any]]) -> None:
        try:
            await announce(new)
        finally:
            polls.put_nowait(new)

    newsbot.announce = announce_then_tell  # the watcher calls it after every poll
    async with running_client(newsbot, fake):
        yield polls


async def next_poll(polls: Polls) -> list[dict[str, Any]]:
    return await asyncio.wait_for(polls.get(), POLL_TIMEOUT)


async def poll_announcing(polls: Polls, title: str) -> list[dict[str, Any]]:
    """The first poll that has `title` to announce (a poll under way when it was published may miss it)."""
    async with asyncio.timeout(POLL_TIMEOUT * 3):
        while True:
            new = await polls.get()
            if [a.title for a in to_announce(new).articles] == [title]:
                return new


def posts_in(fake: FakeDiscord, channel: FakeChannel) -> list[Any]:
    return fake.calls_matching("POST", rf"/channels/{channel.id}/messages")


async def test_new_feed_articles_are_announced_in_the_announce_channel(
    fake_discord: FakeDiscord,
    archive: Archive,
    site: NewsServer,  # noqa: F811
) -> None:
    channel = announce_channel(fake_discord, CHANNEL_TEXT)
    async with watching_bot(fake_discord, archive, site, channel) as polls:
        backlog = await next_poll(polls)
        assert len(backlog) == 4, "the first poll ingests the feed's four items"
        assert posts_in(fake_discord, channel) == [], "a feed's backlog is never announced"
        publish(site, "footbridge", NEW_TITLE)
        posted = await fake_discord.wait_for_call("POST", rf"/channels/{channel.id}/messages", POLL_TIMEOUT * 3)
    embed = posted.json["embeds"][0]
    assert NEW_TITLE in str(embed), f"the announcement does not name the new article: {embed}"
    assert posted.json["allowed_mentions"]["parse"] == []
    assert len(posts_in(fake_discord, channel)) == 1
    assert fake_discord.unhandled_calls == []


@pytest.mark.parametrize("kind,name", [(CHANNEL_FORUM, "forum"), (CHANNEL_CATEGORY, "category")])
async def test_an_announce_channel_that_takes_no_messages_is_one_warning_and_the_watch_goes_on(
    fake_discord: FakeDiscord,
    archive: Archive,
    site: NewsServer,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
    kind: int,
    name: str,
) -> None:
    caplog.set_level(logging.WARNING)
    channel = announce_channel(fake_discord, kind)
    async with watching_bot(fake_discord, archive, site, channel) as polls:
        await next_poll(polls)
        publish(site, "footbridge", NEW_TITLE)
        await poll_announcing(polls, NEW_TITLE)
        after = await next_poll(polls)
    assert after == [], "the watch polls on after the failed announcement, finding nothing new"
    assert posts_in(fake_discord, channel) == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name.startswith("bot.")]
    assert warnings == [
        f"announce channel {channel.id} is a {name} channel, which cannot take messages: give a text channel or a thread"
    ]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
