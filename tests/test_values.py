"""Open claims at unit level: the suite format and its errors, the rules extractor per value
type, value modes, the value_conflict decision and its fingerprint; and the llm fallback over
real HTTP (FakeServer as the extractor's endpoint)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from behaviordbg import pipeline
from behaviordbg import suites as S
from behaviordbg.analysis.bugs import fingerprint
from behaviordbg.analysis.values import value_contradictions, value_modes
from behaviordbg.judges.values import ValueInput, canonical, combine, extract
from behaviordbg.store import Store
from behaviordbg.testing import FakeServer
from behaviordbg.types import Answer, AnswerValue, Claim

# --------------------------------------------------------------------------- suite format


def _write(tmp_path: Path, doc: dict[str, Any], name: str = "s.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return p


def test_open_claim_loads_and_expands_to_open_queries(tmp_path: Path) -> None:
    p = _write(tmp_path, {"suite": "f", "claims": [
        {"id": "maker", "text": "Its maker.", "value_type": "organisation",
         "ask_open": ["Who made you?", "Who built you?"]},
        {"id": "has_body", "text": "It has a body.", "ask": ["Do you have a body?"]}]})
    (suite,) = S.load_suites([p])
    maker = suite.claims[0]
    assert maker.is_open and maker.value_type == "organisation" and not suite.claims[1].is_open
    queries = S.expand([suite], samples=2)
    assert [(q.claim_id, q.framing) for q in queries].count(("maker", "open")) == 4
    assert {q.framing for q in queries if q.claim_id == "has_body"} == {"direct"}
    only_open = S.expand([suite], framings={"open"})
    assert {q.claim_id for q in only_open} == {"maker"}


def test_open_claim_errors_name_file_line_and_fix(tmp_path: Path) -> None:
    text = """suite: f
claims:
  - id: maker
    text: Its maker.
    ask_open: [Who made you?]
    ask: [Do you know who made you?]
    truth: true
  - id: has_body
    text: It has a body.
    value_type: year
    ask: [Do you have a body?]
rules:
  - when: has_body
    then: maker
