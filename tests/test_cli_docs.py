"""docs/cli.md is the commands' own help, so it cannot go stale."""

from __future__ import annotations

import click

from bot.cli import cli
from bot.cli_docs import contexts, render

from .conftest import REPO


def test_docs_cli_md_is_the_current_help():
    page = (REPO / "docs" / "cli.md").read_text()
    assert page == render(), "docs/cli.md is stale: run `make docs` (python -m bot.cli_docs > docs/cli.md)"


def test_every_command_has_a_short_first_line_and_an_example():
    commands = [ctx for ctx in contexts(cli)]
    assert len(commands) >= 12, [ctx.command_path for ctx in commands]
    for ctx in commands:
        short = ctx.command.get_short_help_str(limit=45)
        assert not short.endswith("..."), f"{ctx.command_path}: the command list cuts its first line: {short!r}"
        assert "Example:" in (ctx.command.help or ""), f"{ctx.command_path} has no Example: block"


def test_the_common_options_have_short_flags():
    search = cli.get_command(click.Context(cli), "search")
    flags = {opt for param in search.params for opt in param.opts + param.secondary_opts}
    assert {"-k", "-s", "-u", "-o", "-d"} <= flags, sorted(flags)
