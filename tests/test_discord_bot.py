"""The bot end to end: unmodified discord.py against the fake Discord on 127.0.0.1, a real archive."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import discord
import pytest
from click.testing import CliRunner

from bot import create_bot, embeds
from bot.cli import cli
from bot.discord import answering, app, checks
from bot.discord.views import Pager
from bot.settings import Settings
from index.archive import Archive
from index.article import Article
from index.embedding import ModelError
from tests.chat_fixture import ChatServer
from tests.conftest import make_article, utc
from tests.fake_discord import (
    FakeChannel,
    FakeDiscord,
    FakeMember,
    FakeRole,
    Intent,
    Op,
    new_snowflake,
    patch_discord,
    running_client,
)
from tests.local_server import LoopThread
from tests.test_embeds import assert_within_limits

MESSAGES = r"/channels/\d+/messages"
KREMLIN = "What did the Kremlin say about Macron talks?"
KREMLIN_LINK = (
    "[Kremlin expects no breakthrough from Macron visit](https://www.themoscowtimes.com/2022/02/07/kremlin-macron)"
)
NO_MENTIONS = {"parse": []}
COMMANDS = [  # every slash command, sorted
    "article",
    "ask",
    "config",
    "follow",
    "following",
    "recent",
    "reindex",
    "search",
    "status",
    "timeline",
    "unfollow",
]


def make_settings(**values: Any) -> Settings:
    values.setdefault("cooldown_seconds", 0)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "DISCORD_TOKEN",
        "DISCORD_GUILD_ID",
        "ASK_CHANNEL_IDS",
        "NEWSBOT_ADMIN_ROLE_ID",
        "NEWSBOT_ADMIN_GUILD_IDS",
        "NEWSBOT_COOLDOWN_SECONDS",
        "NEWSBOT_REINDEX_COOLDOWN_SECONDS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


@contextlib.asynccontextmanager
async def running_bot(fake: FakeDiscord, archive: Archive, **settings: Any) -> AsyncIterator[app.NewsBot]:
    newsbot = create_bot(make_settings(**settings), archive=archive, guild_ready_timeout=0.1)
    async with running_client(newsbot, fake):
        yield newsbot


async def mention(fake: FakeDiscord, text: str, author: Any = None, channel_id: int | None = None) -> dict:
    content = f"{fake.bot_user.mention} {text}"
    return await fake.send_message(channel_id or fake.channel.id, author or fake.reader, content)


async def reply_to(fake: FakeDiscord, message: dict, timeout: float = 5.0) -> Any:
    """The bot's answer to a message: a reply to it, or the first message in the thread started on it."""

    def answers(call: Any) -> bool:
        replied = str((call.json.get("message_reference") or {}).get("message_id")) == message["id"]
        return call.status == 200 and (replied or call.path == f"/channels/{message['id']}/messages")

    return await fake.wait_for_call("POST", MESSAGES, timeout, predicate=answers)


THREADS = r"/channels/\d+/messages/\d+/threads"


