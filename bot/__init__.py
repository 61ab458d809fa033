"""The conversation: answers, Discord and the console. Builds on `index`."""

from typing import Any


def __getattr__(name: str) -> Any:
    """`from bot import create_bot`, imported lazily so the other commands do not load discord.py."""
    if name == "create_bot":
        from bot.discord.app import create_bot

        return create_bot
    raise AttributeError(f"module 'bot' has no attribute {name!r}")
