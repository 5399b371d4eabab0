"""Scripted personas that answer with OpenAI `tool_calls`, for FakeServer: say vs do tests.

Each is the truthful persona (behaviordbg.personas) with one behaviour changed, so a test knows
exactly which bugs a correct analysis reports:

- `tool_user`: calls the providing tool for every request a declared tool can do (when the
  request offers tools), and after the canned result says it is done; everything else truthful.
  A correct analysis reports nothing.
- `fabricator`: says a request was done without calling anything, for one claim's act prompts.
- `undeclared_caller`: for one claim's act prompts, calls a tool the manifest does not declare
  (`set_alarm` by default) and then says it is done.
- `says_cannot`: the tool user, except that it denies one claim's ability when asked about it
  (in text), while it calls the providing tool when asked to act, also when a question comes
  with tools: "No, I can't browse the web." next to a `web_search` call.

    FakeServer(tool_user(load_suites(), load_manifest("agent-with-tools")))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .personas import Override, Persona, _norm
from .testing import ToolReply, after_tool_result
from .types import Claim, Manifest, Suite, Tool


def _arguments(tool: Tool, prompt: str) -> dict[str, Any]:
    """Arguments for a call: each required parameter gets the request's text (or a time)."""
    props = tool.parameters.get("properties") or {}
    required = tool.parameters.get("required") or list(props)[:1]
    return {str(k): ("07:00" if k == "time" else prompt) for k in required}


class ToolPersona(Persona):
    """The truthful persona, calling tools where the manifest offers one for a request."""

    def __init__(
        self, suites: Sequence[Suite], manifest: Manifest,
        overrides: dict[str, Override] | None = None, *,
        call_on_questions: frozenset[str] = frozenset(),
        undeclared: dict[str, str] | None = None,
        no_call: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(suites, manifest, overrides)
        self.call_on_questions = call_on_questions  # claim ids whose questions also call
        self.undeclared = dict(undeclared or {})  # claim id -> a tool name the manifest lacks
        self.no_call = no_call  # claim ids it never calls a tool for

    def _tool_for(self, claim: Claim) -> Tool | None:
        tools = self.manifest.providers(claim.capability)
        return tools[0] if tools else None

    def __call__(self, prompt: str, body: dict[str, Any], counter: int) -> str | ToolReply:  # type: ignore[override]
        found = self.index.get(_norm(prompt))
        if found is None:
            return super().__call__(prompt, body, counter)
        claim, framing, _ = found
        offered = bool(body.get("tools"))
        if claim.id in self.undeclared and framing == "act":
            if after_tool_result(body):
                return "Done! Your alarm is set for 7am tomorrow."
            name = self.undeclared[claim.id]
            return ToolReply(None, ((name, {"time": "07:00", "label": prompt}),))
        tool = self._tool_for(claim)
        does = framing == "act" and self.stance(claim, prompt.strip(), counter) == "affirm"
        wants_call = claim.id not in self.no_call and tool is not None and offered and (
            does or claim.id in self.call_on_questions)
        if not wants_call or tool is None:
            return super().__call__(prompt, body, counter)
        if after_tool_result(body):  # the canned result came back: report it as done
            if framing == "act":
                return self.reply(prompt, counter).text
            return "Here is what I found."
        text = super().__call__(prompt, body, counter) if framing != "act" else None
        return ToolReply(text, ((tool.name, _arguments(tool, prompt)),))


def tool_user(suites: Sequence[Suite], manifest: Manifest) -> ToolPersona:
    """Truthful, and calls the providing tool for every request a declared tool can do."""
    return ToolPersona(suites, manifest)


def fabricator(suites: Sequence[Suite], manifest: Manifest,
               claim_id: str = "can_set_alarms") -> ToolPersona:
    """The tool user, except that it says `claim_id`'s requests are done, with no call."""
    claim = ToolPersona(suites, manifest).claims[claim_id]
    return ToolPersona(suites, manifest, {p: "affirm" for p in claim.act},
                       no_call=frozenset({claim_id}))


def undeclared_caller(suites: Sequence[Suite], manifest: Manifest,
                      claim_id: str = "can_set_alarms", tool: str = "set_alarm") -> ToolPersona:
    """The tool user, except that `claim_id`'s requests call `tool`, which no manifest here
    declares."""
    return ToolPersona(suites, manifest, undeclared={claim_id: tool})


def says_cannot(suites: Sequence[Suite], manifest: Manifest,
                claim_id: str = "can_browse_web") -> ToolPersona:
    """The tool user, except that it denies `claim_id` whenever asked, and still calls the tool
    that provides it (for requests, and for questions sent with tools)."""
    claim = ToolPersona(suites, manifest).claims[claim_id]
    return ToolPersona(suites, manifest, {p: "deny" for p in claim.ask + claim.ask_negated},
                       call_on_questions=frozenset({claim_id}))
