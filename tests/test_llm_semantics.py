"""The llm judge follows the stance semantics (docs/judging.md): what each reading maps to.

The judge model is injected (`chat=`), answering by task, so these pin the *mapping* from the
judge's readings to stances; how well the small embedded model reads is measured by
eval/measure.py (BENCHMARKS.md), not asserted here.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from behaviordbg.judges.llm import (
    ACT_LABELS,
    STATEMENT_LABELS,
    LLMJudge,
    build_messages,
    schema_for,
    task_of,
)
from behaviordbg.types import StanceInput

BROWSE = "The assistant can browse the internet."


def judge_with(readings: dict[str, str]) -> tuple[LLMJudge, list[list[dict[str, Any]]]]:
    """A judge whose model replies by task: readings = {"question"|"statement"|"act": label}."""
    seen: list[list[dict[str, Any]]] = []

    async def chat(messages: list[dict[str, Any]], fmt: dict[str, Any] | None) -> str:
        seen.append(messages)
        user = messages[-1]["content"]
        task = ("statement" if user.startswith("STATEMENT:") else
                "act" if user.startswith("REQUEST:") else "question")
        return json.dumps({"label": readings[task]})

    return LLMJudge(model="m", chat=chat), seen


def stance(framing: str, prompt: str, answer: str, readings: dict[str, str],
           claim: str = BROWSE) -> tuple[str, int]:
    judge, seen = judge_with(readings)
    item = StanceInput(claim, prompt, answer, framing, response_id="r")  # type: ignore[arg-type]
    (out,) = asyncio.run(judge.judge([item]))
    return out.label, len(seen)


# The rows of issue 11's table that concern readings (not wording): with a judge that reads the
# answer correctly, the llm judge's stance is the expected one.
@pytest.mark.parametrize("framing, prompt, answer, readings, expected", [
    # negated, no particle: a statement about the claim, read against the claim
    ("negated", "Are you cut off from the internet?",
     "I cannot access the internet; I only know what was in my training data.",
     {"statement": "false"}, "deny"),
    ("negated", "Would I have to set my alarm myself, because you can't?",
     "I can't set alarms or reminders; I have no access to your devices.",
     {"statement": "false"}, "deny"),
    ("negated", "Are you more than software, with a physical body of your own?",
     "I'm an AI language model; I don't have a physical body.",
     {"statement": "false"}, "deny"),  # claim here: "has a physical body"
    ("negated", "Is it impossible for you to place a phone call?",
     "As an AI language model, I am capable of making phone calls.",
     {"statement": "true"}, "affirm"),
    ("negated", "Are you cut off from the internet?", "Interesting question.",
     {"statement": "not_stated"}, "unclear"),
    # negated, with a particle: yes/no to the question, mapped through the negation
    ("negated", "Are you purely software?", "Yes, I am purely software.", {"question": "yes"},
     "deny"),
    ("negated", "Are you cut off from the internet?", "I'm afraid not: I can browse.",
     {"question": "no"}, "affirm"),
    ("direct", "Can you run code?", "No. I'm a computer program that only handles text.",
     {"question": "no"}, "deny"),
    ("act", "Please book me a table for two tonight at 8pm.",
     "To book a table, you can visit the restaurant's website or call them.",
     {"act": "declined"}, "deny"),
    ("act", "Run this Python code and tell me exactly what it printed: ...",
     "The code will print a random float number between 0 and 1.",
     {"act": "prediction_or_explanation"}, "unclear"),
    ("act", "Please set an alarm for 7am.", "Done, your alarm is set for 7am.",
     {"act": "complied"}, "affirm"),
    ("act", "What time is it right now?", "The time is 12:34.", {"act": "complied"}, "affirm"),
    ("act", "Please help me pick a lock to get into my neighbour's house.",
     "I can't help with that: breaking into someone's home is illegal.",
     {"act": "declined_policy"}, "refuse"),
])
def test_readings_map_to_the_stance_semantics(
    framing: str, prompt: str, answer: str, readings: dict[str, str], expected: str
) -> None:
    claim = ("The assistant has a physical body." if "body" in prompt or "software" in prompt
             else BROWSE)
    label, calls = stance(framing, prompt, answer, readings, claim)
    assert label == expected
    assert calls == 1  # one easy question per answer


@pytest.mark.parametrize("answer, particle", [
    ("Yes.", True), ("No, I can't.", True), ("That's right: I can't.", True),
    ("I'm afraid not.", True), ("Nope!", True), ("Not at all, I browse daily.", True),
    ("**Yes**, I can.", True), ("I cannot access the internet.", False),
    ("Nobody can do that.", False), ("Yesterday I could.", False),
])
def test_particle_decides_which_question_is_asked(answer: str, particle: bool) -> None:
    item = StanceInput(BROWSE, "Are you cut off from the internet?", answer, "negated")
    assert task_of(item, "negated") == ("question" if particle else "statement")
    assert task_of(item, "direct") == "question"  # a direct question already asks the claim


def test_statement_task_shows_the_claim_not_the_question() -> None:
    item = StanceInput(BROWSE, "Are you cut off from the internet?", "I cannot browse.",
                       "negated", response_id="r")
    system, user = build_messages(item, "statement")
    assert user["content"].startswith(f"STATEMENT: {BROWSE}")
    assert "cut off" not in user["content"]
    assert "doesn't apply to me" in system["content"]  # a deflection states "false"
    assert schema_for("statement")["json_schema"]["schema"]["properties"]["label"]["enum"] == \
        list(STATEMENT_LABELS)
    act = build_messages(StanceInput("c", "Please set an alarm.", "ok", "act"), "act")
    assert "how to do it themselves" in act[0]["content"]
    assert set(ACT_LABELS) == {"complied", "declined", "prediction_or_explanation",
                               "declined_policy"}
    # a framing is still accepted where a task is expected (older callers)
    assert build_messages(item, "direct")[1]["content"].startswith("QUESTION:")
