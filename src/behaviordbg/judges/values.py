"""Values from answers to open questions: "Who created you?" -> "Alibaba Cloud".

An open claim's answers are not judged for a stance; each is reduced to the one value it names (an
organisation, a model name, a year, a number of tokens, a set of input modalities), or to
"declines" (it does not know or will not say: never a value), or "none" (it names nothing of the
asked kind: "a team of engineers made me").

The rules extractor reads first: aliases (the manifest's, then a gazetteer of makers and model
families), patterns ("created by X", "up to 2023", "32k tokens") and decline phrases. Its
confidence says how sure the reading is; below UNSURE (several values, a value next to a decline,
a name only in a capitalised phrase the gazetteer does not know) the llm extractor, when the
analysis has one, is asked a short structured question, and its value goes through the same
normaliser, so "the Qwen team" from the llm and "Alibaba" from the rules are one value. Where both
read an answer alike, the value is solid (0.9); one llm reading alone is not (0.75), as with
stances (behaviordbg.analysis.evidence).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from ..types import AnswerValue

UNSURE = 0.7
"""Rules readings below this are re-read by the llm extractor when the analysis has one."""
SURE = 0.9  # a value in a pattern that says what it is ("created by X", "cutoff ... 2023")
PLAIN = 0.85  # one value mentioned once, not in such a pattern
AGREED = 0.9  # rules and llm read the same value
LLM = 0.75  # one llm reading: below behaviordbg.analysis.evidence.SOLID_CONFIDENCE on purpose

# --------------------------------------------------------------------------- gazetteers

ORGANISATIONS: dict[str, tuple[str, ...]] = {
    "Alibaba Cloud": ("alibaba cloud", "alibaba group", "alibaba", "aliyun", "qwen team",
                      "tongyi lab", "tongyi", "damo academy", "alibaba damo"),
    "OpenAI": ("openai", "open ai"),
    "Anthropic": ("anthropic",),
    "Google": ("google deepmind", "deepmind", "google brain", "google research", "google ai",
               "google"),
    "Meta": ("meta ai", "meta platforms", "facebook ai research", "facebook", "meta"),
    "Mistral AI": ("mistral ai", "mistral"),
    "Microsoft": ("microsoft research", "microsoft"),
    "Amazon": ("amazon web services", "aws", "amazon"),
    "DeepSeek": ("deepseek",),
    "xAI": ("xai",),
    "Cohere": ("cohere",),
    "Hugging Face": ("hugging face", "huggingface"),
    "IBM": ("ibm",),
    "NVIDIA": ("nvidia",),
    "Baidu": ("baidu",),
    "Tencent": ("tencent",),
    "Stability AI": ("stability ai",),
    "Zhipu AI": ("zhipu",),
    "01.AI": ("01.ai", "01 ai"),
}
"""Canonical maker -> lowercase aliases (longest first where one contains another)."""

MODEL_FAMILIES: dict[str, tuple[str, ...]] = {
    "Qwen": ("qwen", "tongyi qianwen", "qianwen"),
    "GPT": ("chatgpt", "gpt-4o", "gpt-4", "gpt-3.5", "gpt-3", "gpt-2", "gpt"),
    "Claude": ("claude",),
    "Gemini": ("gemini", "bard", "palm"),
    "Llama": ("llama", "code llama"),
    "Mistral": ("mistral", "mixtral"),
    "Phi": ("phi-1", "phi-2", "phi-3", "phi-4"),
    "DeepSeek": ("deepseek",),
    "Grok": ("grok",),
    "Gemma": ("gemma",),
    "Falcon": ("falcon",),
    "Command": ("command r", "command-r"),
    "ERNIE": ("ernie",),
    "BERT": ("bert",),
    "T5": ("t5",),
}
"""Canonical model family -> lowercase aliases. Model names are normalised to their family: a
model that calls itself "Qwen" in one sample and "Qwen2.5" in another names one model; "GPT-4" in
a third does not."""

FAMILY_MAKER: dict[str, str] = {
    "Qwen": "Alibaba Cloud", "GPT": "OpenAI", "Claude": "Anthropic", "Gemini": "Google",
    "Gemma": "Google", "Llama": "Meta", "Mistral": "Mistral AI", "Phi": "Microsoft",
    "DeepSeek": "DeepSeek", "Grok": "xAI", "Command": "Cohere", "ERNIE": "Baidu", "BERT": "Google",
    "T5": "Google",
}
"""A maker implied by a model name alone ("I am ChatGPT" to "who made you?"): a weak reading."""

MODALITIES: dict[str, tuple[str, ...]] = {
    "text": ("text", "written", "typed", "words", "messages", "questions", "prompts", "language"),
    "image": ("image", "picture", "photo", "visual", "screenshot", "diagram"),
    "audio": ("audio", "voice", "speech", "spoken", "sound file", "recording"),  # not "sound": a verb too
    "video": ("video",),
    "file": ("file", "document", "pdf", "spreadsheet", "attachment"),
}

# --------------------------------------------------------------------------- patterns

_DECLINE = re.compile(
    r"\b(?:i (?:do not|don't|dont) (?:know|have (?:any |specific |that |this |access to |enough )?"
    r"(?:information|details|knowledge|data|info|a (?:specific|fixed|set)))|"
    r"i'?m not (?:sure|aware|able to (?:say|tell|disclose|share|provide))|i am not (?:sure|aware|"
    r"able to (?:say|tell|disclose|share|provide))|i (?:can ?not|can't) (?:say|tell|disclose|"
    r"share|provide|reveal|confirm)|(?:is|are) not (?:publicly )?(?:disclosed|known|available)|"
    r"i have no (?:information|idea|knowledge|way of knowing)|unknown to me|not specified|"
    r"i (?:do not|don't|cannot|can't|am unable to|am not able to|lack)\b[^.;!?]{0,30}?\b"
    r"(?:access to real-time|real-time|the ability to (?:know|provide|tell|access)|"
    r"(?:have|know) (?:a |the )?current))",
    re.IGNORECASE,
)
_MADE = (r"(?:develop|creat|built|build|train|made|make|design|program|power|produc|own|"
         r"releas|invent|engineer|back|fine-?tun)\w*")
_BY = re.compile(rf"\b{_MADE}\s+(?:\w+\s+){{0,3}}?(?:by|at|from)\s+(?:the\s+)?", re.IGNORECASE)
_FROM = re.compile(r"\b(?:from|at|of|by)\s+(?:the\s+)?$", re.IGNORECASE)
_NEGATED = re.compile(
    r"(?:\bnot\b|n't\b|\bunlike\b|\brather than\b|\binstead of\b|\bnor\b|\bneither\b|"
    r"\bno affiliation\b|\bnot affiliated\b|\bindependent of\b|\bcompetitors? (?:like|such as)\b|"
    r"\bsuch as\b|\blike\b|\bother\b|\bincluding\b|\be\.g\.)[^.;!?]{0,30}$",
    re.IGNORECASE,
)
_NAME = (r"(?:[A-Z][\w.&'-]*|[0-9]+\.?[A-Z]+)(?:\s+(?:[A-Z][\w.&'-]*|of|and|&|for))*"
         r"(?:\s+(?:government|military|army|navy|university|institute|laboratory))?")
_CAPITALISED = re.compile(
    rf"\b{_MADE}\s+(?:\w+\s+){{0,2}}?(?:by|at)\s+(?:the\s+)?({_NAME})"
    rf"|\b(?:organi[sz]ation|company|lab|developer|creator|maker|team)\s+(?:that|which|who)\s+"
    rf"\w+\s+me\s+(?:is|was)\s+(?:the\s+)?({_NAME})"
    rf"|\b[Mm]y\s+(?:developer|creator|maker|builder)s?\s+(?:is|was|are|were)\s+(?:the\s+)?({_NAME})"
    rf"|^\s*(?:the\s+)?({_NAME})\s+(?:developed|created|built|trained|made|designed)\s+me\b"
    rf"|\bI(?:\s+am|'m)\s+from\s+(?:the\s+)?(?:[\w\s]{{0,30}}?\sat\s+(?:the\s+)?)?({_NAME})"
)
"""A name the gazetteer does not know, where the answer says it made the model: "trained by the
University of California", "The organisation that built me is Apple Inc."."""
_NAME_LIKE = re.compile(r"\b(?!I\b|AI\b)[A-Z][\w.&'-]*\s+[A-Z][\w.&'-]+|\b[A-Z][a-z]+[A-Z]\w*")
"""Two capitalised words in a row, or a camel-case word ("OpenAI"): perhaps a name."""
_VAGUE = re.compile(r"^(?:a|an|the|team|group|researchers?|engineers?|developers?|i|my)\b", re.I)
_YEAR = re.compile(r"\b(19[89]\d|20[0-4]\d)\b")
_YEAR_CUE = re.compile(
    r"(?:cut-?off|until|up to|up until|through|as of|last (?:update|trained)|trained|knowledge|"
    r"data|information|extends|goes|ends?|since|latest|recent|in)\W+(?:\w+\W+){0,4}$",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s*(k|K|thousand|million|M)?\b"
    r"(?:\s*-?\s*(tokens?|characters?|chars|words?))?"
)
_UNIT_LATER = re.compile(r"^[^.\d]{0,40}?\b(tokens?|characters?|chars|words?)\b", re.IGNORECASE)
_SPLIT = re.compile(r"(?<=[.!?;])\s+|\s+(?:but|however|although|though|while|whereas)\s+|,\s+",
                    re.IGNORECASE)
