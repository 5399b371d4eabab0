"""Probing with tools: which queries are offered the deployment's tools, and the second turn.

A manifest that declares tools (OpenAI function schemas) makes a probe run send them, with
`tool_choice: auto`, on its `act` requests (and on its questions too with `tools_on_questions`),
so the run observes what the model *does*, not only what it says it did. When an answer calls
tools, each call gets the tool's canned result (declared in the manifest; a call of a tool the
manifest does not declare gets an error result) in a second turn, and the model's final reply is
stored too. One second turn only: a reply that calls tools again is stored as it is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..types import Framing, GenParams, Manifest, ToolCall

if TYPE_CHECKING:
    from ..client import ModelClient

UNDECLARED_RESULT = '{"error": "no such tool in this deployment"}'


def tool_framings(manifest: Manifest, on_questions: bool) -> frozenset[Framing]:
    """The framings sent with tools: none without tools, `act`, or every framing."""
    if not manifest.tools:
        return frozenset()
    return frozenset(("direct", "negated", "act")) if on_questions else frozenset(("act",))


def request_tools(manifest: Manifest) -> list[dict[str, Any]]:
    """The `tools` list of a request: every tool the deployment offers."""
    return [t.openai() for t in manifest.tools]


def key_tools(manifest: Manifest) -> list[dict[str, Any]]:
    """What the cache key holds of the tools: their schemas and canned results (both shape the
    answers stored under the key)."""
    return [{**t.openai(), "provides": list(t.provides), "result": t.result}
            for t in manifest.tools]


def extra_body(manifest: Manifest) -> dict[str, Any]:
    return {"tools": request_tools(manifest), "tool_choice": "auto"}


def result_for(manifest: Manifest, call: ToolCall) -> str:
    tool = manifest.tool(call.name)
    return tool.result if tool is not None else UNDECLARED_RESULT


def follow_up(
    messages: Sequence[dict[str, Any]], text: str, raw_calls: Sequence[dict[str, Any]],
    calls: Sequence[ToolCall], manifest: Manifest,
) -> list[dict[str, Any]]:
    """The conversation of the second turn: the question, the answer with its calls, and one
    `tool` message per call with the canned result."""
    ids = [c.id or f"call_{i}" for i, c in enumerate(calls)]
    assistant_calls = []
    for i, (raw, call) in enumerate(zip(raw_calls, calls)):
        assistant_calls.append({
            "id": ids[i], "type": "function",
            "function": {"name": call.name, "arguments": call.arguments},
        } if not raw.get("id") else {**raw, "type": raw.get("type") or "function"})
    out = [dict(m) for m in messages]
    out.append({"role": "assistant", "content": text or None, "tool_calls": assistant_calls})
    for i, call in enumerate(calls):
        out.append({"role": "tool", "tool_call_id": ids[i], "name": call.name,
                    "content": result_for(manifest, call)})
    return out


async def final_reply(
    client: ModelClient, params: GenParams, messages: Sequence[dict[str, Any]], text: str,
    raw_calls: Sequence[dict[str, Any]], calls: Sequence[ToolCall], manifest: Manifest,
) -> str | None:
    """The model's reply once the calls' canned results came back; None when that request
    failed (the answer and its calls are kept either way)."""
    from ..client import RequestFailed

    convo = follow_up(messages, text, raw_calls, calls, manifest)
    try:
        result = await client.chat(convo, model=params.model, temperature=params.temperature,
                                   max_tokens=params.max_tokens, extra=extra_body(manifest))
    except RequestFailed:
        return None
    return result.texts[0] if result.texts else None


def calls_json(calls: Sequence[ToolCall]) -> list[dict[str, str]]:
    return [{"name": c.name, "arguments": c.arguments, "id": c.id} for c in calls]


def dumps_calls(calls: Sequence[ToolCall]) -> str:
    return json.dumps(calls_json(calls), ensure_ascii=False)
