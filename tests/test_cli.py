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
    assert stats["articles"] == 1
    assert stats["chunks"] >= 2
    assert stats["outlets"] == {"The Moscow Times": 1}

    found = json.loads(run("search", "Putin Macron meeting Kremlin", "--json", "--k", "3").output)
    assert found["results"][0]["outlet"] == "The Moscow Times"
    assert found["results"][0]["url"].startswith("https://www.themoscowtimes.com/2022/02/07/")

    answer = json.loads(run("ask", "What did the Kremlin expect from Macron's visit?", "--json").output)
    assert not answer["abstained"]
    assert answer["citations"][0]["published"].startswith("2022-02-07")
    text = run("ask", "What did the Kremlin expect from Macron's visit?").output
    assert (
        "[1] No Major Breakthroughs Expected From Putin-Macron Meeting – Kremlin — The Moscow Times, 2022-02-07" in text
    )


def test_filters_and_batch(run, tmp_path):
    run("ingest", str(SAMPLES), "--quiet")
    out = json.loads(run("search", "Kremlin", "--json", "--outlet", "CNN").output)
    assert out["results"] == []
    assert out["filters"]["outlets"] == ["CNN"]
    out = json.loads(run("search", "Kremlin", "--json", "--since", "2022-03-01").output)
    assert out["results"] == []
    assert out["filters"]["since"].startswith("2022-03-01")
    batch = tmp_path / "q.jsonl"
    batch.write_text('{"query": "Kremlin Macron"}\n{"query": "Kremlin", "until": "2022-01-01"}\nnot json\n')
    lines = [json.loads(line) for line in run("search", "--batch", str(batch), "--json").output.splitlines()]
    assert len(lines[0]["results"]) == 1
    assert lines[1]["results"] == []
    assert lines[2]["line"] == 3
    assert run("search", "x", "--since", "not a date").exit_code == 2


def test_chat_answers_each_piped_line(run):
    run("ingest", str(SAMPLES), "--quiet")
    result = run("chat", input="What did Peskov say?\n\nWho is Scholz meeting?\n")
    assert result.output.count("Q: ") == 2
    assert "Sources:" in result.output


def test_skipped_items_are_listed_and_set_the_exit_code(run, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"url": "https://a.example/1", "title": "T", "text": "Fine text here."}\n{"text": ""}\n')
    result = run("ingest", str(bad), "--quiet")
    assert result.exit_code == EXIT_SKIPPED
    assert "added 1" in result.output
    assert f"{bad}:line 2: no text" in result.output


def test_empty_archive_and_model_mismatch_are_one_line_errors(run, monkeypatch):
    result = run("ask", "anything")
    assert result.exit_code == 1
    assert "newsbot ingest" in result.output
    run("ingest", str(SAMPLES), "--quiet")
    monkeypatch.setenv("NEWSBOT_EMBEDDING_MODEL", "fake:32")
    result = run("ask", "anything")
    assert result.exit_code == 1
    assert "newsbot index rebuild" in result.output
    assert "Traceback" not in result.output
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


def test_chat_follows_up_until_new(run):
    run("ingest", str(SAMPLES), "--quiet")
    questions = "What did the Kremlin expect from Macron's visit?\nWhat did he say after that?\n/new\nWhat did he say after that?\n"
    answers = run("chat", "--as-of", "2022-02-08", input=questions).output.split("Q: ")[1:]
    assert [a.splitlines()[0] for a in answers] == [
        "What did the Kremlin expect from Macron's visit?",
        "What did he say after that?",
        "What did he say after that?",
    ]
    assert "Sources:" in answers[1]
    assert "The Moscow Times" in answers[1]  # in context: the same story
    assert "I found nothing" in answers[2]
    assert "(new conversation)" in answers[1]  # after /new: nothing to lean on


def test_feedback_json_lines_and_counts_in_stats(run, tmp_path):
    from bot.settings import Settings
    from bot.state import Feedback
    from index.archive import Archive

    run("ingest", str(SAMPLES), "--quiet")
    archive = Archive(tmp_path / "data", Settings().archive_config())
    feedback = Feedback(archive)
    feedback.record_answer(
        1, "What did the Kremlin expect?", "2022-02-08T00:00:00+00:00", ["https://www.themoscowtimes.com/x"]
    )
    feedback.vote(1, 42, "down", "outdated")
    feedback.vote(1, 43, "up")
    archive.close()
    lines = [json.loads(line) for line in run("feedback", "--json").output.splitlines()]
    assert sorted((v["question"], v["vote"], v["reason"]) for v in lines) == [
        ("What did the Kremlin expect?", "down", "outdated"),
        ("What did the Kremlin expect?", "up", None),
    ]
    assert json.loads(run("index", "stats", "--json").output)["feedback"] == {"up": 1, "down": 1}
    assert "feedback: up 1, down 1" in run("index", "stats").output