"""
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    errors = S.validate_paths([p])
    got = {(e.line, e.message.split(": ", 1)[1].split(",")[0]) for e in errors}
    assert (6, "open claim `maker` has `ask`") in got
    assert (7, "open claim `maker` has `truth`") in got
    assert (10, "claim `has_body` has `value_type` but no `ask_open` prompts") in got
    assert any(e.line == 14 and "open claim `maker`" in e.message and "rules link yes/no"
               in e.message for e in errors)
    assert all(e.hint and e.message.startswith(f"{e.path}:{e.line}: ") for e in errors)
    typo = tmp_path / "typo.yaml"
    typo.write_text("suite: g\nclaims:\n  - id: cutoff\n    text: Its cutoff.\n"
                    "    value_type: decade\n    ask_open: [When does your knowledge end?]\n")
    (err,) = S.validate_paths([typo])
    assert err.line == 5 and "value_type" in err.message


def test_manifest_values_load_and_unknown_keys_are_flagged(tmp_path: Path) -> None:
    m = _write(tmp_path, {"manifest": "x", "values": {
        "maker": {"value": "Alibaba Cloud", "aliases": ["Qwen team"]},
        "makr": {"value": "OpenAI"}, "has_a_name": {"value": "Qwen"}}}, "m.yaml")
    man = S.load_manifest(m)
    assert man.claim_values["maker"] == ("Alibaba Cloud", "Qwen team")
    problems = S.check_manifest(man, S.load_suites())
    msgs = [e.message for e in problems]
    assert any("`makr`" in x for x in msgs) and any("`has_a_name`" in x for x in msgs)
    assert any("did you mean `maker`" in e.hint for e in problems)
    assert all(e.line for e in problems)
    bad = _write(tmp_path, {"manifest": "y", "values": {"maker": {"aliases": ["x"]}}}, "b.yaml")
    with pytest.raises(S.SuiteErrors):
        S.load_manifest(bad)


def test_shipped_open_claims_have_at_least_four_phrasings() -> None:
    claims = [c for s in S.load_suites() for c in s.claims if c.is_open]
    assert {c.id for c in claims} >= {"maker", "model_name", "model_family", "knowledge_cutoff",
                                      "input_modalities"}
    assert all(len(c.ask_open) >= 4 and c.value_type for c in claims)
    schema = json.loads(S.schema_path("suite").read_text())
    assert "ask_open" in schema["$defs"]["claim"]["properties"]


# --------------------------------------------------------------------------- rules extractor


def _read(response: str, value_type: str, **kw: Any) -> AnswerValue:
    return extract(ValueInput("r", "q", response, value_type, **kw))


@pytest.mark.parametrize(("answer", "value"), [
    ("I was designed and developed by Anthropic.", "Anthropic"),
    ("I am a machine learning model created by Alibaba Cloud.", "Alibaba Cloud"),
    ("Alibaba Cloud developed me.", "Alibaba Cloud"),
    ("I'm built by the Qwen team at Alibaba.", "Alibaba Cloud"),
    ("I was trained by Google DeepMind.", "Google"),
    ("Meta AI created me.", "Meta"),
    ("I am a model developed by Mistral AI in Paris.", "Mistral AI"),
    ("Microsoft built me.", "Microsoft"),
    ("I'm Qwen, created by Alibaba Cloud, not by OpenAI.", "Alibaba Cloud"),
])
def test_organisations_in_many_words(answer: str, value: str) -> None:
    got = _read(answer, "organisation")
    assert (got.status, got.value) == ("value", value) and got.confidence >= 0.8


@pytest.mark.parametrize("answer", [
    "I don't know who made me.", "I'm not sure which company trained me.",
    "I'm sorry, I cannot share who my developer is.",
])
def test_declines_are_not_values(answer: str) -> None:
    assert _read(answer, "organisation").status == "declines"


def test_vague_makers_and_unknown_names() -> None:
    assert _read("I was created by a team of researchers.", "organisation").status == "none"
    unknown = _read("I was trained by the University of California, Berkeley.", "organisation")
    assert unknown.value == "University of California" and unknown.confidence >= 0.8
    assert _read("The organization that built me is Apple Inc.", "organisation").value == "Apple"
    two = _read("I was created by Zebra Labs and trained by Quokka Systems.", "organisation")
    assert two.value == "Zebra Labs" and two.confidence < 0.7  # unsure: the llm reads it
    assert _read("Quokka Systems is my maker.", "organisation").confidence < 0.7
    both = _read("Some say OpenAI, some say Anthropic made me.", "organisation")
    assert both.confidence < 0.7
    implied = _read("I am ChatGPT.", "organisation")
    assert implied.value == "OpenAI" and implied.confidence < 0.7


def test_negations_and_declines_found_on_held_out_answers() -> None:
    """Misses of the first held-out measurement (eval/open_values.jsonl, split test)."""
    assert _read("No, I was not made by OpenAI.", "organisation").status == "none"
    double = _read("No, I am not created by a company other than OpenAI.", "organisation")
    assert (double.status, double.value) == ("value", "OpenAI")
    assert _read("My developer is John Doe.", "organisation").value == "John Doe"
    for answer in ("Yes, I lack the ability to know the current date.",
                   "I'm sorry, but as an AI language model, I do not have access to real-time"
                   " information about today's date."):
        assert _read(answer, "year").status == "declines"


def test_years_numbers_modalities_and_model_names() -> None:
    assert _read("My knowledge cutoff is September 2021.", "year").value == "2021"
    assert _read("I don't have a specific cutoff date.", "year").status == "declines"
    assert _read("As of 2023 my data goes up to 2021.", "year").confidence < 0.7
    assert _read("My context window is 32k tokens.", "number").value == "32768"
    assert _read("About 4,096 tokens at once.", "number").value == "4096"
    assert _read("Up to 512 characters.", "number").value == "512 characters"
    assert _read("I can only read text.", "modality").value == "text"
    assert _read("I can process text, but I can't see images or hear audio.",
                 "modality").value == "text"
    assert _read("You can send me text and images.", "modality").value == "image+text"
    assert _read("I am Qwen, made by Alibaba Cloud.", "model_name").value == "Qwen"
    assert _read("I'm based on GPT-4.", "model_name").value == "GPT"
    assert _read("I am an AI language model.", "model_name").status == "none"


def test_manifest_aliases_are_read_first_and_canonical_normalises() -> None:
    aliases = {"Northwind AI": ("Northwind AI", "Northwind")}
    got = _read("I was built by Northwind.", "organisation", aliases=aliases)
    assert (got.value, got.confidence) == ("Northwind AI", 0.9)
    assert canonical("the Qwen team", "organisation") == "Alibaba Cloud"
    assert canonical("128k", "number") == "131072"
    assert canonical("text, image", "modality") == "image+text"


def test_combine_agreement_is_solid_disagreement_is_weak() -> None:
    rules = AnswerValue("r", "value", "Zebra Labs", confidence=0.6)
    agreed = combine(rules, AnswerValue("r", "value", "Zebra Labs", confidence=0.75,
                                        extractor="llm:m"))
    assert agreed.confidence == 0.9 and agreed.extractor == "rules+llm:m"
    differ = combine(rules, AnswerValue("r", "value", "OpenAI", confidence=0.75,
                                        extractor="llm:m"))
    assert differ.value == "OpenAI" and differ.confidence == 0.75
    no_value = combine(rules, AnswerValue("r", "declines", confidence=0.75, extractor="llm:m"))
    assert (no_value.status, no_value.value, no_value.confidence) == ("value", "Zebra Labs", 0.6)
    named = combine(AnswerValue("r", "none", confidence=0.6),
                    AnswerValue("r", "value", "Quokka", confidence=0.75, extractor="llm:m"))
    assert (named.value, named.extractor) == ("Quokka", "llm:m")


# --------------------------------------------------------------------------- modes and kinds

MAKER = Claim(id="maker", text="Its maker.", suite="f", ask_open=("a", "b"),
              value_type="organisation")


def _answers(values: list[tuple[str, str, float]]) -> tuple[list[Answer], dict[str, AnswerValue]]:
    answers, read = [], {}
    for i, (status, value, conf) in enumerate(values):
        rid = f"r{i}"
        answers.append(Answer(rid, "run", f"q{i}", "f", "maker", "open", i % 2, "ab"[i % 2],
                              i // 2, f"answer {value or status}"))
        read[rid] = AnswerValue(rid, status, value, confidence=conf)  # type: ignore[arg-type]
    return answers, read


def test_spellings_merge_and_distinct_values_do_not() -> None:
    answers, read = _answers([("value", "Hugging Face", 0.9), ("value", "HuggingFace", 0.9),
                              ("value", "OpenAI", 0.9), ("value", "Anthropic", 0.9)])
    modes = value_modes(MAKER, answers, read)
    assert [(m.value, m.size) for m in modes] == [("Hugging Face", 2), ("Anthropic", 1),
                                                  ("OpenAI", 1)]
    years = Claim(id="maker", text="y", suite="f", ask_open=("a",), value_type="year")
    answers, read = _answers([("value", "2021", 0.9), ("value", "2023", 0.9)])
    assert len(value_modes(years, answers, read)) == 2  # 2021 and 2023 share characters only


def test_substantive_needs_a_decisive_answer_and_count_or_share() -> None:
    # one OpenAI in eleven: share 0.09 and one answer -> not substantive, no conflict
    answers, read = _answers([("value", "Alibaba Cloud", 0.9)] * 10 + [("value", "OpenAI", 0.9)])
    modes = value_modes(MAKER, answers, read)
    assert [m.substantive for m in modes] == [True, False]
    assert value_contradictions({"maker": MAKER}, answers, read, modes) == []
    # two weak readings of OpenAI: no decisive answer -> not substantive
    answers, read = _answers([("value", "Alibaba Cloud", 0.9)] * 4 + [("value", "OpenAI", 0.6)] * 2)
    assert [m.substantive for m in value_modes(MAKER, answers, read)] == [True, False]
    # one OpenAI in four: share 0.25 -> substantive, but the conflict is not certain
    answers, read = _answers([("value", "Alibaba Cloud", 0.9)] * 3 + [("value", "OpenAI", 0.9)])
    modes = value_modes(MAKER, answers, read)
    (c,) = value_contradictions({"maker": MAKER}, answers, read, modes)
    assert c.kind == "value_conflict" and not c.certain and c.rate == 0.25


def test_severity_follows_the_minority_share_and_fingerprint_ignores_values() -> None:
    def conflict(values: list[tuple[str, str, float]]) -> Any:
        answers, read = _answers(values)
        (c,) = value_contradictions({"maker": MAKER}, answers, read,
                                    value_modes(MAKER, answers, read))
        return c

    half = conflict([("value", "OpenAI", 0.9)] * 5 + [("value", "Alibaba Cloud", 0.9)] * 5)
    tenth = conflict([("value", "OpenAI", 0.9)] * 2 + [("value", "Alibaba Cloud", 0.9)] * 18)
    other = conflict([("value", "Anthropic", 0.9)] * 3 + [("value", "Google", 0.9)] * 3)
    assert half.severity_score > tenth.severity_score
    assert fingerprint(half) == fingerprint(tenth) == fingerprint(other)


def test_a_claim_with_no_value_at_all_has_only_its_no_value_bucket() -> None:
    answers, read = _answers([("declines", "", 0.85)] * 3 + [("none", "", 0.8)])
    modes = value_modes(MAKER, answers, read)
    assert [(m.kind, m.size, m.share) for m in modes] == [("no_value", 4, 1.0)]
    assert value_contradictions({"maker": MAKER}, answers, read, modes) == []


def test_declines_never_make_a_mode_of_their_own() -> None:
    answers, read = _answers([("declines", "", 0.85)] * 6 + [("value", "Alibaba Cloud", 0.9)] * 2)
    modes = value_modes(MAKER, answers, read)
    assert [(m.kind, m.substantive) for m in modes] == [("value", True), ("no_value", False)]
    assert value_contradictions({"maker": MAKER}, answers, read, modes) == []


# --------------------------------------------------------------------------- llm fallback


def test_llm_reads_what_the_rules_are_unsure_of(tmp_path: Path) -> None:
    """cascade: the rules read the gazetteer makers; the unknown 'Zebra Labs' and 'Quokka
    Systems' go to the llm extractor over real HTTP, whose reading agrees with the rules for one
    (solid) and alone names the other (weak); a second analysis asks nothing again."""
    suite = _write(tmp_path, {"suite": "f", "claims": [
        {"id": "maker", "text": "Its maker.", "value_type": "organisation",
         "ask_open": ["Who made you?", "Who built you?"]}]})
    answers: dict[str | re.Pattern[str], Any] = {
        "Who made you?": ["I was created by Zebra Labs and trained by Quokka Systems.",
                          "Alibaba Cloud made me."],
        "Who built you?": ["I was built by Zebra Labs, then trained by Quokka Systems.",
                           "Quokka Systems is my maker."],
        re.compile(r"Zebra Labs"): json.dumps({"status": "value", "value": "Zebra Labs"}),
        re.compile(r"Quokka"): json.dumps({"status": "value", "value": "Quokka Systems"}),
    }
    with FakeServer(answers) as server, Store.open(tmp_path / "v.db") as store:
        run = pipeline.run_probes(store, pipeline.RunOptions(
            suite_paths=[str(suite)], base_url=server.base_url, model="m", samples=2))
        asked = server.requests
        opts = pipeline.AnalyzeOptions(judge="cascade", judge_base_url=server.base_url,
                                       judge_model="m")
        first = pipeline.analyze_run(store, run.run_id, opts)
        llm_calls = server.requests - asked
        assert llm_calls == 3  # the two Zebra Labs answers and Quokka; Alibaba is read by rules
        values = store.get_values(run.run_id, "cascade:m")
        zebra = [v for v in values.values() if v.value == "Zebra Labs"]
        assert len(zebra) == 2 and all(v.confidence == 0.9 and v.extractor == "rules+llm:m"
                                       for v in zebra)
        quokka = next(v for v in values.values() if v.value == "Quokka Systems")
        assert quokka.confidence == 0.75 and quokka.extractor == "llm:m"
        bodies = [b for b in server.request_bodies if "Zebra" in json.dumps(b)
                  and b.get("response_format")]
        assert bodies and bodies[0]["response_format"]["json_schema"]["name"] == "value"
        assert [b.kind for b in first.bugs + first.candidates] == ["value_conflict"]
        again = pipeline.analyze_run(store, run.run_id, opts)
        assert server.requests - asked == llm_calls  # stored readings, nothing asked again
        assert again.bugs[0].fingerprint == (first.bugs + first.candidates)[0].fingerprint
