"""`newsbot chat`: the same answers as in Discord, in a terminal."""
from __future__ import annotations

from datetime import datetime
from typing import TextIO

from bot.answer import ask
from bot.llm import LLMConfig
from index.archive import Archive
from index.search import Filters

PROMPT = "newsbot> "


def chat(archive: Archive, stdin: TextIO, as_of: datetime | None = None, llm: LLMConfig | None = None) -> None:
    """Answers each line; interactive with a prompt, or one answer per line when piped."""
    interactive = stdin.isatty()
    if interactive:
        print("Ask about the archive (empty line or Ctrl-D to quit).")
    while True:
        if interactive:
            print(PROMPT, end="", flush=True)
        line = stdin.readline()
        if not line or (interactive and not line.strip()):
            return
        if not line.strip():
            continue
        answer = ask(archive, line.strip(), filters=Filters(as_of=as_of), llm=llm)
        print(f"Q: {line.strip()}\n{answer.render()}\n", flush=True)
