"""End-to-end tests: unmodified discord.py against the local fake Discord."""

from __future__ import annotations

import asyncio
import io

import discord
import pytest
from discord import app_commands
from discord.ext import commands

try:
    from tests.fake_discord import FakeDiscord, Op, running_client
    from tests.fake_discord_fixtures import fake_discord  # noqa: F401  (fixture)
except ImportError:
    from fake_discord import FakeDiscord, Op, running_client
    from fake_discord_fixtures import fake_discord  # noqa: F401  (fixture)

pytestmark = pytest.mark.asyncio

MESSAGES = r"/channels/\d+/messages"


def make_intents(*, content: bool = True, members: bool = False) -> discord.Intents:
    intents = discord.Intents.default()
    intents.message_content = content
    intents.members = members
    return intents


def make_bot(intents: discord.Intents | None = None) -> commands.Bot:
    return commands.Bot(command_prefix="!", intents=intents or make_intents(), guild_ready_timeout=0.1)


def add_pong(bot: commands.Bot) -> None:
    @bot.event
    async def on_message(message: discord.Message) -> None:
        if not message.author.bot:
            async with message.channel.typing():
                await message.reply(f"pong: {message.content}")


# --------------------------------------------------------------------------- login and gateway


async def test_login_identify_ready_and_guild_cache(fake_discord: FakeDiscord) -> None:
    intents = make_intents(members=True)
    client = discord.Client(intents=intents, guild_ready_timeout=0.1)
    ready = asyncio.Event()
    client.event(_set_on_ready(ready))

    async with running_client(client, fake_discord):
        assert ready.is_set()
        assert fake_discord.identify_payloads[0]["intents"] == intents.value
        assert client.application_id == fake_discord.application_id
        guild = client.get_guild(fake_discord.guild.id)
        assert guild is not None
        assert not guild.unavailable
        assert client.get_channel(fake_discord.channel.id) in guild.text_channels
        assert guild.get_member(fake_discord.moderator.id).guild_permissions.manage_guild
        assert not guild.get_member(fake_discord.reader.id).guild_permissions.manage_guild
    assert fake_discord.unhandled_calls == []


def _set_on_ready(ready: asyncio.Event):  # type: ignore[no-untyped-def]
    async def on_ready() -> None:
        ready.set()

    return on_ready


async def test_bad_token_is_login_failure(fake_discord: FakeDiscord) -> None:
    client = discord.Client(intents=make_intents())
    try:
        with pytest.raises(discord.LoginFailure):
            await client.login("wrong-token")
    finally:
        await client.close()


# --------------------------------------------------------------------------- messages


async def test_message_reaches_on_message_and_reply_is_recorded(fake_discord: FakeDiscord) -> None:
    bot = make_bot()
    add_pong(bot)
    async with running_client(bot, fake_discord):
        sent = await fake_discord.send_message(fake_discord.channel.id, fake_discord.reader, "hello")
        call = await fake_discord.wait_for_call("POST", MESSAGES)
        assert call.json["content"] == "pong: hello"
        assert int(call.json["message_reference"]["message_id"]) == int(sent["id"])
        assert call.response["type"] == 19
        assert call.response["referenced_message"]["id"] == sent["id"]
        assert fake_discord.calls_matching("POST", r"/channels/\d+/typing")
        await fake_discord.settle()  # the echoed MESSAGE_CREATE of the reply must not be answered
        assert len(fake_discord.calls_matching("POST", MESSAGES)) == 1


async def test_settle_waits_for_handlers_still_running_for_earlier_events(fake_discord: FakeDiscord) -> None:
    bot = make_bot()

    @bot.event
    async def on_message(message: discord.Message) -> None:
        if not message.author.bot:
            await asyncio.sleep(0.3)  # a slow handler: settle must outwait it, not race it
            await message.reply("late")

    async with running_client(bot, fake_discord):
        await fake_discord.send_message(fake_discord.channel.id, fake_discord.reader, "hello")
        await fake_discord.settle()
        assert [c.json["content"] for c in fake_discord.calls_matching("POST", MESSAGES)] == ["late"]


async def test_content_is_blank_without_message_content_intent(fake_discord: FakeDiscord) -> None:
    bot = make_bot(make_intents(content=False))
    seen: asyncio.Queue[str] = asyncio.Queue()

    @bot.event
    async def on_message(message: discord.Message) -> None:
        if not message.author.bot:
            seen.put_nowait(message.content)

    async with running_client(bot, fake_discord):
        await fake_discord.send_message(fake_discord.channel.id, fake_discord.reader, "secret")
        assert await asyncio.wait_for(seen.get(), 2) == ""
        bot_mention = f"{fake_discord.bot_user.mention} hi"
        await fake_discord.send_message(fake_discord.channel.id, fake_discord.reader, bot_mention)
        assert await asyncio.wait_for(seen.get(), 2) == bot_mention