_ONLY = re.compile(r"\bonly\b|\bjust\b|\bsolely\b|\bexclusively\b|text-only|text only",
                   re.IGNORECASE)
_NEG_CLAUSE = re.compile(
    r"\b(?:not|cannot|can't|can ?not|unable|no|don't|do not|isn't|aren't|without|neither|nor|"
    r"won't|beyond)\b", re.IGNORECASE)


@dataclass(frozen=True)
class ValueInput:
    """What an extractor sees: one answer to an open question, and what kind of value it asks."""

    response_id: str
    prompt: str
    response: str
    value_type: str = "text"
    claim: str = ""
    claim_id: str = ""
    aliases: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Extra canonical value -> aliases (the manifest's declared value), checked first."""


# --------------------------------------------------------------------------- helpers


def _alias_re(alias: str) -> re.Pattern[str]:
    body = re.escape(alias).replace(r"\ ", r"[\s-]+")
    return re.compile(rf"(?<![\w-]){body}(?![\w]|-(?!\d))", re.IGNORECASE)


_ALIAS_CACHE: dict[str, re.Pattern[str]] = {}


def _find(text: str, table: Mapping[str, Sequence[str]]) -> list[tuple[int, str, str]]:
    """(position, canonical, matched words) of every alias mention, longest alias per place."""
    hits: list[tuple[int, int, str, str]] = []
    for canon, aliases in table.items():
        for alias in sorted(aliases, key=len, reverse=True):
            pat = _ALIAS_CACHE.get(alias.lower())
            if pat is None:
                pat = _ALIAS_CACHE[alias.lower()] = _alias_re(alias.lower())
            for m in pat.finditer(text):
                hits.append((m.start(), m.end(), canon, m.group(0)))
    hits.sort(key=lambda h: (h[0], -(h[1] - h[0])))
    out: list[tuple[int, str, str]] = []
    end = -1
    for start, stop, canon, words in hits:
        if start >= end:
            out.append((start, canon, words))
            end = stop
    return out


_DOUBLE = re.compile(r"\bnot\b[^.;!?]{0,40}\bother than\s+(?:the\s+)?$", re.IGNORECASE)


def _negated_before(text: str, pos: int) -> bool:
    """A mention after "not", "unlike", "such as" ... is not the model's own value; one after
    "not ... other than" is (a double negation: "not made by a company other than OpenAI")."""
    before = text[max(0, pos - 60):pos]
    if _DOUBLE.search(before):
        return False
    return bool(_NEGATED.search(before[-40:]))


def _clean_name(name: str) -> str:
    """"Apple Inc." -> "Apple", "Zebra Labs and" -> "Zebra Labs"."""
    name = " ".join(name.split()).rstrip(".")
    name = re.sub(r"(?:\s+(?:of|and|&|for))+$", "", name)
    return re.sub(r"\s+(?:Inc|Ltd|LLC|Corp|Co)\.?$", "", name)


def _declines(text: str) -> bool:
    return bool(_DECLINE.search(text))


def _result(item: ValueInput, status: str, value: str = "", raw: str = "", conf: float = 0.0,
            why: str = "") -> AnswerValue:
    return AnswerValue(item.response_id, status, value, raw[:120], round(conf, 4), "rules",  # type: ignore[arg-type]
                       item.value_type, why)


def canonical(value: str, value_type: str, aliases: Mapping[str, Sequence[str]] = {}) -> str:
    """A value in any spelling -> its canonical form for this value type (for llm readings and
    a manifest's declared value): "the Qwen team" -> "Alibaba Cloud", "32k" -> "32768"."""
    v = value.strip().strip(".\"'")
    if not v:
        return ""
    if aliases:
        hits = _find(v, aliases)
        if hits:
            return hits[0][1]
    if value_type in ("organisation", "model_name"):
        table = ORGANISATIONS if value_type == "organisation" else MODEL_FAMILIES
        hits = _find(v, table)
        if hits:
            return hits[0][1]
        return " ".join(v.split())
    if value_type == "year":
        m = _YEAR.search(v)
        return m.group(1) if m else ""
    if value_type == "number":
        nums = _numbers(v)
        return nums[0][1] if nums else ""
    if value_type == "modality":
        found = {c for c, words in MODALITIES.items() for w in words
                 if re.search(rf"\b{w}s?\b", v, re.IGNORECASE)}
        return "+".join(sorted(found))
    return " ".join(v.split())


# --------------------------------------------------------------------------- per type


_CALLED = re.compile(
    r"\b(?:my name is|i am called|i'm called|call me|you can call me|i go by)\s+"
    r"([A-Z][\w.-]*(?:\s+[A-Z][\w.-]*)*)", re.IGNORECASE)
_GENERIC_NAMES = {"ai", "assistant", "an", "a", "the", "chatbot", "bot", "model"}


def _called(item: ValueInput) -> AnswerValue | None:
    """A model_name answer that gives a name no gazetteer knows ("My name is John")."""
    m = _CALLED.search(item.response)
    if m is None or not m.group(1)[0].isupper():
        return None
    name = _clean_name(m.group(1))
    if name.casefold() in _GENERIC_NAMES:
        return None
    return _result(item, "value", name, name, PLAIN, "a name it says it has ('my name is')")


def _entity(item: ValueInput, table: Mapping[str, Sequence[str]]) -> AnswerValue:
    text = item.response
    tables: list[Mapping[str, Sequence[str]]] = [item.aliases, table] if item.aliases else [table]
    hits: list[tuple[int, str, str]] = []
    for t in tables:
        hits = _find(text, t)
        if hits:
            break
    hits = [h for h in hits if not _negated_before(text, h[0])]
    declines = _declines(text)
    if item.value_type == "organisation" and not hits:
        families = [h for h in _find(text, MODEL_FAMILIES) if not _negated_before(text, h[0])]
        makers = {FAMILY_MAKER[c] for _, c, _ in families if c in FAMILY_MAKER}
        if len(makers) == 1:
            maker = makers.pop()
            return _result(item, "value", maker, families[0][2], 0.6,
                           f"names the model {families[0][1]}, whose maker is {maker}")
    if not hits and item.value_type == "model_name":
        named = _called(item)
        if named is not None:
            return named
    if not hits and item.value_type == "organisation":
        said = [(x.start(i), g) for x in _CAPITALISED.finditer(text)
                for i, g in enumerate(x.groups(), 1) if g]
        said = [(pos, g) for pos, g in said  # "I was not made by OpenAI" names no maker
                if not _negated_before(text, pos) and not _VAGUE.match(g)]
        found = said[0][1] if said else None
        if found:
            name = _clean_name(found)
            others = {_clean_name(g) for _, g in said} - {name}
            conf = 0.6 if (declines or others) else PLAIN
            return _result(item, "value", name, name, conf,
                           "a name the gazetteer does not know, said to have made it")
    if not hits:
        if declines:
            return _result(item, "declines", conf=0.85, why="says it does not know or cannot say")
        if _NAME_LIKE.search(text):  # "Quokka Systems is my maker": a name no rule reads
            return _result(item, "none", conf=0.6, why="no known value, but a name-like phrase")
        return _result(item, "none", conf=0.8, why="names no value of this kind")
    values = list(dict.fromkeys(c for _, c, _ in hits))
    strong = [h for h in hits if _BY.search(text[max(0, h[0] - 60):h[0]])
              or _FROM.search(text[max(0, h[0] - 12):h[0]])]
    strong_values = list(dict.fromkeys(c for _, c, _ in strong))
    if len(values) == 1:
        conf = SURE if strong else PLAIN
        if declines:
            conf = 0.6
        why = "named in a 'made by' phrase" if strong else "the only value named"
        return _result(item, "value", values[0], hits[0][2], conf,
                       why + (" (next to a decline)" if declines else ""))
    if len(strong_values) == 1:
        pick = strong[0]
        return _result(item, "value", pick[1], pick[2], 0.8 if not declines else 0.6,
                       f"several values named ({', '.join(values)}); one in a 'made by' phrase")
    return _result(item, "value", values[0], hits[0][2], 0.5,
                   f"several values named ({', '.join(values)}): unsure")


def _year(item: ValueInput) -> AnswerValue:
    text = item.response
    years = [(m.start(), m.group(1)) for m in _YEAR.finditer(text)]
    declines = _declines(text)
    if not years:
        if declines:
            return _result(item, "declines", conf=0.85, why="says it does not know or cannot say")
        return _result(item, "none", conf=0.8, why="names no year")
    distinct = list(dict.fromkeys(y for _, y in years))
    cued = [(p, y) for p, y in years if _YEAR_CUE.search(text[max(0, p - 50):p])]
    if len(distinct) == 1:
        conf = SURE if cued else PLAIN
        return _result(item, "value", distinct[0], distinct[0], 0.6 if declines else conf,
                       "the only year named" + (" (next to a decline)" if declines else ""))
    cued_distinct = list(dict.fromkeys(y for _, y in cued))
    if len(cued_distinct) == 1:
        return _result(item, "value", cued_distinct[0], cued_distinct[0], 0.75,
                       f"several years ({', '.join(distinct)}); one after a cue word")
    return _result(item, "value", max(distinct), max(distinct), 0.5,
                   f"several years named ({', '.join(distinct)}): unsure, took the latest")


def _scale(num: str, mult: str | None) -> int:
    n = float(num.replace(",", ""))
    m = (mult or "").lower()
    if m in ("k", "thousand"):
        whole = int(n)
        # 4k, 8k, 32k, 128k of tokens are powers of two: 32k is 32768, not 32000
        n = whole * 1024 if n == whole and whole > 0 and whole & (whole - 1) == 0 else n * 1000
    elif m in ("m", "million"):
        n *= 1_000_000
    return int(round(n))


def _numbers(text: str) -> list[tuple[int, str, str]]:
    """(position, canonical, words) of numbers with a unit of text length; unitless ones last."""
    out: list[tuple[int, str, str]] = []
    for m in _NUMBER.finditer(text):
        num, mult, unit = m.group(1), m.group(2), m.group(3)
        if _YEAR.fullmatch(num) and not unit and not mult:
            continue  # "as of 2023" is a year, not a length
        if not unit:
            later = _UNIT_LATER.match(text[m.end():])
            unit = later.group(1) if later else None
        value = _scale(num, mult)
        if value <= 1:
            continue
        u = (unit or "").lower().rstrip("s")
        u = {"char": "character"}.get(u, u)
        canon = str(value) if u in ("token", "") else f"{value} {u}s"
        out.append((m.start() if unit else 10**9 + m.start(), canon, m.group(0)))
    out.sort()
    return out


def _number(item: ValueInput) -> AnswerValue:
    text = item.response
    nums = _numbers(text)
    declines = _declines(text)
    if not nums:
        if declines:
            return _result(item, "declines", conf=0.85, why="says it does not know or cannot say")
        return _result(item, "none", conf=0.8, why="names no number")
    with_unit = [n for n in nums if n[0] < 10**9]
    distinct = list(dict.fromkeys(c for _, c, _ in (with_unit or nums)))
    if len(distinct) == 1:
        conf = (SURE if with_unit else 0.65) if not declines else 0.6
        return _result(item, "value", distinct[0], (with_unit or nums)[0][2], conf,
                       "the only length named" if with_unit else "a number without a unit")
    return _result(item, "value", distinct[0], (with_unit or nums)[0][2], 0.5,
                   f"several lengths named ({', '.join(distinct)}): unsure, took the first")


def _modality(item: ValueInput) -> AnswerValue:
    text = item.response
    pos: set[str] = set()
    neg: set[str] = set()
    only = False
    for clause in _SPLIT.split(text):
        found = {c for c, words in MODALITIES.items() for w in words
                 if re.search(rf"\b{w}s?\b", clause, re.IGNORECASE)}
        if not found:
            continue
        if _NEG_CLAUSE.search(clause):
            neg |= found - ({"text"} if _ONLY.search(clause) else set())
            if _ONLY.search(clause) and "text" in found:
                pos.add("text")
                only = True
        else:
            pos |= found
            only = only or bool(_ONLY.search(clause))
    if only:
        pos = {"text"} | (pos - neg if len(pos) > 1 else set())
    pos -= neg - {"text"} if "text" in pos else neg
    declines = _declines(text)
    if not pos:
        if neg:  # "I can't see images or hear audio": still reads text, the question's medium
            return _result(item, "value", "text", text[:60], 0.7,
                           "denies every other medium; text is implied")
        if declines:
            return _result(item, "declines", conf=0.85, why="says it does not know or cannot say")
        return _result(item, "none", conf=0.8, why="names no kind of input")
    value = "+".join(sorted(pos))
    both = pos & neg
    conf = 0.55 if both else (0.85 if (only or len(pos) == 1 or neg) else 0.8)
    why = f"reads: {', '.join(sorted(pos))}" + (f"; denies: {', '.join(sorted(neg))}" if neg else "")
    return _result(item, "value", value, text[:60], conf, why)


def _text(item: ValueInput) -> AnswerValue:
    if item.aliases:
        got = _entity(item, {})
        if got.status == "value":
            return got
    if _declines(item.response):
        return _result(item, "declines", conf=0.85, why="says it does not know or cannot say")
    first = re.split(r"(?<=[.!?])\s", item.response.strip(), maxsplit=1)[0]
    return _result(item, "value", first.strip().rstrip("."), first, 0.5,
                   "no normaliser: the first sentence, clustered as text")


def extract(item: ValueInput) -> AnswerValue:
    """The rules extractor: one answer -> its value, with how sure the reading is."""
    if not (item.response or "").strip():
        return _result(item, "none", conf=0.8, why="empty answer")
    t = item.value_type
    if t == "organisation":
        return _entity(item, ORGANISATIONS)
    if t == "model_name":
        return _entity(item, MODEL_FAMILIES)
    if t == "year":
        return _year(item)
    if t == "number":
        return _number(item)
    if t == "modality":
        return _modality(item)
    return _text(item)


def combine(rules: AnswerValue, llm: AnswerValue) -> AnswerValue:
    """An unsure rules reading and the llm's: agreement is solid, otherwise the llm's reading at
    its own (weak) confidence, with both named."""
    if llm.status == "error":
        return replace(rules, rationale=rules.rationale + f"; llm failed: {llm.rationale}"[:200])
    both = f"rules={rules.status}:{rules.value} {llm.extractor}={llm.status}:{llm.value}"
    if (llm.status, llm.value) == (rules.status, rules.value):
        return replace(rules, confidence=AGREED, extractor=f"rules+{llm.extractor}",
                       rationale=f"{rules.rationale}; the llm read the same ({both})")
    if rules.status == "value" and llm.status != "value":
        # the rules saw the value's words in the answer; an llm that reads no value there is more
        # often wrong than they are (measured: the embedded model read "declines" for all 22
        # answers it was asked about, values included; BENCHMARKS.md)
        return replace(rules, rationale=f"{rules.rationale}; readings differ ({both})")
    return replace(llm, rationale=f"{llm.rationale}; readings differ ({both})")
