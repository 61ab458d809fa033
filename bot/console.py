"""`newsbot chat`: the same answers as in Discord, in a terminal. Each line follows the ones before
(as in a Discord thread) until `/new`; the conversation is kept in the archive database."""

from __future__ import annotations

from datetime import datetime
from typing import TextIO

from bot.conversation import answer_in_context
from bot.llm import LLMConfig
from bot.state import Conversations
from index.archive import Archive
from index.search import Filters

PROMPT = "newsbot> "
NEW = "/new"
CONVERSATION = "console"


def chat(
    archive: Archive, stdin: TextIO, as_of: datetime | None = None, llm: LLMConfig | None = None, resume: bool = False
) -> None:
    """Answers each line; interactive with a prompt, or one answer per line when piped."""
    conversations = Conversations(archive)
    if not resume:
        conversations.reset(CONVERSATION)
    interactive = stdin.isatty()
    if interactive:
        print(f"Ask about the archive; {NEW} starts a new conversation (empty line or Ctrl-D to quit).")
    while True:
        if interactive:
            print(PROMPT, end="", flush=True)
        line = stdin.readline()
        if not line or (interactive and not line.strip()):
            return
        if line.strip():
            print(reply(archive, conversations, line.strip(), Filters(as_of=as_of), llm), flush=True)


def reply(archive: Archive, conversations: Conversations, line: str, filters: Filters, llm: LLMConfig | None) -> str:
    if line == NEW:
        conversations.reset(CONVERSATION)
        return "(new conversation)\n"
    answer, turn = answer_in_context(archive, conversations.turns(CONVERSATION), line, filters, llm=llm)
    conversations.add(CONVERSATION, turn)
    return f"Q: {line}\n{answer.render()}\n"