async def test_direct_message_round_trip(fake_discord: FakeDiscord) -> None:
    bot = make_bot()
    add_pong(bot)
    dm = fake_discord.dm_channel(fake_discord.reader)
    async with running_client(bot, fake_discord):
        await fake_discord.send_message(dm.id, fake_discord.reader, "private question")
        call = await fake_discord.wait_for_call("POST", rf"/channels/{dm.id}/messages")
        assert call.json["content"] == "pong: private question"


async def test_edit_own_message(fake_discord: FakeDiscord) -> None:
    bot = make_bot()
    async with running_client(bot, fake_discord):
        message = await bot.get_channel(fake_discord.channel.id).send("draft")
        edited = await message.edit(content="final")
        assert edited.content == "final"
        assert edited.edited_at is not None
        assert fake_discord.messages[message.id]["content"] == "final"
        assert [c.method for c in fake_discord.calls if "/messages" in c.path] == ["POST", "PATCH"]


async def test_rate_limited_route_is_retried(fake_discord: FakeDiscord) -> None:
    bot = make_bot()
    fake_discord.rate_limit_once("POST", MESSAGES, retry_after=0.3)
    async with running_client(bot, fake_discord):
        channel = bot.get_channel(fake_discord.channel.id)
        message = await channel.send("after a 429")
        first, second = fake_discord.calls_matching("POST", MESSAGES)
        assert (first.status, second.status) == (429, 200)
        assert second.received_at - first.received_at >= 0.3
        assert message.id == int(second.response["id"])


async def test_files_are_sent_multipart_and_parsed(fake_discord: FakeDiscord) -> None:
    bot = make_bot()
    async with running_client(bot, fake_discord):
        channel = bot.get_channel(fake_discord.channel.id)
        file = discord.File(io.BytesIO(b"headline,date\n"), filename="news.csv")
        message = await channel.send("report", file=file)
        call = fake_discord.calls_matching("POST", MESSAGES)[-1]
        assert call.json["content"] == "report"
        assert [(f.filename, f.data) for f in call.files] == [("news.csv", b"headline,date\n")]
        assert message.attachments[0].filename == "news.csv"


async def test_too_long_content_is_rejected_like_discord(fake_discord: FakeDiscord) -> None:
    bot = make_bot()
    async with running_client(bot, fake_discord):
        channel = bot.get_channel(fake_discord.channel.id)
        with pytest.raises(discord.HTTPException) as info:
            await channel.send("x" * 2001)
        assert info.value.code == 50035
        assert "content" in info.value.text


# --------------------------------------------------------------------------- reconnects


async def test_reconnect_resumes_and_replays_missed_events(fake_discord: FakeDiscord) -> None:
    bot = make_bot()
    add_pong(bot)
    async with running_client(bot, fake_discord):
        mark = len(fake_discord.gateway_frames)
        await fake_discord.force_reconnect()
        await fake_discord.send_message(fake_discord.channel.id, fake_discord.reader, "while away")
        resume = await fake_discord.wait_for_gateway(Op.RESUME, after=mark)
        call = await fake_discord.wait_for_call("POST", MESSAGES)
        assert call.json["content"] == "pong: while away"
        assert resume.connection == 2
        assert len(fake_discord.identify_payloads) == 1
        await fake_discord.send_message(fake_discord.channel.id, fake_discord.reader, "after")
        await fake_discord.wait_for_call("POST", MESSAGES, predicate=lambda c: c.json["content"] == "pong: after")


# --------------------------------------------------------------------------- application commands


def add_ask_command(bot: commands.Bot, seen_permissions: list[bool]) -> None:
    @bot.tree.command(description="Ask the news archive")
    @app_commands.describe(question="What to ask")
    async def ask(interaction: discord.Interaction, question: str) -> None:
        seen_permissions.append(interaction.permissions.manage_guild)
        await interaction.response.defer()
        await interaction.edit_original_response(embed=discord.Embed(title=question, description="answer"))


