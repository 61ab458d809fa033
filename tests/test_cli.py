"""The command line, run as a user would: real files, the fake embedder chosen by a setting."""
from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from bot.cli import EXIT_SKIPPED, cli

from .conftest import REPO, SAMPLES


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSBOT_EMBEDDING_MODEL", "fake")
    monkeypatch.setenv("NEWSBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # no stray .env is read

    def invoke(*args: str, input: str | None = None):
        return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)

    return invoke


def test_ingest_search_ask_stats(run):
    result = run("ingest", str(SAMPLES), "--quiet")
    assert result.exit_code == 0, result.output
    assert "added 1" in result.output
    assert "unchanged 1" in run("ingest", str(SAMPLES), "--quiet").output

    stats = json.loads(run("index", "stats", "--json").output)
    assert stats["articles"] == 1 and stats["chunks"] >= 2 and stats["outlets"] == {"The Moscow Times": 1}

    found = json.loads(run("search", "Putin Macron meeting Kremlin", "--json", "--k", "3").output)
    assert found["results"][0]["outlet"] == "The Moscow Times"
    assert found["results"][0]["url"].startswith("https://www.themoscowtimes.com/2022/02/07/")

    answer = json.loads(run("ask", "What did the Kremlin expect from Macron's visit?", "--json").output)
    assert not answer["abstained"] and answer["citations"][0]["published"].startswith("2022-02-07")
    text = run("ask", "What did the Kremlin expect from Macron's visit?").output
    assert "[1] No Major Breakthroughs Expected From Putin-Macron Meeting – Kremlin — The Moscow Times, 2022-02-07" in text


def test_filters_and_batch(run, tmp_path):
    run("ingest", str(SAMPLES), "--quiet")
    out = json.loads(run("search", "Kremlin", "--json", "--outlet", "CNN").output)
    assert out["results"] == [] and out["filters"]["outlets"] == ["CNN"]
    out = json.loads(run("search", "Kremlin", "--json", "--since", "2022-03-01").output)
    assert out["results"] == [] and out["filters"]["since"].startswith("2022-03-01")
    batch = tmp_path / "q.jsonl"
    batch.write_text('{"query": "Kremlin Macron"}\n{"query": "Kremlin", "until": "2022-01-01"}\nnot json\n')
    lines = [json.loads(line) for line in run("search", "--batch", str(batch), "--json").output.splitlines()]
    assert len(lines[0]["results"]) == 1 and lines[1]["results"] == [] and lines[2]["line"] == 3
    assert run("search", "x", "--since", "not a date").exit_code == 2


def test_chat_answers_each_piped_line(run):
    run("ingest", str(SAMPLES), "--quiet")
    result = run("chat", input="What did Peskov say?\n\nWho is Scholz meeting?\n")
    assert result.output.count("Q: ") == 2 and "Sources:" in result.output


def test_skipped_items_are_listed_and_set_the_exit_code(run, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"url": "https://a.example/1", "title": "T", "text": "Fine text here."}\n{"text": ""}\n')
    result = run("ingest", str(bad), "--quiet")
    assert result.exit_code == EXIT_SKIPPED
    assert "added 1" in result.output and f"{bad}:line 2: no text" in result.output


def test_empty_archive_and_model_mismatch_are_one_line_errors(run, monkeypatch):
    result = run("ask", "anything")
    assert result.exit_code == 1 and "newsbot ingest" in result.output
    run("ingest", str(SAMPLES), "--quiet")
    monkeypatch.setenv("NEWSBOT_EMBEDDING_MODEL", "fake:32")
    result = run("ask", "anything")
    assert result.exit_code == 1 and "newsbot index rebuild" in result.output and "Traceback" not in result.output
    assert run("index", "rebuild", "--quiet").exit_code == 0
    assert not json.loads(run("ask", "Kremlin Macron", "--json").output)["abstained"]


def test_readme_command_list_matches_the_cli():
    """Every `newsbot …` command in the README exists, and every command is in the README."""
    readme = (REPO / "README.md").read_text()
    documented = set(re.findall(r"^\| `newsbot ([a-z-]+(?: [a-z-]+)?)", readme, re.M))
    actual = set()
    for name, command in cli.commands.items():
        subcommands = getattr(command, "commands", None)
        actual |= {f"{name} {sub}" for sub in subcommands} if subcommands else {name}
    assert documented == actual


def test_until_includes_its_whole_day_in_the_cli_as_in_discord(run):
    from bot.discord.options import query_filters
    from index.search import Filters
    from tests.conftest import utc

    run("ingest", str(SAMPLES), "--quiet")  # one article, published on 7 February 2022
    on_the_day = json.loads(run("search", "Kremlin", "--json", "-u", "2022-02-07").output)
    assert [r["published"][:10] for r in on_the_day["results"]] == ["2022-02-07"]
    the_day_before = json.loads(run("search", "Kremlin", "--json", "--until", "2022-02-06").output)
    assert the_day_before["results"] == []
    assert Filters.given(until=utc(2022, 2, 7)).until == utc(2022, 2, 8)
    assert query_filters(until=utc(2022, 2, 7)).until == utc(2022, 2, 8)
    assert Filters.given(until=utc(2022, 2, 7, 12)).until == utc(2022, 2, 7, 12), "a moment is kept as given"
