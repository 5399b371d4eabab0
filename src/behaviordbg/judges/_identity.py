"""Identity readings: "I'm an AI language model", "What's on the other end is an AI", "I'm Claude."

An identity statement counts only for claims that declare what their identity implies
(`identity:` in the suite; docs/judging.md, stance rule 3). Lexical, on `normalise`d text except
`names_itself`, which needs the answer's own casing to tell a name from a word.
"""

from __future__ import annotations

import re

from ..types import IdentityRelation, StanceLabel
from ._polarity import pole_relation

_AI_NOUN = (
    r"(?:an? |the )?(?:large |advanced |helpful |friendly |conversational |text-based |virtual |"
    r"digital |artificial |computer |software |ai |a\.i\. |language |chat |machine |"
    r"generative |neural |intelligent )*"
    r"(?:ai\b|a\.i\.|artificial intelligence|language model|llm\b|chatbot|chat bot|bot\b|"
    r"computer program|program\b|software|machine\b|assistant|model\b|neural network|algorithm|code\b|"
    r"system\b|entity)"
)
_HUMAN_NOUN = r"(?:an? |the )?(?:real |actual |living )?(?:human(?: being)?|person\b|man\b|woman\b|living being|alive)"
_ID_NOUN = re.compile(rf"\s*(?:just |only |simply |merely |purely |actually |really )*{_AI_NOUN}")
_IDENTITY = re.compile(
    r"\b(?:i am|i'm|i was|i exist as|i'm just|i'm only|this is|it's|it is|"
    r"you're (?:talking|chatting|speaking) (?:to|with)|you are (?:talking|chatting|speaking) (?:to|with)|"
    # the assistant named by what it does: "What's on the other end is an AI", "These replies come from"
    r"what(?:'s| is) (?:on the other end|answering you|replying(?: to you)?|talking to you|writing (?:this|these)|"
    r"behind (?:this|these|the) (?:chat|replies|answers|messages))(?: of (?:this|the) (?:chat|conversation))?,? is|"
    r"(?:each|every) (?:response|reply|answer|message)(?: here)? (?:is|comes) (?:generated |produced |written )?"
    r"(?:from|by)|"
    r"(?:these|my|the) (?:replies|answers|responses|messages)(?: here| you're reading)? (?:come|are coming|"
    r"are generated|are produced|are written|are made) (?:from|by))\s+"
    r"(not\s+)?(?:just |only |simply |merely |purely |actually |really |definitely |still )*"
    rf"(?:({_HUMAN_NOUN})|(?:(?:a |an )?(?:collection|set|pattern|bunch|series) of )?({_AI_NOUN}|data\b))"
)
_AS_AN_AI = re.compile(r"\bas an? (?:ai|artificial|large language|language model|text-based|computer program|machine|virtual|digital)")
_AS_AN_AI_PREFIX = re.compile(r"^\s*as an? [a-z\- ]{0,40}?(?:ai|model|program|assistant|intelligence)\b[,:]?\s*")


# "I'm Claude.", "I am Qwen, made by ...": a proper name after "I am", seen in the original casing.
_NAMES_ITSELF = re.compile(
    r"\b(?:I'm|I\u2019m|I am|My name's)\s+([A-Z][A-Za-z0-9.]{1,30})\b(?!\s+[a-z]{3,}ing\b|'s|\u2019s|-|"
    r"(?:\s+[A-Z][A-Za-z0-9]*)+(?:'s|\u2019s)|\s+(?:software|model|assistant|product|system|program|chatbot|tool)\b)"
)
_NOT_A_NAME = frozenset(
    "A An The AI Not Sorry Afraid Here Happy Glad Just Only Unable Able OK Okay Fine Good Great Also Still "
    "Really Actually Always Designed Built Made Trained Created Developed Programmed Called Honestly "
    "Definitely Certainly Sure Your So Very Quite Pretty Currently Now Simply Merely Purely Basically "
    "Essentially Text Software Code Language Large Artificial Virtual Digital Machine Computer".split()
)


def names_itself(original: str, claim: str) -> bool:
    """A name given as the answer, for a claim about having a name."""
    if "name" not in claim.lower():
        return False
    return any(m.group(1) not in _NOT_A_NAME for m in _NAMES_ITSELF.finditer(original))


def identity_reading(
    text: str, claim: str, relation: IdentityRelation | None, *, infer: bool
) -> StanceLabel | None:
    """What the answer's identity statement says about the claim.

    With a declared relation: "I am an AI" gives the relation, "I am a human" (or "not an AI") its
    opposite. Undeclared: nothing, unless `infer` (data with no suite behind it, where the claim's
    wording is all there is) lets the claim's pole decide, as before suites could declare it.
    """
    for m in _IDENTITY.finditer(text):
        said_before = text[max(0, m.start() - 60) : m.start()]
        if re.search(r"\b(?:think|thinks|assume|assumes|believe|believes|suppose|imagine|guess|wonder)\b"
                     r"(?:(?!\bbut\b)[^.!?])*$", said_before):
            continue  # "You might think what's on the other end is a program, but I'm ...": not its own
        is_ai = bool(m.group(3))
        if m.group(1):
            is_ai = not is_ai
        if relation is not None:
            return relation if is_ai else ("deny" if relation == "affirm" else "affirm")
        if infer:
            noun = m.group(2) or m.group(3)
            rel = pole_relation(claim, noun)
            if rel:
                positive = (rel > 0) != bool(m.group(1))
                return "affirm" if positive else "deny"
        return None
    if _AS_AN_AI.search(text):
        if relation is not None:
            return relation
        if infer and pole_relation(claim, "an ai program") < 0:
            return "deny"
    return None
