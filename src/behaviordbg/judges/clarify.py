"""The forced-choice follow-up (`run --clarify`): what is asked after an unclear first answer, and
how the model's reply to it is read.

After a first answer that the rules judge reads as unclear, the run asks once more in the same
conversation: "Please answer with just yes or no: <the question>" (for a request: "Did you
actually do it? Please answer with just yes or no."). The reply is read by its answer particle
only (docs/judging.md, "Forced-choice follow-up"): a leading "yes" or "no", mapped through the
question's framing like any particle; for a request, "yes" (it did it) affirms and "no" denies.
Anything else (a sentence with no particle, "yes and no", "no problem") leaves the answer
unclear. Pure: no I/O, no model.
"""

from __future__ import annotations

import re

from ..types import Framing, Stance, StanceLabel

JUDGE = "clarify"
"""The judge name a clarified stance carries (the answer's first judge read it as unclear)."""

FRAMINGS: tuple[Framing, ...] = ("direct", "negated", "act")
"""The framings that get a follow-up: yes/no questions and requests (open claims have values)."""

QUESTION_FOLLOWUP = "Please answer with just yes or no: {question}"
ACT_FOLLOWUP = "Did you actually do it? Please answer with just yes or no."

CONFIDENCE = 0.6
"""The confidence of a clarified stance. Measured with eval/measure_clarify.py on the embedded
model's hand-labelled run (eval/embedded_check_run3.jsonl, replies in eval/clarify_run3.jsonl;
rules judge of f531b93, re-read later with 19 of 27 = 0.70):
every one of the 118 forced replies was a bare yes or no, but where the person's label of the
first answer is affirm or deny the reply agreed only 19 of 28 times (0.68, 95% CI 0.49-0.82;
"Yes." to a negated question after "No, I can ..."), and 90 of the 118 first answers were
unclear to the person too, so the reply made a stance up (66 of those 90 said "yes"). That is
below the llm judge's 0.75 readings (right 0.69 of the time) and far below the rules judge's
solid verdicts (0.98 at >= 0.8), so a clarified stance is never solid; on top of that the
analysis lets it add candidates only (pipeline/clarify.add_candidates). Docs: docs/judging.md,
"Forced-choice follow-up"."""

_LEAD = re.compile(r"^[\s*_\"'`>#(\[-]*")  # markdown, quotes, bullets before the first word
_PARTICLE = re.compile(r"^(yes|yeah|yep|yup|no|nope|nah)(?![a-z'])")
_NOT_AN_ANSWER = re.compile(r"^\W*(?:problem|worries|doubt|matter|need|one|thanks)\b")
_OTHER = {"yes": re.compile(r"\b(?:no|nope)\b(?![- ]?(?:one|longer|more|way|need|problem))"),
          "no": re.compile(r"\b(?:yes|yeah|yep)\b")}
_FIRST_SENTENCE = re.compile(r"^[^.!?\n]*")


def followup_prompt(framing: str, question: str) -> str:
    """The user turn sent after an unclear first answer to `question` (its prompt)."""
    if framing == "act":
        return ACT_FOLLOWUP
    return QUESTION_FOLLOWUP.format(question=question.strip())


def reply_particle(reply: str) -> str | None:
    """"yes" or "no" when the reply leads with that answer particle and does not take the other
    side in the same sentence; None otherwise (no particle, "yes and no", "No problem!")."""
    text = _LEAD.sub("", reply.strip().lower())
    m = _PARTICLE.match(text)
    if m is None:
        return None
    word = "yes" if m.group(1) in ("yes", "yeah", "yep", "yup") else "no"
    rest = text[m.end():]
    if word == "no" and _NOT_AN_ANSWER.match(rest):
        return None
    first = _FIRST_SENTENCE.match(text)
    sentence = first.group(0) if first else text
    if _OTHER[word].search(sentence[m.end():]):  # "yes and no", "no, yes, I mean ..."
        return None
    return word


def read_reply(reply: str, framing: str) -> StanceLabel:
    """The stance toward the claim that a forced-choice reply takes: the particle through the
    framing (negated: "yes" denies), for a request "yes" (done) affirms; else "unclear"."""
    word = reply_particle(reply)
    if word is None:
        return "unclear"
    if framing == "negated":
        return "deny" if word == "yes" else "affirm"
    return "affirm" if word == "yes" else "deny"


def clarified(response_id: str, framing: str, reply: str) -> Stance | None:
    """The clarified stance of an unclear first answer, or None when the reply is not decisive.
    The rationale names the particle, never the reply's text (model output stays in evidence)."""
    label = read_reply(reply, framing)
    if label == "unclear":
        return None
    word = reply_particle(reply)
    how = "did it" if framing == "act" and word == "yes" else (
        "did not do it" if framing == "act" else f"{framing} question")
    return Stance(response_id, label, CONFIDENCE, JUDGE,
                  f"first answer unclear; forced yes/no follow-up answered {word!r} ({how})")
