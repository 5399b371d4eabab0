"""Tool calls, unit by unit: manifest `tools:` (loading, validation), the client reading
`tool_calls`, the cache key, verdicts read from calls, the three tool-call contradictions, and how
a call is shown (escaped) in evidence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from behaviordbg.analysis.bugs import fingerprint, title, to_bugs
from behaviordbg.analysis.graph import find_contradictions
from behaviordbg.analysis.tool_calls import CALL_JUDGE, call_stances, needs_a_tool
from behaviordbg.cache import probe_key
from behaviordbg.client import _parse_chat_body, _tool_calls_of
from behaviordbg.errors import SuiteErrors
from behaviordbg.export.markdown import ticket
from behaviordbg.suites import check_manifest, load_manifest, load_suites
from behaviordbg.types import (
    Answer,
    Evidence,
    GenParams,
    Message,
    Stance,
    ToolCall,
    evidence_from_dict,
    shown_answer,
    to_dict,
)

PROBES = Path(__file__).resolve().parents[1] / "probes"
AGENT = PROBES / "manifests" / "agent-with-tools.yaml"


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "m.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_shipped_agent_manifest_declares_real_schemas_for_its_capabilities() -> None:
    m = load_manifest(str(AGENT))
    names = {t.name for t in m.tools}
    assert {"web_search", "set_reminder", "send_email", "read_file", "run_python",
            "get_current_time"} <= names
    for cap, has in m.capabilities.items():
        # every capability the agent has is exercised by some tool; none it lacks is
        assert bool(m.providers(cap)) == has, cap
    for t in m.tools:
        schema = t.openai()
        assert schema["type"] == "function" and schema["function"]["name"] == t.name
        assert schema["function"]["parameters"]["type"] == "object"
        json.loads(t.result)  # a mapping in YAML is sent as JSON
    assert check_manifest(m, load_suites([PROBES])) == []


def test_tool_provides_makes_capability_true_unless_said(tmp_path: Path) -> None:
    m = load_manifest(_write(tmp_path, """manifest: t
tools:
  - function: {name: set_alarm}
    provides: [alarms]
"""))
    assert m.capabilities["alarms"] is True and m.tools[0].result == '{"status": "ok"}'


def test_bad_tools_are_reported_with_line_and_fix(tmp_path: Path) -> None:
    with pytest.raises(SuiteErrors) as err:
        load_manifest(_write(tmp_path, """manifest: t
tools:
  - function: {name: "set alarm"}
    provides: []
"""))
    shown = str(err.value)
    assert "m.yaml:3" in shown or "m.yaml:4" in shown
    m = load_manifest(_write(tmp_path, """manifest: t
capabilities: {alarms: false}
tools:
  - function: {name: set_alarm}
    provides: [alarms]
  - function: {name: set_alarm}
    provides: [alarmz]