async def until(condition: Any, timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def add_channel(fake: FakeDiscord, name: str) -> FakeChannel:
    channel = FakeChannel(new_snowflake(), name, fake.guild.id)
    fake.guild.channels.append(channel)
    return channel


# --------------------------------------------------------------------------- login, intents, commands


@pytest.mark.parametrize("ask_channels,content_intent", [(None, False), ("123456789012345678", True)])
async def test_identify_intents_and_no_command_sync_at_start(
    fake_discord: FakeDiscord, news_archive: Archive, ask_channels: str | None, content_intent: bool
) -> None:
    extra = {"ASK_CHANNEL_IDS": ask_channels} if ask_channels else {}
    async with running_bot(fake_discord, news_archive, **extra):
        intents = fake_discord.identify_payloads[0]["intents"]
        assert bool(intents & Intent.MESSAGE_CONTENT) is content_intent
        assert intents & Intent.GUILD_MESSAGES
        assert intents & Intent.GUILDS
        assert not intents & Intent.GUILD_MEMBERS
        await fake_discord.settle()  # on_ready and the rest have run: a sync there would be recorded by now
        assert not fake_discord.calls_matching("PUT", r"/applications/\d+/.*commands")
    assert fake_discord.unhandled_calls == []


# --------------------------------------------------------------------------- questions in channels


async def test_mention_is_answered_in_a_new_thread_with_sources(
    fake_discord: FakeDiscord, news_archive: Archive
) -> None:
    async with running_bot(fake_discord, news_archive):
        asked = await mention(fake_discord, KREMLIN)
        reply = await reply_to(fake_discord, asked)
        started = fake_discord.calls_matching("POST", THREADS)
        assert [(c.path, c.json["name"]) for c in started] == [
            (f"/channels/{fake_discord.channel.id}/messages/{asked['id']}/threads", KREMLIN)
        ]
        thread = fake_discord.world.find_channel(int(asked["id"]))
        assert thread is not None
        assert (thread.parent_id, thread.owner_id) == (
            fake_discord.channel.id,
            fake_discord.bot_user.id,
        )
        typing = fake_discord.calls_matching("POST", rf"/channels/{thread.id}/typing")
        assert typing
        assert typing[0].received_at <= reply.received_at
        assert reply.json["allowed_mentions"]["parse"] == []
        buttons = reply.json["components"][0]["components"]
        assert [(b["custom_id"], b["emoji"]["name"]) for b in buttons] == [
            ("feedback:up", "👍"),
            ("feedback:down", "👎"),
        ]
        embed = reply.json["embeds"][0]
        assert embed["title"] == KREMLIN  # the mention is stripped
        assert embed["description"].startswith(
            "“The Kremlin said Monday that talks with Emmanuel Macron"
        )  # the opening line
        assert embed["fields"][0]["name"] == "Sources"
        assert KREMLIN_LINK in embed["fields"][0]["value"]
        assert "The Moscow Times, 7 Feb 2022" in embed["fields"][0]["value"]
        await fake_discord.settle()  # its own echoed message is not answered
        assert len(fake_discord.calls_matching("POST", MESSAGES)) == 1


async def test_the_model_is_readied_at_start(
    fake_discord: FakeDiscord, news_archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    warmed: list[bool] = []
    monkeypatch.setattr(news_archive, "warm", lambda: warmed.append(True))
    async with running_bot(fake_discord, news_archive):
        await until(lambda: warmed)


async def test_a_model_that_cannot_be_readied_is_logged_and_the_bot_still_answers(
    fake_discord: FakeDiscord, news_archive: Archive, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise ModelError("cannot load embedding model 'missing/model'")

    monkeypatch.setattr(news_archive, "warm", broken)
    with caplog.at_level(logging.WARNING):
        async with running_bot(fake_discord, news_archive):
            await until(lambda: "the embedding model is not ready" in caplog.text)
            reply = await reply_to(fake_discord, await mention(fake_discord, KREMLIN))
            assert reply.json["embeds"][0]["title"] == KREMLIN


async def test_bare_mention_gets_a_hint_and_direct_messages_are_answered(
    fake_discord: FakeDiscord, news_archive: Archive
) -> None:
    async with running_bot(fake_discord, news_archive):
        asked = await mention(fake_discord, "")
        assert (await reply_to(fake_discord, asked)).json["content"] == embeds.EMPTY_QUESTION
        dm = fake_discord.dm_channel(fake_discord.reader)
        asked = await fake_discord.send_message(dm.id, fake_discord.reader, "Sudan prime minister resigned")
        assert "sudan-hamdok-resigns" in (await reply_to(fake_discord, asked)).json["embeds"][0]["fields"][0]["value"]


async def test_ask_channel_message_is_answered_and_elsewhere_not(
    fake_discord: FakeDiscord, news_archive: Archive
) -> None:
    elsewhere = add_channel(fake_discord, "general")
    async with running_bot(fake_discord, news_archive, ASK_CHANNEL_IDS=str(fake_discord.channel.id)):
        ignored = await fake_discord.send_message(elsewhere.id, fake_discord.reader, "Wheat prices in Chicago?")
        asked = await fake_discord.send_message(
            fake_discord.channel.id, fake_discord.reader, "Wheat prices in Chicago?"
        )
        reply = await reply_to(fake_discord, asked)
        assert "wheat-prices" in reply.json["embeds"][0]["fields"][0]["value"]
        await fake_discord.settle()
        started = fake_discord.calls_matching("POST", THREADS)
        assert [c.path.split("/")[4] for c in started] == [asked["id"]]
        answered = [
            c.json.get("message_reference", {}).get("message_id") for c in fake_discord.calls_matching("POST", MESSAGES)
        ]
        assert answered == [None]  # the one answer went into the thread; nothing replied to `ignored`
        assert fake_discord.world.find_channel(int(ignored["id"])) is None  # no thread on it


async def test_cooldown_answers_with_the_retry_time(fake_discord: FakeDiscord, news_archive: Archive) -> None:
    async with running_bot(fake_discord, news_archive, cooldown_seconds=30):
        first = await mention(fake_discord, KREMLIN)
        assert (await reply_to(fake_discord, first)).json["embeds"]
        second = await mention(fake_discord, KREMLIN)
        content = (await reply_to(fake_discord, second)).json["content"]
        assert content.startswith("One question at a time")
        assert content.endswith(":R>.")
        sent = await fake_discord.send_interaction(fake_discord.reader, "ask", {"question": KREMLIN})
        callback = await fake_discord.wait_for_call("POST", sent.callback_path)
        assert callback.json["type"] == 4
        assert callback.json["data"]["flags"] == 64
        assert ":R>" in callback.json["data"]["content"]
        other = await fake_discord.send_interaction(fake_discord.moderator, "ask", {"question": KREMLIN})
        assert (await fake_discord.wait_for_call("POST", other.callback_path)).json["type"] == 5


# --------------------------------------------------------------------------- slash commands


async def test_sync_commands_registers_them_in_the_guild(fake_discord: FakeDiscord) -> None:
    settings = make_settings(DISCORD_GUILD_ID=fake_discord.guild.id)
    names = await app.sync_commands(settings, fake_discord.token)
    assert sorted(names) == COMMANDS
    ask = fake_discord.commands[fake_discord.guild.id]["ask"]
    options = {o["name"]: o for o in ask["options"]}
    assert ask["description"]
    assert all(o["description"] for o in options.values())
    assert options["question"]["required"]
    assert options["outlet"]["autocomplete"]
    recent = {o["name"]: o for o in fake_discord.commands[fake_discord.guild.id]["recent"]["options"]}
    assert (recent["count"]["min_value"], recent["count"]["max_value"]) == (1, 25)


async def test_ask_is_deferred_at_once_then_edited(fake_discord: FakeDiscord, news_archive: Archive) -> None:
    fake_discord.interaction_deadline = 3.0
    async with running_bot(fake_discord, news_archive):
        started = time.monotonic()
        sent = await fake_discord.send_interaction(
            fake_discord.reader, "ask", {"question": KREMLIN, "since": "2022-02-01"}
        )
        callback = await fake_discord.wait_for_call("POST", sent.callback_path)
        assert callback.json == {"type": 5}
        assert callback.status == 200
        assert callback.received_at - started < 3.0
        edit = await fake_discord.wait_for_call("PATCH", sent.original_path)
        assert edit.status == 200
        assert edit.json["allowed_mentions"] == NO_MENTIONS
        embed = edit.json["embeds"][0]
        assert KREMLIN_LINK in embed["fields"][0]["value"]
        assert embed["footer"]["text"] == "since 1 Feb 2022"


async def test_bad_date_is_explained(fake_discord: FakeDiscord, news_archive: Archive) -> None:
    async with running_bot(fake_discord, news_archive):
        sent = await fake_discord.send_interaction(
            fake_discord.reader, "ask", {"question": KREMLIN, "until": "someday"}
        )
        callback = await fake_discord.wait_for_call("POST", sent.callback_path)
        assert callback.json["data"]["flags"] == 64
        assert "“someday” is not a date" in callback.json["data"]["content"]


UNTIL_COMMANDS = {
    "ask": {"question": KREMLIN},
    "search": {"query": "Kremlin Macron talks"},
    "timeline": {"topic": "Kremlin Macron talks"},
}


async def test_until_keeps_an_article_published_that_day_in_every_command(
    fake_discord: FakeDiscord, news_archive: Archive
) -> None:
    """The Kremlin article is of 7 February: `until` 7 February keeps it, 6 February does not (as in the CLI)."""
    shown = {}
    async with running_bot(fake_discord, news_archive):
        for name, options in UNTIL_COMMANDS.items():
            for until in ("2022-02-07", "2022-02-06"):
                sent = await fake_discord.send_interaction(fake_discord.reader, name, {**options, "until": until})
                edit = await fake_discord.wait_for_call("PATCH", sent.original_path, 30.0)  # matplotlib's import
                shown[name, until] = json.dumps(edit.json["embeds"])
    for name in UNTIL_COMMANDS:
        assert "themoscowtimes.com/2022/02/07/kremlin-macron" in shown[name, "2022-02-07"], f"/{name} until the day"
        assert "themoscowtimes.com/2022/02/07/kremlin-macron" not in shown[name, "2022-02-06"], f"/{name} day before"
    assert '"until 7 Feb 2022"' in shown["ask", "2022-02-07"]  # the footer names the day given
    assert "until 7 Feb 2022" in shown["search", "2022-02-07"]


async def test_outlet_autocomplete_recent_article_and_status(fake_discord: FakeDiscord, news_archive: Archive) -> None:
    async with running_bot(fake_discord, news_archive):
        typed = await fake_discord.send_autocomplete(
            fake_discord.reader, "ask", {"question": "x", "outlet": "re"}, focused="outlet"
        )
        await fake_discord.wait_for_call("POST", typed.callback_path)
        assert fake_discord.interaction_result(typed) == {"choices": [{"name": "Reuters", "value": "Reuters"}]}

        recent = await fake_discord.send_interaction(fake_discord.reader, "recent", {"count": 2})
        lines = (
            (await fake_discord.wait_for_call("PATCH", recent.original_path))
            .json["embeds"][0]["description"]
            .splitlines()
        )
        assert len(lines) == 2
        assert "EU agrees common phone charger rule" in lines[0]
        assert "Wheat" in lines[1]

        article = await fake_discord.send_interaction(
            fake_discord.reader, "article", {"url": "https://www.reuters.com/technology/eu-charger-2022-06-07/"}
        )
        shown = (await fake_discord.wait_for_call("PATCH", article.original_path)).json["embeds"][0]
        assert shown["title"] == "EU agrees common phone charger rule"
        assert shown["description"].startswith("The European Union")
        assert {"name": "Published", "value": "7 Jun 2022", "inline": True} in shown["fields"]

        status = await fake_discord.send_interaction(fake_discord.reader, "status")
        fields = {
            f["name"]: f["value"]
            for f in (await fake_discord.wait_for_call("PATCH", status.original_path)).json["embeds"][0]["fields"]
        }
        assert fields["Articles"] == "4"
        assert fields["Coverage"] == "2 Jan 2022 – 7 Jun 2022"
        assert fields["Model"].startswith("fake")


async def test_search_pager_for_the_asker_only_and_disabled_on_expiry(
    fake_discord: FakeDiscord, archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive.ingest([make_article(n) for n in range(1, 13)], progress=False)
    async with running_bot(fake_discord, archive) as newsbot:
        newsbot.pager_timeout = 1.5  # long enough for the clicks below on a busy machine
        sent = await fake_discord.send_interaction(
            fake_discord.reader, "search", {"query": "story number tells about topic"}
        )
        first = await fake_discord.wait_for_call("PATCH", sent.original_path)
        assert first.json["embeds"][0]["footer"]["text"] == "Page 1 of 3"
        buttons = first.json["components"][0]["components"]
        assert [(b["custom_id"], b.get("disabled", False)) for b in buttons] == [
            ("pager:previous", True),
            ("pager:next", False),
        ]
        message_id = int(first.response["id"])
        await until(lambda: any(p.is_dispatching() for p in newsbot.pagers))  # the fake answered; has the bot read it?

        click = await fake_discord.send_component(fake_discord.reader, message_id, "pager:next")
        assert (await fake_discord.wait_for_call("POST", click.callback_path)).json == {"type": 6}
        page = await fake_discord.wait_for_call("PATCH", click.original_path)
        assert page.json["embeds"][0]["footer"]["text"] == "Page 2 of 3"
        assert fake_discord.messages[message_id]["embeds"][0]["description"].startswith("**6.**")

        intruder = await fake_discord.send_component(fake_discord.moderator, message_id, "pager:next")
        refusal = await fake_discord.wait_for_call("POST", intruder.callback_path)
        assert refusal.json["type"] == 4
        assert refusal.json["data"]["flags"] == 64
        assert refusal.json["data"]["content"] == embeds.NOT_YOURS
        assert fake_discord.messages[message_id]["embeds"][0]["footer"]["text"] == "Page 2 of 3"

        async def broken(*args: Any) -> None:
            raise RuntimeError("view internals")

        monkeypatch.setattr(Pager, "show", broken)
        failing = await fake_discord.send_component(fake_discord.reader, message_id, "pager:previous")
        apology = await fake_discord.wait_for_call("POST", failing.callback_path)
        data = apology.json["data"]
        assert (data["content"], data["flags"], data["allowed_mentions"]) == (embeds.APOLOGY, 64, NO_MENTIONS)

        expired = await fake_discord.wait_for_call(
            "PATCH", sent.original_path, 5.0, after=fake_discord.calls.index(first) + 1
        )
        buttons = expired.json["components"][0]["components"]
        assert [(b["custom_id"], b["disabled"]) for b in buttons] == [("pager:previous", True), ("pager:next", True)]


async def test_reindex_is_refused_without_manage_server(fake_discord: FakeDiscord, news_archive: Archive) -> None:
    async with running_bot(fake_discord, news_archive, admin_guild_ids=[fake_discord.guild.id]):
        sent = await fake_discord.send_interaction(fake_discord.reader, "reindex")
        callback = await fake_discord.wait_for_call("POST", sent.callback_path)
        assert callback.json["data"]["flags"] == 64
        assert "Manage Server" in callback.json["data"]["content"]
    assert news_archive.stats().index_build_id is None


@pytest.mark.parametrize("admin_guilds", [None, "another"])
async def test_reindex_is_refused_outside_the_admin_guilds(
    fake_discord: FakeDiscord, news_archive: Archive, admin_guilds: str | None
) -> None:
    """Any server can invite the bot; only the operator's servers may rebuild the shared archive."""
    extra = {"admin_guild_ids": [new_snowflake()]} if admin_guilds else {}
    async with running_bot(fake_discord, news_archive, **extra):
        sent = await fake_discord.send_interaction(fake_discord.moderator, "reindex")
        callback = await fake_discord.wait_for_call("POST", sent.callback_path)
        assert callback.json["data"]["content"] == checks.NOT_ADMIN_GUILD
    assert news_archive.stats().index_build_id is None


async def test_the_admin_role_counts_by_id_not_by_name(fake_discord: FakeDiscord, news_archive: Archive) -> None:
    impostor = FakeRole(new_snowflake(), "Newsroom", 0, 1)
    fake_discord.guild.roles.append(impostor)
    fake_discord.guild.members.remove(next(m for m in fake_discord.guild.members if m.user == fake_discord.reader))
    fake_discord.guild.members.append(FakeMember(fake_discord.reader, (impostor.id,)))
    async with running_bot(
        fake_discord, news_archive, admin_guild_ids=[fake_discord.guild.id], admin_role_id=new_snowflake()
    ):
        sent = await fake_discord.send_interaction(fake_discord.reader, "reindex")
        callback = await fake_discord.wait_for_call("POST", sent.callback_path)
        assert "Manage Server permission or the admin role" in callback.json["data"]["content"]
    assert news_archive.stats().index_build_id is None


async def test_reindex_has_its_own_cooldown(fake_discord: FakeDiscord, news_archive: Archive) -> None:
    async with running_bot(
        fake_discord, news_archive, admin_guild_ids=[fake_discord.guild.id], reindex_cooldown_seconds=600
    ) as newsbot:
        newsbot.progress_every = 0.0
        first = await fake_discord.send_interaction(fake_discord.moderator, "reindex")
        await fake_discord.wait_for_call(
            "PATCH", r"/channels/\d+/messages/\d+", 30.0, predicate=lambda c: "done" in c.json["content"]
        )
        build = news_archive.stats().index_build_id
        assert build is not None  # the first one rebuilt
        again = await fake_discord.send_interaction(fake_discord.moderator, "reindex")
        callback = await fake_discord.wait_for_call("POST", again.callback_path)
        assert callback.json["data"]["content"].startswith(
            "The archive was reindexed recently; /reindex can run again <t:"
        )
        assert (await fake_discord.wait_for_call("POST", first.callback_path)).json == {"type": 5}
    assert news_archive.stats().index_build_id == build


@pytest.mark.parametrize("who", ["moderator", "reader with the admin role"])
async def test_reindex_edits_its_progress_message_until_done(
    fake_discord: FakeDiscord, news_archive: Archive, who: str
) -> None:
    user, role_id = fake_discord.moderator, new_snowflake()
    if who != "moderator":
        role = FakeRole(role_id, "Newsroom", 0, 1)
        fake_discord.guild.roles.append(role)
        fake_discord.guild.members.append(FakeMember(fake_discord.reader, (role.id,)))
        fake_discord.guild.members.remove(next(m for m in fake_discord.guild.members if m.user == fake_discord.reader))
        user = fake_discord.reader
    async with running_bot(
        fake_discord, news_archive, admin_role_id=role_id, admin_guild_ids=[fake_discord.guild.id]
    ) as newsbot:
        newsbot.progress_every = 0.0
        sent = await fake_discord.send_interaction(user, "reindex")
        assert (await fake_discord.wait_for_call("POST", sent.callback_path)).json == {"type": 5}
        started = await fake_discord.wait_for_call("PATCH", sent.original_path)
        assert started.json["content"] == "Reindexing: starting…"
        progress_path = rf"/channels/{fake_discord.channel.id}/messages/{started.response['id']}"
        done = await fake_discord.wait_for_call("PATCH", progress_path, predicate=lambda c: "done" in c.json["content"])
        edits = [c.json["content"] for c in fake_discord.calls_matching("PATCH", progress_path)]
        assert edits[-1].startswith("Reindex done: 4 chunks")
        assert done.status == 200
        assert any(e.startswith("Reindexing: chunking") or e.startswith("Reindexing: embedding") for e in edits[:-1])
    assert news_archive.stats().index_build_id is not None  # None until a rebuild (see the admin-role test)


# --------------------------------------------------------------------------- limits, concurrency, failures


async def test_giant_article_still_fits_discord_limits(fake_discord: FakeDiscord, archive: Archive) -> None:
    url = "https://news.example.com/giant/" + "segment-" * 200
    text = "Giant zeppelin report begins here. " + "zeppelin " * 4000 + ". " + "More zeppelin news follows. " * 300
    archive.ingest(
        [Article(text=text, title="Zeppelin " * 300, url=url, outlet="Outlet " * 100, published=utc(2022, 3, 1))],
        progress=False,
    )
    async with running_bot(fake_discord, archive):
        for command, options in (
            ("article", {"url": url}),
            ("ask", {"question": "zeppelin report"}),
            ("search", {"query": "zeppelin"}),
        ):
            sent = await fake_discord.send_interaction(fake_discord.reader, command, options)
            edit = await fake_discord.wait_for_call("PATCH", sent.original_path)
            assert edit.status == 200, (command, edit.response)
            embed = fake_discord.messages[int(edit.response["id"])]["embeds"][0]
            assert embed.get("fields") or embed.get("description")
            assert_within_limits(discord.Embed.from_dict(embed))


async def test_slow_search_does_not_hold_up_other_interactions(
    fake_discord: FakeDiscord, news_archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(fake_discord, news_archive) as newsbot:
        browse = newsbot.extensions["bot.discord.cogs.browse"]  # cogs are modules loaded per bot, patched there
        real_search = browse.search_archive

        def slow_search(*args: Any, **kwargs: Any) -> Any:
            time.sleep(1.0)
            return real_search(*args, **kwargs)

        monkeypatch.setattr(browse, "search_archive", slow_search)
        slow = await fake_discord.send_interaction(fake_discord.reader, "search", {"query": "wheat"})
        quick_sent_at = time.monotonic()
        quick = await fake_discord.send_interaction(fake_discord.moderator, "status")
        quick_ack = await fake_discord.wait_for_call("POST", quick.callback_path)
        quick_done = await fake_discord.wait_for_call("PATCH", quick.original_path)
        slow_done = await fake_discord.wait_for_call("PATCH", slow.original_path)
        assert quick_ack.received_at - quick_sent_at < 0.5
        assert quick_done.received_at < slow_done.received_at - 0.5


async def test_handler_exceptions_get_an_apology_and_are_logged(
    fake_discord: FakeDiscord, news_archive: Archive, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("kaboom internals")

    caplog.set_level(logging.ERROR, logger="bot.discord")
    monkeypatch.setattr(answering, "answer_in_context", broken)
    async with running_bot(fake_discord, news_archive):
        asked = await mention(fake_discord, KREMLIN)
        assert (await reply_to(fake_discord, asked)).json["content"] == embeds.APOLOGY
        sent = await fake_discord.send_interaction(fake_discord.reader, "ask", {"question": KREMLIN})
        edit = await fake_discord.wait_for_call("PATCH", sent.original_path)
        assert edit.json["content"] == embeds.APOLOGY
        assert edit.json["embeds"] == []
    sent_text = repr([c.json for c in fake_discord.calls])
    assert "kaboom" not in sent_text
    assert "Traceback" not in sent_text
    reader, guild = str(fake_discord.reader.id), str(fake_discord.guild.id)
    logged = [r for r in caplog.records if r.exc_info and "kaboom" in str(r.exc_info[1])]
    assert len(logged) == 2
    assert all(reader in r.getMessage() and guild in r.getMessage() for r in logged)
    assert "/ask" in logged[1].getMessage()


async def test_survives_a_forced_reconnect_and_a_429(fake_discord: FakeDiscord, news_archive: Archive) -> None:
    async with running_bot(fake_discord, news_archive):
        mark = len(fake_discord.gateway_frames)
        await fake_discord.force_reconnect()
        asked = await mention(fake_discord, KREMLIN)
        assert (await reply_to(fake_discord, asked)).json["embeds"]
        assert (await fake_discord.wait_for_gateway(Op.RESUME, after=mark)).connection == 2
        fake_discord.rate_limit_once("POST", MESSAGES, retry_after=0.3)
        asked = await mention(fake_discord, "Sudan prime minister resigned")
        answered = await reply_to(fake_discord, asked)
        limited = [c for c in fake_discord.calls_matching("POST", MESSAGES) if c.status == 429]
        assert len(limited) == 1
        assert answered.received_at - limited[0].received_at >= 0.3
        assert "sudan-hamdok-resigns" in answered.json["embeds"][0]["fields"][0]["value"]


# --------------------------------------------------------------------------- the command line


def test_bot_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSBOT_ADMIN_ROLE_ID", "42")
    monkeypatch.setenv("NEWSBOT_ADMIN_GUILD_IDS", "7, 8")
    monkeypatch.setenv("NEWSBOT_COOLDOWN_SECONDS", "2.5")
    monkeypatch.setenv("ASK_CHANNEL_IDS", "1, 2")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.admin_role_id, settings.cooldown_seconds, settings.ask_channel_ids) == (42, 2.5, [1, 2])
    assert settings.admin_guilds() == {7, 8}
    assert Settings(_env_file=None, DISCORD_GUILD_ID=9).admin_guilds() == {7, 8}  # type: ignore[call-arg]
    monkeypatch.delenv("NEWSBOT_ADMIN_GUILD_IDS")
    assert Settings(_env_file=None, DISCORD_GUILD_ID=9).admin_guilds() == {9}  # type: ignore[call-arg]
    assert Settings(_env_file=None).cooldown_seconds == 2.5  # type: ignore[call-arg]
    monkeypatch.delenv("NEWSBOT_COOLDOWN_SECONDS")
    assert Settings(_env_file=None).cooldown_seconds == 10  # type: ignore[call-arg]


@contextlib.contextmanager
def fake_discord_in_thread() -> Iterator[FakeDiscord]:
    """The fake on its own loop, for CLI commands that run their own (asyncio.run)."""
    thread = LoopThread()
    server = FakeDiscord()
    thread.run(server.start(), 5)
    root_handlers = list(logging.getLogger().handlers)
    try:
        with patch_discord(server):
            yield server
    finally:
        logging.getLogger().handlers[:] = root_handlers  # `run` installs discord.py's log handler
        thread.run(server.close(), 5)
        thread.close()


def test_run_without_token_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["run", "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 1
    assert (
        result.output
        == 'Error: DISCORD_TOKEN is not set: put the bot token in .env (see the README, "Run it in your Discord server")\n'
    )


def test_run_with_a_rejected_token_is_one_line_without_the_token(tmp_path: Path) -> None:
    with fake_discord_in_thread():
        env = {"DISCORD_TOKEN": "wrong-secret-token", "NEWSBOT_EMBEDDING_MODEL": "fake"}
        result = CliRunner().invoke(cli, ["run", "--data-dir", str(tmp_path / "data")], env=env)
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines()[-1].startswith("Error: Discord rejected DISCORD_TOKEN")
    assert "Traceback" not in result.output
    assert "wrong-secret-token" not in result.output


def test_sync_commands_cli(tmp_path: Path) -> None:
    with fake_discord_in_thread() as server:
        env = {"DISCORD_TOKEN": server.token, "DISCORD_GUILD_ID": str(server.guild.id)}
        result = CliRunner().invoke(cli, ["sync-commands"], env=env)
        registered = sorted(server.commands.get(server.guild.id, {}))
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"synced 11 commands to guild {server.guild.id}: /ask, /search")
    assert registered == COMMANDS
    assert not (tmp_path / "data").exists()  # syncing opens no archive


async def test_a_generated_lead_opens_the_answer_and_a_slow_model_holds_up_nothing(
    fake_discord: FakeDiscord, news_archive: Archive, chat_server: ChatServer
) -> None:
    chat_server.reply = "The Kremlin said talks with Macron were very important [1]."  # grounded in the first quote
    chat_server.hang_seconds = 1.0  # a slow model, well within NEWSBOT_LLM_TIMEOUT
    llm = {"llm_url": chat_server.url("hang"), "llm_model": "smol", "llm_timeout": 10.0}
    async with running_bot(fake_discord, news_archive, **llm):
        slow = await fake_discord.send_interaction(fake_discord.reader, "ask", {"question": KREMLIN})
        quick = await fake_discord.send_interaction(fake_discord.moderator, "status")
        quick_done = await fake_discord.wait_for_call("PATCH", quick.original_path)
        slow_done = await fake_discord.wait_for_call("PATCH", slow.original_path, 15.0)
        assert quick_done.received_at < slow_done.received_at - 0.5
        description = slow_done.json["embeds"][0]["description"]
        lead = "The Kremlin said talks with Macron were very important **[1]**."  # bold [n], as the quotes have
        assert description.startswith(lead + "\n> “The Kremlin said Monday")
        assert chat_server.requests
