"""What the bot remembers in the archive database: conversations, answers and their votes, topic
follows, and per-server settings. One class per kind owns its SQL; `create_bot_tables` is the one
place the tables are made: numbered migrations (set "newsbot.bot"), like the archive's own.

Every method takes the archive's lock: the bot calls them from its worker threads, and the archive
has one SQLite connection."""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlite_utils
from sqlite_utils.migrations import Migrations

from index.archive import Archive
from index.store import now_iso

MAX_TURNS = 6  # per conversation: enough for "and then?" chains, small enough to stay cheap
MAX_CONVERSATIONS = 2000  # the oldest are forgotten beyond this
VOTES = ("up", "down")
REASONS = {
    "wrong_article": "Wrong article",
    "wrong_sentence": "Wrong sentence quoted",
    "outdated": "Outdated",
    "other": "Something else",
}

BOT_SCHEMA = """
CREATE TABLE IF NOT EXISTS bot_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS conversation_turns (
    id INTEGER PRIMARY KEY,
    conversation TEXT NOT NULL,
    question TEXT NOT NULL,
    query TEXT NOT NULL,
    filters TEXT NOT NULL,
    cited TEXT NOT NULL,
    asked_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS conversation_turns_by ON conversation_turns(conversation, id);
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL UNIQUE,
    question TEXT NOT NULL,
    as_of TEXT,
    cited_urls TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS votes (
    answer_id INTEGER NOT NULL REFERENCES answers(id),
    user_hash TEXT NOT NULL,
    vote TEXT NOT NULL CHECK (vote IN ('up', 'down')),
    reason TEXT,
    voted_at TEXT NOT NULL,
    PRIMARY KEY (answer_id, user_hash)
);
CREATE TABLE IF NOT EXISTS follows (
    id INTEGER PRIMARY KEY,
    target_kind TEXT NOT NULL CHECK (target_kind IN ('channel', 'user')),
    target_id INTEGER NOT NULL,
    topic TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (target_kind, target_id, topic)
);
CREATE TABLE IF NOT EXISTS follow_posts (
    follow_id INTEGER NOT NULL REFERENCES follows(id) ON DELETE CASCADE,
    article_id INTEGER NOT NULL,
    posted_at TEXT NOT NULL,
    PRIMARY KEY (follow_id, article_id)
);
CREATE TABLE IF NOT EXISTS guild_settings (
    guild_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (guild_id, key)
);
"""


bot_migrations = Migrations("newsbot.bot")  # beside the archive's own set, in the same database


@bot_migrations(name="m001_bot_tables")
def m001_bot_tables(db: sqlite_utils.Database) -> None:
    # IF NOT EXISTS: files whose tables predate migrations simply record this one as applied
    for statement in BOT_SCHEMA.split(";"):  # one by one: executescript would commit the migration's transaction
        if statement.strip():
            db.execute(statement)


def create_bot_tables(db: sqlite_utils.Database) -> None:
    """The bot's tables, as numbered migrations (the one place they are created or changed)."""
    bot_migrations.apply(db)


class _Tables:
    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.lock: threading.RLock = archive.lock
        with self.lock:
            create_bot_tables(self.db)

    @property
    def db(self) -> sqlite_utils.Database:
        # looked up each time: the archive reopens its database after an external rebuild
        return self.archive.store.db


# --------------------------------------------------------------------------- conversations


@dataclass
class Cited:
    url: str | None
    title: str | None
    published: str | None


@dataclass
class Turn:
    """One question of a conversation: what was asked, what was searched, with which filters, what it cited."""

    question: str
    query: str
    filters: dict[str, Any] = field(default_factory=dict)  # since, until, outlets, as_of (ISO), window
    cited: list[Cited] = field(default_factory=list)


class Conversations(_Tables):
    """Turns per conversation (a Discord thread or DM, or the terminal), the last MAX_TURNS kept."""

    def turns(self, conversation: str) -> list[Turn]:
        with self.lock:
            rows = self.db.execute(
                "SELECT question, query, filters, cited FROM conversation_turns WHERE conversation = ? ORDER BY id",
                [conversation],
            ).fetchall()
        return [Turn(q, s, json.loads(f), [Cited(**c) for c in json.loads(c_)]) for q, s, f, c_ in rows]

    def add(self, conversation: str, turn: Turn) -> None:
        cited = json.dumps([c.__dict__ for c in turn.cited])
        with self.lock, self.db.conn:
            self.db.execute(
                "INSERT INTO conversation_turns (conversation, question, query, filters, cited, asked_at) VALUES (?, ?, ?, ?, ?, ?)",
                [conversation, turn.question, turn.query, json.dumps(turn.filters), cited, now_iso()],
            )
            self._trim(conversation)

    def _trim(self, conversation: str) -> None:
        self.db.execute(
            "DELETE FROM conversation_turns WHERE conversation = ? AND id NOT IN "
            "(SELECT id FROM conversation_turns WHERE conversation = ? ORDER BY id DESC LIMIT ?)",
            [conversation, conversation, MAX_TURNS],
        )
        self.db.execute(
            "DELETE FROM conversation_turns WHERE conversation IN (SELECT conversation FROM conversation_turns "
            "GROUP BY conversation ORDER BY max(id) DESC LIMIT -1 OFFSET ?)",
            [MAX_CONVERSATIONS],
        )

    def reset(self, conversation: str) -> None:
        with self.lock, self.db.conn:
            self.db.execute("DELETE FROM conversation_turns WHERE conversation = ?", [conversation])

    def count(self) -> int:
        with self.lock:
            return self.db.execute("SELECT count(DISTINCT conversation) FROM conversation_turns").fetchone()[0]


