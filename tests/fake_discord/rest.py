"""Fake Discord's REST API: routes, message store, interactions and webhooks, fault injection."""

from __future__ import annotations

import json
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .payloads import (
    application_payload,
    attachment_payload,
    channel_payload,
    command_payload,
    file_index,
    member_payload,
    reference_of,
    user_payload,
)
from .records import InteractionState, RecordedCall, RecordedFile
from .world import (
    ALLOWED_CALLBACKS,
    CHANNEL_PUBLIC_THREAD,
    CHANNEL_TEXT,
    MSG_FLAG_EPHEMERAL,
    MSG_FLAG_LOADING,
    MSG_TYPE_CHAT_INPUT_COMMAND,
    MSG_TYPE_DEFAULT,
    MSG_TYPE_REPLY,
    CallbackType,
    FakeChannel,
    FakeUser,
    InteractionType,
    Json,
    iso_now,
    new_snowflake,
)

# --------------------------------------------------------------------------- REST helpers


API_PREFIX = "/api/v10"


@dataclass
class InjectedResponse:
    method: str
    pattern: str
    status: int
    body: Json
    headers: dict[str, str]
    remaining: int


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """discord.py decodes JSON only if Content-Type is exactly application/json."""
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(body=json.dumps(data).encode(), status=status, headers=all_headers)


def error_response(status: int, code: int, message: str, errors: Json | None = None) -> web.Response:
    body: Json = {"message": message, "code": code}
    if errors:
        body["errors"] = errors
    return json_response(body, status)


def no_content() -> web.Response:
    return web.Response(status=204)


def form_error(path: Sequence[str | int], code: str, message: str) -> Json:
    """Nested ``errors`` object as Discord returns it for 50035 Invalid Form Body."""
    node: Json = {"_errors": [{"code": code, "message": message}]}
    for key in reversed(path):
        node = {str(key): node}
    return node


def invalid_form(path: Sequence[str | int], code: str, message: str) -> web.Response:
    return error_response(400, 50035, "Invalid Form Body", form_error(path, code, message))


def _embed_text_length(embed: Json) -> int:
    """Characters that count towards Discord's 6000 per-message embed limit."""
    texts = [embed.get("title"), embed.get("description")]
    texts += [(embed.get("footer") or {}).get("text"), (embed.get("author") or {}).get("name")]
    texts += [part for f in embed.get("fields", []) for part in (f.get("name"), f.get("value"))]
    return sum(len(t) for t in texts if isinstance(t, str))


_EMBED_LIMITS: tuple[tuple[tuple[str, ...], int], ...] = (
    (("title",), 256),
    (("description",), 4096),
    (("footer", "text"), 2048),
    (("author", "name"), 256),
)


