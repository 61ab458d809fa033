"""The ``fake_discord`` pytest fixture (tests/conftest.py imports it)."""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

import pytest_asyncio

from tests.fake_discord import FakeDiscord, patch_discord

LEAK_GRACE_SECONDS = 1.0


async def _wait_for_leftover_tasks(before: set[asyncio.Task[object]]) -> list[asyncio.Task[object]]:
    """Tasks started during the test that are still pending after a short grace period."""
    current = asyncio.current_task()
    deadline = asyncio.get_running_loop().time() + LEAK_GRACE_SECONDS
    while True:
        leftover = [t for t in asyncio.all_tasks() - before if t is not current and not t.done()]
        if not leftover or asyncio.get_running_loop().time() > deadline:
            return leftover
        await asyncio.sleep(0.02)


@pytest_asyncio.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A started FakeDiscord with discord.py patched to use it; fails the test if tasks leak."""
    before = asyncio.all_tasks()
    async with FakeDiscord() as server:
        with patch_discord(server):
            yield server
    leftover = await _wait_for_leftover_tasks(before)
    names = [repr(t.get_coro()) for t in leftover]
    for task in leftover:
        task.cancel()
    await asyncio.gather(*leftover, return_exceptions=True)
    assert not leftover, f"tasks leaked past the test (a discord.ui.View needs stop() or timeout=None): {names}"