def test_timeline_lists_dated_stories_and_writes_the_chart(run, tmp_path):
    run("ingest", str(SAMPLES), "--quiet")
    chart = tmp_path / "chart.png"
    result = run("timeline", "Putin Macron meeting Kremlin", "--png", str(chart))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("2022-02-07  No Major Breakthroughs Expected From Putin-Macron Meeting")
    assert "Articles per week: 2022-02-07 1" in result.output
    assert chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    missing = run("timeline", "volcanic eruption Iceland lava", "--png", str(tmp_path / "none.png"))
    assert missing.exit_code == 1
    assert "no dated articles" in missing.output
    assert not (tmp_path / "none.png").exists()


def test_ask_batch_answers_good_lines_and_reports_bad_ones(run, tmp_path):
    run("ingest", str(SAMPLES), "--quiet")
    question = "What did the Kremlin expect from Macron's visit?"
    single = json.loads(run("ask", question, "--json").output)
    batch = tmp_path / "questions.jsonl"
    batch.write_text(
        json.dumps({"question": question})
        + "\n\n"  # a blank line is skipped, yet counted
        + '{"query": "Kremlin Macron", "until": "2022-01-01"}\n'
        + "not json\n"
        + '{"question": "Peskov", "k": 0}\n'
        + '{"as_of": "2022-02-08"}\n'
        + '{"question": "Kremlin", "since": "someday"}\n'
        + '{"question": "Kremlin", "outlet": "CNN"}\n'
    )
    lines = [json.loads(line) for line in run("ask", "--batch", str(batch), "--json").output.splitlines()]
    assert lines[0] == single
    assert lines[1]["abstained"]
    assert lines[1]["filters"]["until"].startswith("2022-01-02")  # the whole of 1 January
    assert [e["line"] for e in lines[2:6]] == [4, 5, 6, 7]
    assert "not JSON" in lines[2]["error"]
    assert '"k"' in lines[3]["error"]
    assert '"question"' in lines[4]["error"]
    assert '"since"' in lines[5]["error"]
    assert lines[6]["abstained"]
    assert lines[6]["filters"]["outlets"] == ["CNN"]
    assert len(lines) == 7


def test_ask_batch_reads_stdin_and_renders_without_json(run):
    run("ingest", str(SAMPLES), "--quiet")
    piped = '{"question": "What did Peskov say?"}\n{"question": ""}\n{"question": "Who is Scholz meeting?"}\n'
    output = run("ask", "--batch", "-", "--outlet", "The Moscow Times", input=piped).output
    answers = output.strip().split("\n\n")
    assert output.count("Sources:") == 2
    assert 'line 2: no "question"' in output
    assert len([a for a in answers if a.startswith("“")]) == 2
    assert run("ask").exit_code == 2


def test_until_includes_its_whole_day_in_the_cli_as_in_discord(run):
    from bot.discord.options import query_filters
    from index.search import Filters
    from tests.conftest import utc

    assert Filters.given(until=utc(2022, 2, 7)).until == utc(2022, 2, 8)
    assert query_filters(until=utc(2022, 2, 7)).until == utc(2022, 2, 8)
    assert Filters.given(until=utc(2022, 2, 7, 12)).until == utc(2022, 2, 7, 12), "a moment is kept as given"


UNTIL_ENTRY_POINTS = {
    "search": ("search", "Kremlin Macron", "--json"),
    "ask": ("ask", "What did the Kremlin expect from Macron's visit?", "--json"),
    "timeline": ("timeline", "Putin Macron meeting Kremlin"),
}
SAMPLE_URL = "https://www.themoscowtimes.com/2022/02/07/no-major-breakthroughs"


def test_every_command_keeps_an_article_published_on_the_until_date(run, tmp_path):
    run("ingest", str(SAMPLES), "--quiet")  # one article, published on 7 February 2022
    for name, command in UNTIL_ENTRY_POINTS.items():
        on_the_day = run(*command, "-u", "2022-02-07").output
        the_day_before = run(*command, "--until", "2022-02-06").output
        assert SAMPLE_URL in on_the_day, f"{name} --until 2022-02-07 lost the article of 7 February"
        assert SAMPLE_URL not in the_day_before, f"{name} --until 2022-02-06 kept the article of 7 February"
    batch = tmp_path / "batch.jsonl"
    batch.write_text(
        '{"query": "Kremlin Macron", "until": "2022-02-07"}\n{"query": "Kremlin Macron", "until": "2022-02-06"}\n'
    )
    for command in ("search", "ask"):
        on_the_day, the_day_before = run(command, "--batch", str(batch), "--json").output.splitlines()
        assert SAMPLE_URL in on_the_day, f"{command} --batch: until the day"
        assert SAMPLE_URL not in the_day_before, f"{command} --batch: the day before"


def test_one_settings_per_command_with_data_dir_applied(run, tmp_path, monkeypatch):
    """The group builds the one Settings; --data-dir is put into it, not read from a second one."""
    from bot.settings import Settings

    built = []
    original = Settings.__init__

    def counting(self, **values):
        original(self, **values)
        built.append(self)

    monkeypatch.setattr(Settings, "__init__", counting)
    assert run("ingest", str(SAMPLES), "--quiet", "--data-dir", str(tmp_path / "elsewhere")).exit_code == 0
    assert len(built) == 1
    assert (tmp_path / "elsewhere" / "archive.db").exists()
    assert not (tmp_path / "data").exists()  # NEWSBOT_DATA_DIR lost to the option
