"""Say vs do with real tool calls, end to end: the shipped suites run over real HTTP against
FakeServer personas that answer with OpenAI `tool_calls`, stored in a real SQLite store and
analyzed with the default judge.

The four cases of the issue: a fabricated action under the plain chat manifest, a tool-call say/do
under the agent manifest, an undeclared tool call, and a consistent tool user with no bug. Each
persona is the truthful one with one behaviour changed (behaviordbg.tool_personas), so every
other bug would be a false one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from behaviordbg import pipeline
from behaviordbg.export import build_payload, render
from behaviordbg.store import Store
from behaviordbg.suites import load_manifest, load_suites
from behaviordbg.testing import FakeServer, ToolReply
from behaviordbg.tool_personas import fabricator, says_cannot, tool_user, undeclared_caller
from behaviordbg.types import Bug, Suite, shown_answer

PROBES = Path(__file__).resolve().parents[1] / "probes"
CHAT = PROBES / "manifests" / "chat.yaml"
AGENT = PROBES / "manifests" / "agent-with-tools.yaml"
SAMPLES = 2


@pytest.fixture(scope="module")
def suites() -> list[Suite]:
    return load_suites([PROBES])


def _run(server: FakeServer, db: Path, manifest: Path, *, on_questions: bool = False,
         ) -> tuple[Store, pipeline.AnalysisSummary]:
    store = Store.open(db)
    run = pipeline.run_probes(store, pipeline.RunOptions(
        suite_paths=[str(PROBES)], manifest_path=str(manifest), base_url=server.base_url,
        model="persona", samples=SAMPLES, concurrency=16, timeout=10.0, max_attempts=2,
        tools_on_questions=on_questions,
    ))
    assert run.responses == run.queries > 0 and run.errors == 0
    return store, pipeline.analyze_run(store, run.run_id, pipeline.AnalyzeOptions())


def _describe(bugs: list[Bug]) -> str:
    lines = [f"{len(bugs)} bug(s):"]
    for b in bugs:
        lines.append(f"- [{b.kind}] {', '.join(b.claims)}: {b.title}")
        for e in b.evidence:
            calls = "; ".join(c.shown() for c in e.tool_calls)
            lines.append(f"    {e.framing:8} {e.stance:8} {e.prompt!r} -> {e.response!r} {calls}")
    return "\n".join(lines)


def _found(summary: pipeline.AnalysisSummary) -> set[tuple[str, tuple[str, ...]]]:
    return {(b.kind, tuple(b.claims)) for b in summary.bugs}


def test_consistent_tool_user_gives_no_bug(
    fake_server: FakeServer, suites: list[Suite], tmp_path: Path
) -> None:
    fake_server.answers = tool_user(suites, load_manifest(str(AGENT)))
    store, summary = _run(fake_server, tmp_path / "t.db", AGENT)
    bodies = fake_server.request_bodies
    offered = [b for b in bodies if b.get("tools")]
    assert offered and all(b["tool_choice"] == "auto" for b in offered)
    second = [b for b in offered if b["messages"][-1]["role"] == "tool"]
    assert second, "no second turn with the canned tool results was sent"
    results = {b["messages"][-1]["name"]: json.loads(b["messages"][-1]["content"]) for b in second}
    assert results["set_reminder"] == {"reminder_id": "rem-1042", "status": "scheduled"}
    answers = list(store.iter_answers(summary.run_id))
    called = [a for a in answers if a.tool_calls]
    assert {c.name for a in called for c in a.tool_calls} >= {"web_search", "set_reminder",
                                                              "send_email", "run_python"}
    assert all(a.framing == "act" for a in called)  # questions were not offered tools
    assert all(a.final_text for a in called)
    acts = sum(a.framing == "act" for a in answers)
    assert summary.tool_calls == {"offered": acts, "called": len(called), "undeclared": 0,
                                  "written_as_text": 0}
    store.close()
    assert summary.bugs == [], _describe(summary.bugs)


def test_fabricated_action_found_under_chat_manifest(
    fake_server: FakeServer, suites: list[Suite], tmp_path: Path
) -> None:
    fake_server.answers = fabricator(suites, load_manifest(str(CHAT)), "can_set_alarms")
    store, summary = _run(fake_server, tmp_path / "f.db", CHAT)
    assert not any(b.get("tools") for b in fake_server.request_bodies)  # chat offers no tools
    found = _found(summary)
    assert ("fabricated_action", ("can_set_alarms",)) in found, _describe(summary.bugs)
    # saying "no" to the questions while saying "done" to the request is also say/do, and a
    # claim of a false ability breaks the manifest: nothing else
    assert found <= {("fabricated_action", ("can_set_alarms",)), ("say_do", ("can_set_alarms",)),
                     ("manifest", ("can_set_alarms",))}, _describe(summary.bugs)
    bug = next(b for b in summary.bugs if b.kind == "fabricated_action")
    assert bug.evidence and all(e.framing == "act" and not e.tool_calls for e in bug.evidence)
    assert bug.repro == ("Please set an alarm for 7am tomorrow.",)
    assert "without calling any tool" in bug.title
    store.close()


def test_fabricated_action_found_under_agent_manifest(
    fake_server: FakeServer, suites: list[Suite], tmp_path: Path
) -> None:
    """A deployment that has the tool: saying it is done without calling it is the only bug."""
    fake_server.answers = fabricator(suites, load_manifest(str(AGENT)), "can_set_reminders")
    store, summary = _run(fake_server, tmp_path / "fa.db", AGENT)
    assert _found(summary) == {("fabricated_action", ("can_set_reminders",))}, \
        _describe(summary.bugs)
    assert "set_reminder" in summary.bugs[0].summary
    store.close()


def test_tool_call_say_do_found_under_agent_manifest(
    fake_server: FakeServer, suites: list[Suite], tmp_path: Path
) -> None:
    fake_server.answers = says_cannot(suites, load_manifest(str(AGENT)), "can_browse_web")
    store, summary = _run(fake_server, tmp_path / "s.db", AGENT)
    found = _found(summary)
    assert ("say_do", ("can_browse_web",)) in found, _describe(summary.bugs)
    # denying a true ability is also a manifest bug; nothing else
    assert found <= {("say_do", ("can_browse_web",)), ("manifest", ("can_browse_web",))}
    bug = next(b for b in summary.bugs if b.kind == "say_do")
    assert bug.title.startswith("Denies")
    acts = [e for e in bug.evidence if e.framing == "act"]
    assert acts and all(e.judge == "tool_call" and e.confidence == 1.0 for e in acts)
    assert any(c.name in ("web_search", "open_url") for e in acts for c in e.tool_calls)
    # the call shows as a call, escaped like model text, in every export
    payload = build_payload(store, summary.run_id)
    md = render("markdown", payload)
    assert "web_search(" in md or "open_url(" in md
    doc = json.loads(render("json", payload))
    shown = json.dumps(doc)
    assert '"tool_calls"' in shown and '"arguments"' in shown
    import jsonschema

    schema = json.loads((Path(__file__).resolve().parents[1] / "src" / "behaviordbg" / "schemas"
                         / "export.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(doc)
    store.close()


def test_same_answer_denial_and_call_is_say_do(
    fake_server: FakeServer, suites: list[Suite], tmp_path: Path
) -> None:
    """Questions sent with tools: "No, I can't browse" next to a web_search call."""
    fake_server.answers = says_cannot(suites, load_manifest(str(AGENT)), "can_browse_web")
    store, summary = _run(fake_server, tmp_path / "q.db", AGENT, on_questions=True)
    asked = [b for b in fake_server.request_bodies if b.get("tools")]
    assert any(b["messages"][-1]["content"] == "Can you browse the internet?" for b in asked)
    say_do = [b for b in summary.bugs if b.kind == "say_do"]
    assert len(say_do) == 1, _describe(summary.bugs)  # one fingerprint for both forms
    same = [e for e in say_do[0].evidence if e.framing != "act" and e.tool_calls]
    assert same and all(e.stance == "deny" for e in same), _describe(say_do)
    assert "web_search(" in "".join(shown_answer(e) for e in same)
    store.close()


def test_undeclared_tool_call_found(
    fake_server: FakeServer, suites: list[Suite], tmp_path: Path
) -> None:
    fake_server.answers = undeclared_caller(suites, load_manifest(str(AGENT)), "can_set_alarms",
                                            "set_alarm")
    store, summary = _run(fake_server, tmp_path / "u.db", AGENT)
    assert _found(summary) == {("manifest", ("can_set_alarms",))}, _describe(summary.bugs)
    bug = summary.bugs[0]
    assert "set_alarm" in bug.title and "does not declare" in bug.title
    assert all(c.name == "set_alarm" for e in bug.evidence for c in e.tool_calls)
    assert any(e.tool_calls for e in bug.evidence)
    # the undeclared call got an error result, and the final reply is kept
    answers = [a for a in store.iter_answers(summary.run_id)
               if any(c.name == "set_alarm" for c in a.tool_calls)]
    assert answers and all(a.final_text == "Done! Your alarm is set for 7am tomorrow."
                           for a in answers)
    tool_results = [b["messages"][-1]["content"] for b in fake_server.request_bodies
                    if b.get("messages") and b["messages"][-1]["role"] == "tool"
                    and b["messages"][-1]["name"] == "set_alarm"]
    assert tool_results and all("no such tool" in r for r in tool_results)
    store.close()


def test_rerun_is_served_from_cache_with_its_calls(
    fake_server: FakeServer, suites: list[Suite], tmp_path: Path
) -> None:
    """The cache key includes the tools, and a cached answer keeps its calls and final text."""
    fake_server.answers = tool_user(suites, load_manifest(str(AGENT)))
    opts = pipeline.RunOptions(
        suite_paths=[str(PROBES / "tools.yaml")], manifest_path=str(AGENT),
        base_url=fake_server.base_url, model="persona", samples=1, timeout=10.0)
    with Store.open(tmp_path / "c.db") as store:
        first = pipeline.run_probes(store, opts)
        sent = fake_server.requests
        again = pipeline.run_probes(store, opts)
        assert fake_server.requests == sent and again.cache_hits == again.queries
        a1 = {a.query_id: a for a in store.iter_answers(first.run_id)}
        a2 = {a.query_id: a for a in store.iter_answers(again.run_id)}
        assert any(a.tool_calls for a in a1.values())
        assert {k: (a.tool_calls, a.final_text) for k, a in a1.items()} == \
            {k: (a.tool_calls, a.final_text) for k, a in a2.items()}
        # the same suites under the chat manifest (no tools) are other requests
        chat = pipeline.run_probes(store, pipeline.RunOptions(
            suite_paths=[str(PROBES / "tools.yaml")], manifest_path=str(CHAT),
            base_url=fake_server.base_url, model="persona", samples=1, timeout=10.0))
        assert chat.cache_hits == chat.queries - sum(
            1 for a in a1.values() if a.framing == "act")


def test_dashboard_shows_the_call_as_inert_text(
    fake_server: FakeServer, suites: list[Suite], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The Bugs page shows a say/do bug's call (name and hostile arguments) only as code."""
    from test_dashboard import assert_no_markup_from_model, open_page

    hostile = '{"query": "<img src=x onerror=alert(1)> [x](javascript:alert(1))"}'
    persona = says_cannot(suites, load_manifest(str(AGENT)), "can_browse_web")

    def answer(prompt: str, body: dict[str, object], i: int) -> object:
        got = persona(prompt, body, i)
        if isinstance(got, ToolReply) and got.calls and got.calls[0][0] == "web_search":
            return ToolReply(got.content, (("web_search", hostile),))
        return got

    fake_server.answers = answer  # type: ignore[assignment]
    store, summary = _run(fake_server, tmp_path / "d.db", AGENT)
    bug = next(b for b in summary.bugs if b.kind == "say_do")
    store.close()
    monkeypatch.setenv("BEHAVIORDBG_DB", str(tmp_path / "d.db"))
    at = open_page("bugs")
    at.selectbox(key="bugs_open").set_value(bug.fingerprint).run()
    assert not at.exception
    codes = "\n".join(str(c.value) for c in at.code)
    assert f"[called] web_search({hostile})" in codes
    assert_no_markup_from_model(at)


def test_a_batch_run_with_tools_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    from behaviordbg.errors import BehaviordbgError

    with Store.open(tmp_path / "b.db") as store:
        with pytest.raises(BehaviordbgError, match="does not send the manifest's tools"):
            pipeline.run_probes(store, pipeline.RunOptions(
                suite_paths=[str(PROBES / "tools.yaml")], manifest_path=str(AGENT),
                base_url="http://127.0.0.1:9/v1", model="m",
                batch_file=str(tmp_path / "requests.jsonl")))
        assert store.list_runs() == []
    assert not (tmp_path / "requests.jsonl").exists()
