"""What the fake recorded (REST calls, gateway frames, uploads) and the interactions it sent."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .world import FakeChannel, FakeUser, Json

# --------------------------------------------------------------------------- recorded traffic


@dataclass(frozen=True)
class RecordedFile:
    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class RecordedCall:
    """One REST request the bot made, and what the fake answered."""

    method: str
    path: str  # without the /api/v10 prefix and the query string
    json: Any  # the JSON body, or multipart payload_json, or None
    query: dict[str, str]
    headers: dict[str, str]
    received_at: float  # time.monotonic()
    files: list[RecordedFile] = field(default_factory=list)
    status: int = 0
    response: Any = None

    def matches(self, method: str, pattern: str) -> bool:
        return self.method == method.upper() and re.fullmatch(pattern, self.path) is not None


@dataclass(frozen=True)
class GatewayFrame:
    """One payload the bot sent on the gateway."""

    op: int
    d: Any
    connection: int  # 1 for the first websocket, 2 after the first reconnect, ...
    received_at: float


@dataclass(frozen=True)
class SentInteraction:
    """An INTERACTION_CREATE the test dispatched; paths are regexes for wait_for_call."""

    id: int
    token: str
    application_id: int
    payload: Json

    @property
    def callback_path(self) -> str:
        return re.escape(f"/interactions/{self.id}/{self.token}/callback")

    @property
    def original_path(self) -> str:
        return re.escape(f"/webhooks/{self.application_id}/{self.token}/messages/@original")

    @property
    def followup_path(self) -> str:
        return re.escape(f"/webhooks/{self.application_id}/{self.token}")


@dataclass
class InteractionState:
    id: int
    token: str
    type: int
    user: FakeUser
    channel: FakeChannel
    command_name: str | None
    created_at: float
    response_type: int | None = None
    original_id: int | None = None
    message_ids: set[int] = field(default_factory=set)
    result: Json | None = None  # autocomplete choices sent back by the bot