def _embed_errors(index: int, embed: Json) -> Json | None:
    for keys, limit in _EMBED_LIMITS:
        value: Any = embed
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, str) and len(value) > limit:
            message = f"Must be {limit} or fewer in length."
            return form_error(["embeds", index, *keys], "BASE_TYPE_MAX_LENGTH", message)
    for f_index, fld in enumerate(embed.get("fields", [])):
        if len(fld.get("name", "")) > 256 or len(fld.get("value", "")) > 1024:
            return form_error(["embeds", index, "fields", f_index], "BASE_TYPE_MAX_LENGTH", "Field too long.")
    if len(embed.get("fields", [])) > 25:
        return form_error(["embeds", index, "fields"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    return None


def validate_message_body(body: Json, *, creating: bool, has_files: bool) -> web.Response | None:
    """The subset of Discord's message validation that bots commonly trip over."""
    content = body.get("content") or ""
    embeds = body.get("embeds") or []
    if len(content) > 2000:
        return invalid_form(["content"], "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
    if len(embeds) > 10:
        return invalid_form(["embeds"], "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    for index, embed in enumerate(embeds):
        errors = _embed_errors(index, embed)
        if errors:
            return error_response(400, 50035, "Invalid Form Body", errors)
    if sum(_embed_text_length(e) for e in embeds) > 6000:
        return invalid_form(["embeds"], "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
    has_payload = content or embeds or body.get("components") or body.get("sticker_ids") or body.get("poll")
    if creating and not has_payload and not has_files:
        return error_response(400, 50006, "Cannot send an empty message")
    return None


async def read_body(request: web.Request) -> tuple[Any, list[RecordedFile]]:
    """JSON body, or a multipart body's payload_json plus its files."""
    if request.content_type == "multipart/form-data":
        form = await request.post()
        files = [
            RecordedFile(name, value.filename, value.content_type, value.file.read())
            for name, value in form.items()
            if isinstance(value, web.FileField)
        ]
        raw = form.get("payload_json")
        return (_loads_or_text(raw) if isinstance(raw, str) else None), files
    if not request.can_read_body:
        return None, []
    return _loads_or_text(await request.text()), []


def _loads_or_text(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError:
        return text


RestHandler = Callable[["RecordedCall", dict[str, str]], Awaitable[web.Response]]


@dataclass(frozen=True)
class _RestRoute:
    method: str
    pattern: re.Pattern[str]
    handler: RestHandler
    needs_auth: bool


def _compile(template: str) -> re.Pattern[str]:
    """'/channels/{channel_id}/messages' -> a regex with named groups."""
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return re.compile(regex)


class RestApi:
    """REST half of FakeDiscord (state lives in FakeDiscord.__init__)."""

    # ----------------------------------------------------------------- fault injection

    def fail_once(
        self,
        method: str,
        pattern: str,
        status: int,
        body: Json,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` matching calls with this status/body instead of handling them."""
        injected = InjectedResponse(method.upper(), pattern, status, body, dict(headers or {}), times)
        self._injected.append(injected)

    def rate_limit_once(self, method: str, pattern: str, *, retry_after: float = 0.1, is_global: bool = False) -> None:
        """Answer the next matching call with a 429 that discord.py will sleep on and retry."""
        reset = time.time() + retry_after
        headers = {
            "Retry-After": str(math.ceil(retry_after)),
            "Via": "1.1 google",
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{reset:.3f}",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Scope": "global" if is_global else "user",
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        else:
            headers["X-RateLimit-Bucket"] = secrets.token_hex(16)
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global}
        self.fail_once(method, pattern, 429, body, headers)

    def _take_injected(self, call: RecordedCall) -> web.Response | None:
        for injected in self._injected:
            if injected.remaining > 0 and call.matches(injected.method, injected.pattern):
                injected.remaining -= 1
                return json_response(injected.body, injected.status, injected.headers)
        return None

    # ----------------------------------------------------------------- REST dispatch

    def _build_routes(self) -> list[_RestRoute]:
        table: list[tuple[str, str, RestHandler, bool]] = [
            ("GET", "/users/@me", self._get_me, True),
            ("GET", "/users/{user_id}", self._get_user, True),
            ("POST", "/users/@me/channels", self._create_dm, True),
            ("GET", "/oauth2/applications/@me", self._get_application, True),
            ("GET", "/applications/@me", self._get_application, True),
            ("PUT", "/applications/{app_id}/commands", self._put_commands, True),
            ("PUT", "/applications/{app_id}/guilds/{guild_id}/commands", self._put_commands, True),
            ("POST", "/channels/{channel_id}/typing", self._typing, True),
            ("POST", "/channels/{channel_id}/messages", self._create_message, True),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self._edit_message, True),
            ("POST", "/channels/{channel_id}/messages/{message_id}/threads", self._start_thread, True),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self._interaction_callback, False),
            ("POST", "/webhooks/{app_id}/{token}", self._followup, False),
            ("PATCH", "/webhooks/{app_id}/{token}/messages/{message_id}", self._edit_webhook_message, False),
        ]
        return [_RestRoute(m, _compile(p), h, auth) for m, p, h, auth in table]

    async def _handle_rest(self, request: web.Request) -> web.Response:
        received = time.monotonic()
        body, files = await read_body(request)
        path = request.path[len(API_PREFIX) :]
        call = RecordedCall(request.method, path, body, dict(request.query), dict(request.headers), received, files)
        response = self._take_injected(call) or await self._route(call, request)
        call.status = response.status
        call.response = json.loads(response.body) if response.body else None
        self.calls.append(call)
        self._notify()
        return response

    async def _route(self, call: RecordedCall, request: web.Request) -> web.Response:
        for route in self._routes:
            match = route.pattern.fullmatch(call.path)
            if route.method != call.method or match is None:
                continue
            if route.needs_auth and request.headers.get("Authorization") != f"Bot {self.token}":
                return error_response(401, 0, "401: Unauthorized")
            return await route.handler(call, match.groupdict())
        return error_response(404, 0, "404: Not Found")

    # ----------------------------------------------------------------- REST: users, gateway, application

    async def _get_me(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        return json_response({**user_payload(self.world.bot), "verified": True, "mfa_enabled": False})

    async def _get_user(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        user = self.world.user(int(p["user_id"])) if p["user_id"].isdigit() else None
        return json_response(user_payload(user)) if user else error_response(404, 10013, "Unknown User")

    async def _create_dm(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        user = self.world.user(int((call.json or {}).get("recipient_id", 0)))
        if user is None:
            return invalid_form(["recipient_id"], "INVALID", "Unknown user")
        return json_response(channel_payload(self.world.dm_channel(user)))

    async def _get_application(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        return json_response(application_payload(self.world))

    # ----------------------------------------------------------------- REST: application commands

    async def _put_commands(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        guild_id = int(p["guild_id"]) if "guild_id" in p else None
        old = self.commands.get(guild_id, {})
        new: dict[str, Json] = {}
        for command in call.json or []:
            existing = old.get(command["name"])
            command_id = int(existing["id"]) if existing else new_snowflake()
            new[command["name"]] = command_payload(command, self.application_id, guild_id, command_id)
        self.commands[guild_id] = new
        return json_response(list(new.values()))

    # ----------------------------------------------------------------- REST: guilds and channels

    def _channel_or_none(self, raw_id: str) -> FakeChannel | None:
        return self.world.find_channel(int(raw_id)) if raw_id.isdigit() else None

    async def _typing(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        if self._channel_or_none(p["channel_id"]) is None:
            return error_response(404, 10003, "Unknown Channel")
        return no_content()

    def _message_in(self, p: dict[str, str]) -> Json | None:
        message = self.messages.get(int(p["message_id"])) if p["message_id"].isdigit() else None
        return message if message and message["channel_id"] == p["channel_id"] else None

    async def _create_message(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        channel = self._channel_or_none(p["channel_id"])
        if channel is None:
            return error_response(404, 10003, "Unknown Channel")
        body: Json = call.json or {}
        invalid = validate_message_body(body, creating=True, has_files=bool(call.files))
        if invalid:
            return invalid
        reference, error = self._resolve_reference(body.get("message_reference"))
        if error:
            return error
        message = self._new_message(channel, self.world.bot, body, call.files, reference=reference)
        await self._echo("MESSAGE_CREATE", message)
        return json_response(message)

    async def _start_thread(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        """A public thread on a message: its id is the message's; THREAD_CREATE follows."""
        channel, message = self._channel_or_none(p["channel_id"]), self._message_in(p)
        if channel is None or message is None:
            return error_response(404, 10008, "Unknown Message")
        if channel.guild_id is None or channel.type != CHANNEL_TEXT:
            return error_response(400, 50024, "Cannot execute action on this channel type")
        name = str((call.json or {}).get("name") or "")
        if not 1 <= len(name) <= 100:
            return invalid_form(["name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        if self.world.find_channel(int(message["id"])) is not None:
            return error_response(400, 160004, "A thread has already been created for this message")
        thread = FakeChannel(
            int(message["id"]),
            name,
            channel.guild_id,
            CHANNEL_PUBLIC_THREAD,
            parent_id=channel.id,
            owner_id=self.world.bot.id,
        )
        self.guild.threads.append(thread)
        message["thread"] = channel_payload(thread)
        await self._dispatch("THREAD_CREATE", {**channel_payload(thread), "newly_created": True})
        return json_response(channel_payload(thread))

    def _resolve_reference(self, ref: Json | None) -> tuple[Json | None, web.Response | None]:
        if not ref:
            return None, None
        target = self.messages.get(int(ref.get("message_id", 0)))
        if target is None and ref.get("fail_if_not_exists", True):
            return None, invalid_form(["message_reference"], "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
        return target, None

    async def _edit_message(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        message = self._message_in(p)
        if message is None:
            return error_response(404, 10008, "Unknown Message")
        if message["author"]["id"] != str(self.world.bot.id):
            return error_response(403, 50005, "Cannot edit a message authored by another user")
        invalid = validate_message_body(call.json or {}, creating=False, has_files=bool(call.files))
        if invalid:
            return invalid
        self._apply_edit(message, call.json or {}, call.files)
        await self._echo("MESSAGE_UPDATE", message)
        return json_response(message)

    # ----------------------------------------------------------------- REST: interactions and webhooks

    async def _interaction_callback(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        state = self._interactions.get(int(p["interaction_id"])) if p["interaction_id"].isdigit() else None
        if state is None or state.token != p["token"] or self._expired(state):
            return error_response(404, 10062, "Unknown interaction")
        if state.response_type is not None:
            return error_response(400, 40060, "Interaction has already been acknowledged.")
        body: Json = call.json or {}
        response_type, data = body.get("type"), body.get("data") or {}
        if response_type not in ALLOWED_CALLBACKS[state.type]:
            return invalid_form(["type"], "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid response type")
        if response_type in (CallbackType.CHANNEL_MESSAGE, CallbackType.UPDATE_MESSAGE):
            invalid = validate_message_body(data, creating=response_type == 4, has_files=bool(call.files))
            if invalid:
                return invalid
        state.response_type = response_type
        message = await self._apply_callback(state, response_type, data, call.files)
        return json_response(self._callback_result(state, response_type, message))

    def _expired(self, state: InteractionState) -> bool:
        deadline = self.interaction_deadline
        return deadline is not None and time.monotonic() - state.created_at > deadline

    async def _apply_callback(
        self, state: InteractionState, rtype: int, data: Json, files: list[RecordedFile]
    ) -> Json | None:
        if rtype == CallbackType.CHANNEL_MESSAGE:
            return await self._interaction_message(state, data, files, original=True)
        if rtype == CallbackType.DEFERRED_CHANNEL_MESSAGE:
            flags = MSG_FLAG_LOADING | (data.get("flags", 0) & MSG_FLAG_EPHEMERAL)
            return await self._interaction_message(state, {"flags": flags}, [], original=True)
        if rtype == CallbackType.UPDATE_MESSAGE and state.original_id in self.messages:
            message = self.messages[state.original_id]
            self._apply_edit(message, data, files)
            await self._echo("MESSAGE_UPDATE", message)
            return message
        if rtype == CallbackType.AUTOCOMPLETE_RESULT:
            state.result = data
        return None

    def _callback_result(self, state: InteractionState, rtype: int, message: Json | None) -> Json:
        interaction: Json = {
            "id": str(state.id),
            "type": state.type,
            "response_message_loading": rtype == CallbackType.DEFERRED_CHANNEL_MESSAGE,
            "response_message_ephemeral": bool(message and message["flags"] & MSG_FLAG_EPHEMERAL),
        }
        resource: Json = {"type": rtype}
        if message is not None:
            interaction["response_message_id"] = message["id"]
            resource["message"] = message
        return {"interaction": interaction, "resource": resource}

    def _webhook_state(self, p: dict[str, str]) -> InteractionState | None:
        if p["app_id"] != str(self.application_id):
            return None
        return next((s for s in self._interactions.values() if s.token == p["token"]), None)

    def _webhook_message(self, p: dict[str, str]) -> tuple[InteractionState | None, Json | None]:
        state = self._webhook_state(p)
        if state is None:
            return None, None
        raw = p["message_id"]
        message_id = state.original_id if raw == "@original" else int(raw) if raw.isdigit() else None
        if message_id is None or (raw != "@original" and message_id not in state.message_ids):
            return state, None
        return state, self.messages.get(message_id)

    async def _followup(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        state = self._webhook_state(p)
        if state is None or state.response_type is None:
            return error_response(404, 10015, "Unknown Webhook")
        body: Json = call.json or {}
        invalid = validate_message_body(body, creating=True, has_files=bool(call.files))
        if invalid:
            return invalid
        message = await self._interaction_message(state, body, call.files, original=False)
        return json_response(message) if call.query.get("wait") in ("1", "true", "True") else no_content()

    async def _edit_webhook_message(self, call: RecordedCall, p: dict[str, str]) -> web.Response:
        state, message = self._webhook_message(p)
        if state is None:
            return error_response(404, 10015, "Unknown Webhook")
        if message is None:
            return error_response(404, 10008, "Unknown Message")
        invalid = validate_message_body(call.json or {}, creating=False, has_files=bool(call.files))
        if invalid:
            return invalid
        self._apply_edit(message, call.json or {}, call.files)
        message["flags"] &= ~MSG_FLAG_LOADING
        await self._echo("MESSAGE_UPDATE", message)
        return json_response(message)

    # ----------------------------------------------------------------- message store

    def _new_message(
        self,
        channel: FakeChannel,
        author: FakeUser,
        body: Json,
        files: Sequence[RecordedFile] = (),
        *,
        reference: Json | None = None,
        extra: Json | None = None,
    ) -> Json:
        message: Json = {
            "id": str(new_snowflake()),
            "channel_id": str(channel.id),
            "author": user_payload(author),
            "content": body.get("content") or "",
            "timestamp": iso_now(),
            "edited_timestamp": None,  # required key
            "tts": bool(body.get("tts", False)),
            "mention_everyone": False,
            "mentions": self._mentions(channel, body.get("content") or "", ()),
            "mention_roles": [],
            "attachments": self._attachments(channel.id, body, files),
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "type": MSG_TYPE_DEFAULT,
            "flags": body.get("flags", 0) or 0,
        }
        if channel.guild_id is not None:
            message["guild_id"] = str(channel.guild_id)
        if "nonce" in body:
            message["nonce"] = body["nonce"]
        if reference is not None:
            message["type"] = MSG_TYPE_REPLY
            message["message_reference"] = reference_of(reference)
            message["referenced_message"] = {k: v for k, v in reference.items() if k != "referenced_message"}
        message.update(extra or {})
        self.messages[int(message["id"])] = message
        return message

    def _mentions(self, channel: FakeChannel, content: str, explicit: Sequence[FakeUser]) -> list[Json]:
        ids = {int(i) for i in re.findall(r"<@!?(\d+)>", content)} | {u.id for u in explicit}
        users = [u for u in self.world.users() if u.id in ids]
        return [self._user_with_member(channel, u) for u in users]

    def _user_with_member(self, channel: FakeChannel, user: FakeUser) -> Json:
        data = user_payload(user)
        member = self.guild.member(user.id) if channel.guild_id == self.guild.id else None
        if member is not None:
            data["member"] = member_payload(member, with_user=False)
        return data

    def _attachments(self, channel_id: int, body: Json, files: Sequence[RecordedFile]) -> list[Json]:
        described = {str(a.get("id")): a.get("description") for a in body.get("attachments") or []}
        uploaded = [attachment_payload(channel_id, f, described.get(file_index(f))) for f in files]
        kept = [a for a in body.get("attachments") or [] if "url" in a]
        return kept + uploaded

    def _apply_edit(self, message: Json, body: Json, files: Sequence[RecordedFile]) -> None:
        for key in ("content", "embeds", "components"):
            if key in body:
                message[key] = body[key] if body[key] is not None else ("" if key == "content" else [])
        if "flags" in body and body["flags"] is not None:
            message["flags"] = (message["flags"] & (MSG_FLAG_EPHEMERAL | MSG_FLAG_LOADING)) | body["flags"]
        if "attachments" in body or files:
            keep_ids = {str(a.get("id")) for a in body.get("attachments") or []}
            kept = [a for a in message["attachments"] if a["id"] in keep_ids]
            uploaded = self._attachments(int(message["channel_id"]), {"attachments": []}, files)
            message["attachments"] = kept + uploaded
        message["edited_timestamp"] = iso_now()

    async def _interaction_message(
        self, state: InteractionState, body: Json, files: Sequence[RecordedFile], *, original: bool
    ) -> Json:
        is_command = state.type == InteractionType.APPLICATION_COMMAND
        metadata: Json = {
            "id": str(state.id),
            "type": state.type,
            "user": user_payload(state.user),
            "authorizing_integration_owners": self._integration_owners(state.channel),
        }
        if is_command and state.command_name:
            metadata["name"] = state.command_name
        extra: Json = {
            "webhook_id": str(self.application_id),
            "application_id": str(self.application_id),
            "type": MSG_TYPE_CHAT_INPUT_COMMAND if is_command else MSG_TYPE_DEFAULT,
            "interaction_metadata": metadata,
        }
        message = self._new_message(state.channel, self.world.bot, body, files, extra=extra)
        state.message_ids.add(int(message["id"]))
        if original:
            state.original_id = int(message["id"])
        if not message["flags"] & MSG_FLAG_EPHEMERAL:
            await self._echo("MESSAGE_CREATE", message)
        return message