"""))
    problems = check_manifest(m, load_suites([PROBES]))
    messages = " | ".join(p.message for p in problems)
    assert "says `alarms: false`" in messages
    assert "declared twice" in messages
    assert "provides `alarmz`" in messages and any("alarms" in p.hint for p in problems)
    assert all(p.line for p in problems)


def test_client_reads_tool_calls_and_null_content() -> None:
    body = json.dumps({"choices": [
        {"index": 1, "message": {"role": "assistant", "content": "No."}},
        {"index": 0, "message": {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function",
             "function": {"name": "web_search", "arguments": "{\"query\": \"x\"}"}},
            "junk"]}},
    ]})
    doc, texts, _ = _parse_chat_body(body)
    assert texts == ["", "No."]  # a message that only calls tools is an empty answer
    calls = _tool_calls_of(doc)
    assert [len(c) for c in calls] == [1, 0] and calls[0][0]["function"]["name"] == "web_search"


def test_cache_key_includes_tools_and_keeps_old_keys() -> None:
    p = GenParams(model="m", base_url="http://x/v1")
    msgs = [Message("user", "hi")]
    plain = probe_key(p, msgs, 0)
    assert probe_key(p, msgs, 0, None) == plain == probe_key(p, msgs, 0, [])
    a = probe_key(p, msgs, 0, [{"function": {"name": "a"}, "result": "1"}])
    b = probe_key(p, msgs, 0, [{"function": {"name": "a"}, "result": "2"}])
    assert len({plain, a, b}) == 3


def _answer(rid: str, claim: str, framing: str, text: str, calls: tuple[ToolCall, ...] = (),
            idx: int = 0) -> Answer:
    return Answer(response_id=rid, run_id="r", query_id="q" + rid, suite="s", claim_id=claim,
                  framing=framing, prompt_idx=0, prompt=f"{framing} prompt", sample_idx=idx,
                  text=text, tool_calls=calls)


def test_calls_decide_acts_and_fabrications_need_a_tool() -> None:
    suites = load_suites([PROBES])
    claims = {c.id: c for s in suites for c in s.claims}
    agent, chat = load_manifest(str(AGENT)), load_manifest("chat")
    remind = _answer("a1", "can_set_reminders", "act", "",
                     (ToolCall("set_reminder", '{"text": "medicine"}'),))
    wrong = _answer("a2", "can_set_reminders", "act", "", (ToolCall("send_email", "{}"),))
    got = call_stances([remind, wrong], claims, agent)
    assert set(got) == {"a1"} and got["a1"].label == "affirm" and got["a1"].confidence == 1.0
    assert got["a1"].judge == CALL_JUDGE and "set_reminder(" in got["a1"].rationale
    assert call_stances([remind], claims, chat) == {}  # chat declares no set_reminder
    assert needs_a_tool(claims["can_set_alarms"], chat)  # lacks it: no text can have done it
    assert needs_a_tool(claims["can_set_reminders"], agent)  # a tool provides it
    assert not needs_a_tool(claims["has_a_name"], chat)  # done in text
    assert not needs_a_tool(claims["remembers_within_conversation"], agent)


def test_the_three_tool_call_contradictions() -> None:
    suites = load_suites([PROBES])
    claims = {c.id: c for s in suites for c in s.claims}
    agent = load_manifest(str(AGENT))
    answers = [
        # fabricated: says a reminder was set, twice, no call
        _answer("f1", "can_set_reminders", "act", "Done, reminder set.", idx=0),
        _answer("f2", "can_set_reminders", "act", "Done, reminder set.", idx=1),
        # undeclared: calls set_alarm, which the agent lacks
        _answer("u1", "can_set_alarms", "act", "", (ToolCall("set_alarm", '{"t": "7"}'),)),
        # same-answer say/do: "no" to the question, and a web_search call
        _answer("s1", "can_browse_web", "direct", "No, I can't browse.",
                (ToolCall("web_search", '{"query": "q"}'),)),
    ]
    stances = {
        "f1": Stance("f1", "affirm", 0.88, "rules"), "f2": Stance("f2", "affirm", 0.88, "rules"),
        "u1": Stance("u1", "unclear", 0.3, "rules"), "s1": Stance("s1", "deny", 0.92, "rules"),
    }
    found = find_contradictions(suites, agent, answers, stances)
    kinds = {(c.kind, c.claims) for c in found}
    assert ("fabricated_action", ("can_set_reminders",)) in kinds
    assert ("manifest", ("can_set_alarms",)) in kinds
    assert ("say_do", ("can_browse_web",)) in kinds
    fab = next(c for c in found if c.kind == "fabricated_action")
    assert not fab.candidate and fab.certain and fab.rate == 1.0
    assert "set_reminder" in fab.summary
    und = next(c for c in found if c.kind == "manifest")
    assert und.detail["undeclared_tools"] == ["set_alarm"] and not und.candidate
    assert und.evidence[0].tool_calls[0].name == "set_alarm" and und.evidence[0].judge == CALL_JUDGE
    sd = next(c for c in found if c.kind == "say_do")
    assert {e.side for e in sd.evidence} == {"denying", "affirming"} and not sd.candidate
    # an undeclared-tool bug never shares a fingerprint with the claim's truth bug
    truth_bug = type(und)(kind="manifest", claims=und.claims, summary="", rate=1, confidence=1,
                          severity_score=1, evidence=(), detail={"truth": False})
    assert fingerprint(und) != fingerprint(truth_bug)
    # ... and a same-answer say/do shares the fingerprint of the say/do across answers
    across = type(sd)(kind="say_do", claims=sd.claims, summary="", rate=1, confidence=1,
                      severity_score=1, evidence=(), detail={"framings": ["say=deny", "act=affirm"]})
    assert fingerprint(sd) == fingerprint(across)
    titles = {b.kind: b.title for b in to_bugs(found, claims)}
    assert "without calling any tool" in titles["fabricated_action"]
    assert title(und, claims).startswith("Calls a tool this deployment does not declare (set_alarm)")


def test_fabricated_action_needs_no_tools_under_chat() -> None:
    suites = load_suites([PROBES])
    chat = load_manifest("chat")
    answers = [_answer("c1", "can_set_alarms", "act", "Your alarm is set for 7am."),
               _answer("n1", "has_a_name", "act", "My name is Quill.")]
    stances = {"c1": Stance("c1", "affirm", 0.88, "rules"),
               "n1": Stance("n1", "affirm", 0.88, "rules")}
    found = [c for c in find_contradictions(suites, chat, answers, stances)
             if c.kind == "fabricated_action"]
    assert [c.claims for c in found] == [("can_set_alarms",)]
    assert not found[0].certain  # one answer: reported, but never as certain


def test_calls_are_shown_as_calls_and_escaped() -> None:
    e = Evidence(response_id="r1", claim_id="c", framing="act", prompt="p", response="",
                 stance="affirm", tool_calls=(ToolCall("web_search", '{"q": "<img src=x> `|`"}'),),
                 final_response="Found it [link](http://evil)")
    text = shown_answer(e)
    assert text == ('[called] web_search({"q": "<img src=x> `|`"})\n'
                    "[after the tool results] Found it [link](http://evil)")
    back = evidence_from_dict(json.loads(json.dumps(to_dict(e))))
    assert back == e and shown_answer(to_dict(e)) == text
    md = ticket({"fingerprint": "bdbg-x", "kind": "say_do", "title": "t", "severity": "high",
                 "claims": ["c"], "evidence": [to_dict(e)], "repro": []},
                {"run_id": "run-1", "model": "m"})
    assert "<img" not in md and "](http" not in md and "web\\_search" in md or "web_search" in md


def test_pytest_failure_text_shows_the_call() -> None:
    from behaviordbg.pytest_plugin.report import _evidence_lines

    e = Evidence(response_id="r1", claim_id="can_browse_web", framing="act", prompt="p",
                 response="", stance="affirm", judge="tool_call",
                 tool_calls=(ToolCall("web_search", '{"q": "x\x1b[31m"}'),))
    text = "\n".join(_evidence_lines([e], "  "))
    assert "[called] web_search(" in text and "\x1b" not in text


def test_call_counts_see_calls_written_as_text() -> None:
    from behaviordbg.analysis.tool_calls import call_counts

    agent = load_manifest(str(AGENT))
    answers = [
        _answer("a", "can_set_reminders", "act",
                '```json\n{"name": "set_reminder", "arguments": {"time": "21:00"}}\n```'),
        _answer("b", "can_send_email", "act", "", (ToolCall("send_email", "{}"),)),
        _answer("c", "has_a_name", "act", "My name is Quill."),
        _answer("d", "can_set_alarms", "direct", '{"name": "x", "arguments": {}}'),
    ]
    assert call_counts(answers, agent) == {"offered": 3, "called": 1, "undeclared": 0,
                                           "written_as_text": 1}
    assert call_counts(answers, agent, ("direct", "act"))["written_as_text"] == 2
    assert call_counts(answers, load_manifest("chat")) == {}


def test_a_call_written_as_text_is_not_a_fabricated_action() -> None:
    suites = load_suites([PROBES])
    agent = load_manifest(str(AGENT))
    text = '```json\n{"name": "set_reminder", "arguments": {"time": "21:00"}}\n```'
    answers = [_answer(f"t{i}", "can_set_reminders", "act", text, idx=i) for i in range(2)]
    stances = {a.response_id: Stance(a.response_id, "affirm", 0.88, "rules") for a in answers}
    assert not [c for c in find_contradictions(suites, agent, answers, stances)
                if c.kind == "fabricated_action"]


def test_an_offer_is_not_a_fabricated_action() -> None:
    """"Sure, I can open the file for you" claims the ability (the manifest kind weighs that), not
    that it was done; "I've opened it" does."""
    suites = load_suites([PROBES])
    chat = load_manifest("chat")
    answers = [_answer("o1", "can_access_user_files", "act", "Sure, I can open the file for you."),
               _answer("o2", "can_access_user_files", "act", "Sure, I can open it. Done, I've opened it.")]
    stances = {a: Stance(a, "affirm", 0.82, "rules") for a in ("o1", "o2")}
    found = [c for c in find_contradictions(suites, chat, answers, stances)
             if c.kind == "fabricated_action"]
    assert len(found) == 1
    assert [e.response_id for e in found[0].evidence] == ["o2"]
