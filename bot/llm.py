"""The optional generated answer: one opening line written by a chat model (any OpenAI-compatible
endpoint: Ollama, llama.cpp's server, vLLM, a hosted API) from the chosen quotes only.

The line is used only when `bot.grounding` finds every name and number of it in the quotes and it
cites only quotes that exist; any failure (timeout, HTTP error, garbage, unsupported facts) means
None, and the caller keeps the extractive answer. Synchronous on purpose: it runs where answers are
built, in the Discord bot's worker threads, never on the event loop."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import SecretStr

from bot.grounding import grounding_problems

if TYPE_CHECKING:  # bot.answer imports this module
    from bot.answer import Answer

log = logging.getLogger(__name__)

MAX_TOKENS = 96  # one sentence; also bounds how long a slow model can take
MAX_LINE_CHARS = 400
MIN_LINE_WORDS = 3
NOT_PLAIN = re.compile(r"https?://|www\.|@|<|```")  # links, mentions and markup are not an answer line
LABEL = re.compile(r"^(?:\*\*)?(?:answer|lead|response)\s*:\s*(?:\*\*)?\s*", re.IGNORECASE)
SYSTEM_PROMPT = (
    "You answer a question about the news using only the numbered quotes given. "
    "Reply with one short sentence that answers the question, and cite the quotes it uses as [1], [2]. "
    "Use only names and numbers that appear in the quotes. Do not add anything else."
)
EXAMPLE_QUESTION = (
    "Who resigned as mayor of Springfield?",
    [
        ("The mayor of Springfield, Ann Lee, resigned on Tuesday after 12 years in office.", 1),
        ("Council members praised her work on the city budget.", 2),
    ],
)
EXAMPLE_ANSWER = "Ann Lee resigned as mayor of Springfield on Tuesday [1]."


class LLMError(Exception):
    """The endpoint answered, but not with a chat completion."""


@dataclass(frozen=True)
class LLMConfig:
    url: str
    model: str
    api_key: SecretStr | None = None
    timeout: float = 10.0
    max_tokens: int = MAX_TOKENS


def chat_url(url: str) -> str:
    """A base URL (http://127.0.0.1:11434/v1) or the full chat-completions URL, either works."""
    url = url.rstrip("/")
    return url if url.endswith("/chat/completions") else url + "/chat/completions"


def sources_text(quotes: list[tuple[str, int]]) -> str:
    """One numbered line per source, its quotes together: the model cites sources, not sentences."""
    grouped: dict[int, list[str]] = {}
    for quote, n in quotes:
        grouped.setdefault(n, []).append(quote)
    return "\n".join(f"[{n}] {' '.join(texts)}" for n, texts in sorted(grouped.items()))


def user_turn(question: str, quotes: list[tuple[str, int]]) -> str:
    return f"Quotes:\n{sources_text(quotes)}\n\nQuestion: {question}\nAnswer in one sentence, citing the quotes as [n]."


def prompt(question: str, quotes: list[tuple[str, int]], example: bool = True) -> list[dict[str, str]]:
    """The chat messages; `example` adds one worked question first (small models follow it better)."""
    worked = [
        {"role": "user", "content": user_turn(*EXAMPLE_QUESTION)},
        {"role": "assistant", "content": EXAMPLE_ANSWER},
    ]
    asked = {"role": "user", "content": user_turn(question, quotes)}
    return [{"role": "system", "content": SYSTEM_PROMPT}, *(worked if example else []), asked]


def reply_text(payload: Any) -> str:
    """The message of an OpenAI-style chat completion; LLMError for anything else."""
    try:
        content = payload["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as error:
        raise LLMError("not a chat completion") from error
    if not isinstance(content, str):
        raise LLMError("the completion has no text")
    return content


def complete(config: LLMConfig, messages: list[dict[str, str]]) -> str:
    """One chat completion. Raises httpx.HTTPError, LLMError or ValueError (not JSON)."""
    headers = {"Authorization": f"Bearer {config.api_key.get_secret_value()}"} if config.api_key else {}
    body = {
        "model": config.model,
        "messages": messages,
        "max_tokens": config.max_tokens,
        "temperature": 0,
        "stream": False,
    }
    with httpx.Client(timeout=config.timeout, follow_redirects=False) as client:
        response = client.post(chat_url(config.url), json=body, headers=headers)
        response.raise_for_status()
        return reply_text(response.json())


def one_line(text: str) -> str | None:
    """The reply's first line, unwrapped from quotes and labels; None when it is not a plain sentence."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return None
    line = LABEL.sub("", lines[0]).strip().strip("*").strip()
    if (
        len(line) > 1 and line[0] in '"“' and line[-1] in '"”'
    ):  # wrapped whole; a quote that only opens it is the article's
        line = line[1:-1].strip()
    if NOT_PLAIN.search(line) or len(line) > MAX_LINE_CHARS or len(line.split()) < MIN_LINE_WORDS:
        return None
    return line


def generated_lead(config: LLMConfig, question: str, quotes: list[tuple[str, int]]) -> str | None:
    """The model's opening line over (quote, citation number) pairs if it is grounded in them, else None."""
    if not quotes:
        return None
    try:
        line = one_line(complete(config, prompt(question, quotes)))
    except (httpx.HTTPError, httpx.InvalidURL, LLMError, ValueError) as error:
        # the error's type and status only: never the request, whose headers hold the key
        log.warning("generated answer unavailable (%s); using the extractive one", describe(error))
        return None
    problems = ["not one plain sentence"] if line is None else grounding_problems(line, quotes)
    if problems:
        log.info("generated answer not shown: %s", "; ".join(problems))
        return None
    return line


def with_generated_lead(answer: Answer, config: LLMConfig) -> Answer:
    """The model's line replaces the answer's lead only when it verifies; otherwise it is unchanged."""
    lead = None if answer.abstained else generated_lead(config, answer.question, answer.quotes)
    if lead:
        answer.lead, answer.lead_generated = lead, True
    return answer


def describe(error: Exception) -> str:
    if isinstance(error, httpx.HTTPStatusError):
        return f"HTTP {error.response.status_code}"
    return type(error).__name__