# --------------------------------------------------------------------------- feedback


@dataclass
class VoteRecord:
    question: str
    as_of: str | None
    cited_urls: list[str]
    vote: str
    reason: str | None
    user_hash: str
    voted_at: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Feedback(_Tables):
    """Answers the bot posted (by message id) and the votes on them: one per user per answer, changeable."""

    def __init__(self, archive: Archive) -> None:
        super().__init__(archive)
        self._salt_value: str | None = None

    def record_answer(self, message_id: int, question: str, as_of: str | None, cited_urls: list[str]) -> None:
        with self.lock, self.db.conn:
            self.db.execute(
                "INSERT OR REPLACE INTO answers (message_id, question, as_of, cited_urls, created_at) VALUES (?, ?, ?, ?, ?)",
                [message_id, question, as_of, json.dumps(cited_urls), now_iso()],
            )

    def knows(self, message_id: int) -> bool:
        with self.lock:
            return self.db.execute("SELECT 1 FROM answers WHERE message_id = ?", [message_id]).fetchone() is not None

    def user_hash(self, user_id: int) -> str:
        """A salted hash: votes can be told apart per user, but not traced back to one."""
        return hashlib.sha256(f"{self._salt()}:{user_id}".encode()).hexdigest()[:32]

    def _salt(self) -> str:
        if self._salt_value is None:
            with self.lock, self.db.conn:
                self.db.execute(
                    "INSERT OR IGNORE INTO bot_meta (key, value) VALUES ('vote_salt', ?)", [secrets.token_hex(16)]
                )
                self._salt_value = self.db.execute("SELECT value FROM bot_meta WHERE key = 'vote_salt'").fetchone()[0]
        return self._salt_value

    def vote(self, message_id: int, user_id: int, vote: str, reason: str | None = None) -> bool:
        """Records (or changes) the user's vote on the answer in that message; False if it is no known answer."""
        if vote not in VOTES or (reason is not None and reason not in REASONS):
            raise ValueError(f"not a vote: {vote!r} {reason!r}")
        user = self.user_hash(user_id)
        with self.lock, self.db.conn:
            row = self.db.execute("SELECT id FROM answers WHERE message_id = ?", [message_id]).fetchone()
            if row is None:
                return False
            self.db.execute(
                "INSERT INTO votes (answer_id, user_hash, vote, reason, voted_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (answer_id, user_hash) DO UPDATE SET vote = excluded.vote, reason = excluded.reason, "
                "voted_at = excluded.voted_at",
                [row[0], user, vote, reason, now_iso()],
            )
        return True

    def set_reason(self, message_id: int, user_id: int, reason: str) -> bool:
        """The reason for the user's 👎; False when they have no 👎 on that answer."""
        return self.vote(message_id, user_id, "down", reason) if self._has_down(message_id, user_id) else False

    def _has_down(self, message_id: int, user_id: int) -> bool:
        user = self.user_hash(user_id)
        with self.lock:
            return (
                self.db.execute(
                    "SELECT 1 FROM votes v JOIN answers a ON a.id = v.answer_id WHERE a.message_id = ? AND v.user_hash = ? AND v.vote = 'down'",
                    [message_id, user],
                ).fetchone()
                is not None
            )

    def counts(self) -> dict[str, int]:
        with self.lock:
            found = dict(self.db.execute("SELECT vote, count(*) FROM votes GROUP BY vote").fetchall())
        return {vote: found.get(vote, 0) for vote in VOTES}

    def records(self) -> list[VoteRecord]:
        with self.lock:
            rows = self.db.execute(
                "SELECT a.question, a.as_of, a.cited_urls, v.vote, v.reason, v.user_hash, v.voted_at "
                "FROM votes v JOIN answers a ON a.id = v.answer_id ORDER BY v.voted_at, a.id"
            ).fetchall()
        return [
            VoteRecord(q, as_of, json.loads(urls), vote, reason, user, at)
            for q, as_of, urls, vote, reason, user, at in rows
        ]


# --------------------------------------------------------------------------- follows


