"""The opt-in generated answer over real HTTP on 127.0.0.1: used when grounded, otherwise (invented
facts, bad citations, errors, timeouts, garbage, a dead endpoint) the extractive answer stands."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from pydantic import SecretStr, ValidationError

from bot import llm
from bot.answer import ask
from bot.cli import cli
from bot.grounding import grounding_problems
from bot.llm import LLMConfig, chat_url, generated_lead, one_line
from bot.settings import Settings
from tests.chat_fixture import ChatServer, dead_url
from tests.conftest import SAMPLES
from tests.llama_server import running_server

QUESTION = "What did the Kremlin expect from Macron's visit?"
GROUNDED = "The Kremlin said no decisive breakthroughs could be expected from Macron [1]."
KEY = "sk-test-do-not-log-1234"


def config(url: str, timeout: float = 5.0) -> LLMConfig:
    return LLMConfig(url, "smol", SecretStr(KEY), timeout)


def test_a_grounded_line_becomes_the_lead(news_archive, chat_server: ChatServer):
    chat_server.reply = GROUNDED
    answer = ask(news_archive, QUESTION, llm=config(chat_server.url("reply")))
    assert answer.lead == GROUNDED
    assert answer.lead_generated
    assert answer.text.splitlines()[0] == GROUNDED
    assert answer.to_json()["lead_generated"] is True
    headers, body = chat_server.requests[0]
    assert headers["Authorization"] == f"Bearer {KEY}"
    assert body["model"] == "smol"
    prompt = body["messages"][-1]["content"]
    sources = {int(line[1]): line for line in prompt.splitlines() if line.startswith("[")}
    assert QUESTION in prompt
    assert answer.quotes
    assert all(quote in sources[n] for quote, n in answer.quotes)


@pytest.mark.parametrize(
    "reply",
    [
        "The Kremlin said Olaf Scholz expected no breakthroughs [1].",  # invented name
        "The Kremlin expected 45 breakthroughs from Macron [1].",  # invented number
        "The Kremlin expected no breakthroughs from Macron [7].",  # a source that does not exist
        "The Kremlin expected no breakthroughs from Macron.",  # no citation
        "",  # empty
        "See https://example.com/kremlin [1]",  # not a sentence
    ],
)
def test_an_ungrounded_line_leaves_the_extractive_answer(news_archive, chat_server: ChatServer, reply: str):
    chat_server.reply = reply
    extractive = ask(news_archive, QUESTION)
    answer = ask(news_archive, QUESTION, llm=config(chat_server.url("reply")))
    assert chat_server.requests, "the model was asked"
    assert answer.lead == extractive.lead
    assert not answer.lead_generated
    assert answer.text == extractive.text


@pytest.mark.parametrize(
    "behaviour, reason",
    [
        ("status/500", "HTTP 500"),
        ("status/401", "HTTP 401"),
        ("status/404", "HTTP 404"),
        ("garbage", "JSONDecodeError"),
        ("shape", "LLMError"),
        ("hang", "ReadTimeout"),
    ],
)
def test_endpoint_failures_fall_back_and_never_log_the_key(
    news_archive,
    chat_server: ChatServer,
    caplog: pytest.LogCaptureFixture,
    behaviour: str,
    reason: str,
):
    chat_server.reply = GROUNDED  # what /hang would say, too late
    extractive = ask(news_archive, QUESTION)
    with caplog.at_level(logging.DEBUG):
        answer = ask(news_archive, QUESTION, llm=config(chat_server.url(behaviour), timeout=0.3))
    assert answer.text == extractive.text
    assert not answer.lead_generated
    assert reason in caplog.text
    assert KEY not in caplog.text


@pytest.mark.parametrize("url, reason", [(None, "ConnectError"), ("http://[::1", "InvalidURL")])
def test_a_dead_or_malformed_endpoint_falls_back(news_archive, caplog: pytest.LogCaptureFixture, url, reason):
    with caplog.at_level(logging.WARNING):
        answer = ask(news_archive, QUESTION, llm=config(url or dead_url()))
    assert not answer.abstained
    assert answer.quotes
    assert not answer.lead_generated
    assert reason in caplog.text


def test_no_request_when_there_is_nothing_to_say(news_archive, chat_server: ChatServer):
    assert ask(news_archive, "zebra quantum violin marathon", llm=config(chat_server.url("reply"))).abstained
    assert generated_lead(config(chat_server.url("reply")), QUESTION, []) is None
    assert chat_server.requests == []


@pytest.mark.parametrize(
    "text, line",
    [
        ("Macron met Putin [1].", "Macron met Putin [1]."),
        ('  "Macron met Putin [1]."\n\nMore text here.', "Macron met Putin [1]."),
        ("Answer: **Macron met Putin [1].**", "Macron met Putin [1]."),
        ("\n\n", None),
        ("Putin [1]", None),  # too short to state an answer
        ("Ask @everyone about Putin [1].", None),
        ("x " * 300, None),
    ],
)
def test_one_line(text: str, line: str | None):
    assert one_line(text) == line


def test_chat_url_takes_a_base_or_the_full_url():
    assert chat_url("http://127.0.0.1:11434/v1/") == "http://127.0.0.1:11434/v1/chat/completions"
    assert chat_url("https://api.example.com/v1/chat/completions") == "https://api.example.com/v1/chat/completions"


def test_settings_leave_it_off_by_default_and_validate_it(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert Settings().llm_config() is None
    monkeypatch.setenv("NEWSBOT_LLM_URL", "http://127.0.0.1:8080/v1")
    with pytest.raises(ValidationError, match="NEWSBOT_LLM_MODEL is required"):
        Settings()
    monkeypatch.setenv("NEWSBOT_LLM_MODEL", "smol")
    monkeypatch.setenv("NEWSBOT_LLM_API_KEY", KEY)
    settings = Settings()
    assert settings.llm_config() == LLMConfig("http://127.0.0.1:8080/v1", "smol", SecretStr(KEY), 10.0)
    assert KEY not in repr(settings)
    assert KEY not in repr(settings.llm_config())
    monkeypatch.setenv("NEWSBOT_LLM_API_KEY", "")
    assert Settings().llm_config().api_key is None
    monkeypatch.setenv("NEWSBOT_LLM_URL", "127.0.0.1:8080")
    with pytest.raises(ValidationError, match="http:// or https://"):
        Settings()


@pytest.fixture(scope="module")
def smollm2() -> Iterator[str]:
    yield from running_server()


def test_a_real_local_model_writes_the_lead_only_when_it_is_grounded(news_archive, smollm2: str, monkeypatch):
    """llama.cpp's server with SmolLM2-135M: whatever the small model writes, the lead is its line
    exactly when that line passes the check, else the extractive one."""
    replies: list[str] = []
    real_complete = llm.complete

    def recording(config: LLMConfig, messages: list[dict[str, str]]) -> str:  # the real call, remembered
        replies.append(real_complete(config, messages))
        return replies[-1]

    monkeypatch.setattr(llm, "complete", recording)
    extractive = ask(news_archive, QUESTION)
    answer = ask(news_archive, QUESTION, llm=LLMConfig(smollm2 + "/v1", "smollm2", None, 60.0, max_tokens=32))
    assert len(replies) == 1, "the model answered"
    assert replies[0].strip(), "the model answered"
    line = one_line(replies[0])
    grounded = line is not None and grounding_problems(line, extractive.quotes) == []
    assert answer.lead_generated is grounded
    assert answer.quotes == extractive.quotes
    assert answer.lead == (line if grounded else extractive.lead)


def test_the_command_line_uses_the_configured_endpoint(tmp_path, monkeypatch, chat_server: ChatServer):
    monkeypatch.setenv("NEWSBOT_EMBEDDING_MODEL", "fake")
    monkeypatch.setenv("NEWSBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    runner.invoke(cli, ["ingest", str(SAMPLES), "--quiet"], catch_exceptions=False)
    plain = json.loads(runner.invoke(cli, ["ask", QUESTION, "--json"], catch_exceptions=False).output)
    quote = plain["citations"][0]["quote"].lstrip('"“')  # a model's line loses a leading quotation mark
    chat_server.reply = f"{quote} [1]"  # verbatim from the quotes: grounded
    monkeypatch.setenv("NEWSBOT_LLM_URL", chat_server.url("reply"))
    monkeypatch.setenv("NEWSBOT_LLM_MODEL", "smol")
    monkeypatch.setenv("NEWSBOT_LLM_API_KEY", KEY)
    generated = json.loads(runner.invoke(cli, ["ask", QUESTION, "--json"], catch_exceptions=False).output)
    assert generated["lead"] == chat_server.reply
    assert generated["lead_generated"] is True
    assert generated["answer"].startswith(chat_server.reply)
    assert not plain["lead_generated"]
    chatted = runner.invoke(cli, ["chat"], input=QUESTION + "\n", catch_exceptions=False).output
    assert chat_server.reply in chatted
    assert KEY not in chatted
    assert chat_server.requests[0][0]["Authorization"] == f"Bearer {KEY}"


def test_the_prompt_numbers_sources_and_holds_only_the_quotes():
    quotes = [("Macron met Putin.", 1), ("Talks lasted 5 hours.", 1), ("Peskov spoke.", 2)]
    messages = llm.prompt("Who met Putin?", quotes, example=False)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "[1] Macron met Putin. Talks lasted 5 hours.\n[2] Peskov spoke." in messages[-1]["content"]
    assert [m["role"] for m in llm.prompt("Who met Putin?", quotes)] == ["system", "user", "assistant", "user"]