async def test_app_command_defer_then_edit_original(fake_discord: FakeDiscord) -> None:
    bot = make_bot()
    seen_permissions: list[bool] = []
    add_ask_command(bot, seen_permissions)
    async with running_client(bot, fake_discord):
        synced = await bot.tree.sync()
        assert [c.name for c in synced] == ["ask"]
        sent = await fake_discord.send_interaction(fake_discord.moderator, "ask", {"question": "who won?"})
        callback = await fake_discord.wait_for_call("POST", sent.callback_path)
        edit = await fake_discord.wait_for_call("PATCH", sent.original_path)
        assert callback.json == {"type": 5}
        assert edit.json["embeds"][0]["title"] == "who won?"
        assert fake_discord.messages[int(edit.response["id"])]["flags"] == 0  # loading flag cleared by the edit
        sent = await fake_discord.send_interaction(fake_discord.reader, "ask", {"question": "again"})
        await fake_discord.wait_for_call("PATCH", sent.original_path)
        assert seen_permissions == [True, False]


async def test_followup_and_ephemeral_response(fake_discord: FakeDiscord) -> None:
    bot = make_bot()

    @bot.tree.command(description="Two messages")
    async def two(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("first", ephemeral=True)
        await interaction.followup.send("second", file=discord.File(io.BytesIO(b"text"), filename="summary.txt"))

    async with running_client(bot, fake_discord):
        sent = await fake_discord.send_interaction(fake_discord.reader, "two")
        callback = await fake_discord.wait_for_call("POST", sent.callback_path)
        followup = await fake_discord.wait_for_call("POST", sent.followup_path)
        assert callback.json["data"]["flags"] == 64
        assert followup.json["content"] == "second"
        assert followup.status == 200
        assert [f.filename for f in followup.files] == ["summary.txt"]
        assert followup.response["attachments"][0]["filename"] == "summary.txt"


async def test_late_interaction_response_is_unknown_interaction(fake_discord: FakeDiscord) -> None:
    bot = make_bot()
    fake_discord.interaction_deadline = 0.0  # Discord allows 3 s

    @bot.tree.command(description="Too slow")
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer()

    async with running_client(bot, fake_discord):
        sent = await fake_discord.send_interaction(fake_discord.reader, "slow")
        callback = await fake_discord.wait_for_call("POST", sent.callback_path)
        assert (callback.status, callback.response["code"]) == (404, 10062)


async def test_component_click_updates_message(fake_discord: FakeDiscord) -> None:
    bot = make_bot()

    class Confirm(discord.ui.View):
        @discord.ui.button(label="OK", custom_id="confirm")
        async def confirm(self, interaction: discord.Interaction, button: discord.ui.Button[Confirm]) -> None:
            await interaction.response.edit_message(content="confirmed", view=None)
            self.stop()

    async with running_client(bot, fake_discord):
        message = await bot.get_channel(fake_discord.channel.id).send("sure?", view=Confirm())
        sent = await fake_discord.send_component(fake_discord.reader, message.id, "confirm")
        callback = await fake_discord.wait_for_call("POST", sent.callback_path)
        assert callback.json["type"] == 7
        assert fake_discord.messages[message.id]["content"] == "confirmed"


async def test_autocomplete_returns_choices(fake_discord: FakeDiscord) -> None:
    bot = make_bot()

    @bot.tree.command(description="Search")
    async def search(interaction: discord.Interaction, topic: str) -> None:
        await interaction.response.send_message(topic)

    @search.autocomplete("topic")
    async def topics(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=t, value=t) for t in ("economy", "elections") if t.startswith(current)]

    async with running_client(bot, fake_discord):
        sent = await fake_discord.send_autocomplete(fake_discord.reader, "search", {"topic": "ec"}, focused="topic")
        await fake_discord.wait_for_call("POST", sent.callback_path)
        assert fake_discord.interaction_result(sent) == {"choices": [{"name": "economy", "value": "economy"}]}


async def test_thread_on_a_message_is_cached_and_takes_messages(fake_discord: FakeDiscord) -> None:
    bot = make_bot()
    async with running_client(bot, fake_discord):
        sent = await fake_discord.send_message(fake_discord.channel.id, fake_discord.reader, "start here")
        message = bot.get_channel(fake_discord.channel.id).get_partial_message(int(sent["id"]))
        thread = await message.create_thread(name="a thread")
        assert (thread.id, thread.parent_id, thread.owner_id) == (
            message.id,
            fake_discord.channel.id,
            fake_discord.bot_user.id,
        )
        await thread.send("inside")
        assert fake_discord.calls_matching("POST", rf"/channels/{thread.id}/messages")[0].status == 200
        with pytest.raises(discord.HTTPException) as again:
            await message.create_thread(name="twice")
        assert again.value.code == 160004
        inside = await fake_discord.send_message(thread.id, fake_discord.reader, "in the thread")
        assert inside["channel_id"] == str(thread.id)
        assert isinstance(bot.get_channel(thread.id), discord.Thread)  # THREAD_CREATE reached the cache