@dataclass
class Follow:
    id: int
    target_kind: str  # "channel" (posted there) or "user" (by DM)
    target_id: int
    topic: str


class Follows(_Tables):
    """Topic subscriptions of channels and people, and which articles were posted to each."""

    def add(self, target_kind: str, target_id: int, topic: str) -> bool:
        """False when that target already follows the topic."""
        with self.lock, self.db.conn:
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO follows (target_kind, target_id, topic, created_at) VALUES (?, ?, ?, ?)",
                [target_kind, target_id, topic, now_iso()],
            )
            return cursor.rowcount == 1

    def remove(self, target_kind: str, target_id: int, topic: str) -> bool:
        with self.lock, self.db.conn:
            follow = self.db.execute(
                "SELECT id FROM follows WHERE target_kind = ? AND target_id = ? AND topic = ?",
                [target_kind, target_id, topic],
            ).fetchone()
            if follow is None:
                return False
            self.db.execute("DELETE FROM follow_posts WHERE follow_id = ?", [follow[0]])
            self.db.execute("DELETE FROM follows WHERE id = ?", [follow[0]])
            return True

    def of(self, target_kind: str, target_id: int) -> list[Follow]:
        with self.lock:
            rows = self.db.execute(
                "SELECT id, target_kind, target_id, topic FROM follows WHERE target_kind = ? AND target_id = ? ORDER BY topic",
                [target_kind, target_id],
            ).fetchall()
        return [Follow(*row) for row in rows]

    def all(self) -> list[Follow]:
        with self.lock:
            rows = self.db.execute("SELECT id, target_kind, target_id, topic FROM follows ORDER BY id").fetchall()
        return [Follow(*row) for row in rows]

    def posted_since(self, follow_id: int, since: datetime) -> int:
        with self.lock:
            return self.db.execute(
                "SELECT count(*) FROM follow_posts WHERE follow_id = ? AND posted_at >= ?",
                [follow_id, since.astimezone(timezone.utc).isoformat()],
            ).fetchone()[0]

    def was_posted(self, follow_id: int, article_id: int) -> bool:
        with self.lock:
            return (
                self.db.execute(
                    "SELECT 1 FROM follow_posts WHERE follow_id = ? AND article_id = ?", [follow_id, article_id]
                ).fetchone()
                is not None
            )

    def record_post(self, follow_id: int, article_id: int, at: datetime | None = None) -> None:
        moment = (at or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat()
        with self.lock, self.db.conn:
            self.db.execute(
                "INSERT OR IGNORE INTO follow_posts (follow_id, article_id, posted_at) VALUES (?, ?, ?)",
                [follow_id, article_id, moment],
            )

    def room_this_hour(self, follow_id: int, per_hour: int, now: datetime | None = None) -> int:
        """How many more posts this follow may have in the hour up to `now`."""
        now = now or datetime.now(timezone.utc)
        return max(0, per_hour - self.posted_since(follow_id, now - timedelta(hours=1)))


# --------------------------------------------------------------------------- per-server settings


class GuildSettings(_Tables):
    """Ask-channels and the announce channel set with /config; the environment's are the defaults."""

    def ask_channels(self) -> dict[int, set[int]]:
        """guild id → its ask-channel ids."""
        with self.lock:
            rows = self.db.execute("SELECT guild_id, value FROM guild_settings WHERE key = 'ask_channels'").fetchall()
        return {guild: set(json.loads(value)) for guild, value in rows}

    def set_ask_channels(self, guild_id: int, channel_ids: set[int]) -> None:
        self._set(guild_id, "ask_channels", json.dumps(sorted(channel_ids)))

    def announce_channels(self) -> dict[int, int]:
        """guild id → its announce channel id."""
        with self.lock:
            rows = self.db.execute(
                "SELECT guild_id, value FROM guild_settings WHERE key = 'announce_channel'"
            ).fetchall()
        return {guild: int(value) for guild, value in rows}

    def set_announce_channel(self, guild_id: int, channel_id: int | None) -> None:
        if channel_id is None:
            with self.lock, self.db.conn:
                self.db.execute(
                    "DELETE FROM guild_settings WHERE guild_id = ? AND key = 'announce_channel'", [guild_id]
                )
            return
        self._set(guild_id, "announce_channel", str(channel_id))

    def _set(self, guild_id: int, key: str, value: str) -> None:
        with self.lock, self.db.conn:
            self.db.execute(
                "INSERT INTO guild_settings (guild_id, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (guild_id, key) DO UPDATE SET value = excluded.value",
                [guild_id, key, value],
            )


class BotState:
    """The four stores on one archive, made together (so their tables are created once)."""

    def __init__(self, archive: Archive) -> None:
        self.conversations = Conversations(archive)
        self.feedback = Feedback(archive)
        self.follows = Follows(archive)
        self.guilds = GuildSettings(archive)
