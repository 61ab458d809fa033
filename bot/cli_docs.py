"""docs/cli.md, made from the commands' own help: `python -m bot.cli_docs > docs/cli.md` (`make docs`).

tests/test_cli_docs.py fails when the page and the help disagree, so the reference cannot go stale."""

from __future__ import annotations

from collections.abc import Iterator

import click

WIDTH = 100  # fixed, so the page does not depend on the terminal that made it
HEADER = """# newsbot command line

Every command's `--help`, as printed. Made by `make docs` (`python -m bot.cli_docs > docs/cli.md`)
from the help texts in `bot/cli.py`; a test fails when this page is out of date.
"""


def contexts(
    command: click.Command, parent: click.Context | None = None, name: str = "newsbot"
) -> Iterator[click.Context]:
    """A context for `command` and for each of its subcommands, depth first, in the order listed."""
    settings = {**command.context_settings, "terminal_width": WIDTH, "max_content_width": WIDTH}
    ctx = click.Context(command, parent=parent, info_name=name, **settings)
    yield ctx
    if isinstance(command, click.Group):
        for sub_name in command.list_commands(ctx):
            sub = command.get_command(ctx, sub_name)
            if sub is not None and not sub.hidden:
                yield from contexts(sub, ctx, sub_name)


def section(ctx: click.Context) -> str:
    level = "#" * min(ctx.command_path.count(" ") + 2, 4)
    return f"{level} {ctx.command_path}\n\n```\n{ctx.command.get_help(ctx)}\n```\n"


def render() -> str:
    from bot.cli import cli

    return "\n".join([HEADER, *(section(ctx) for ctx in contexts(cli))])


if __name__ == "__main__":
    print(render(), end="")
