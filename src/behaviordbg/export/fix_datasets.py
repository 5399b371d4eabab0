"""Fix datasets as files: SFT or DPO JSONL, a metadata sidecar, a datasheet, the trained prompts.

Not a ticket format (behaviordbg.export.FORMATS renders a bug payload; these need the run's
answers, so behaviordbg.pipeline.fix_data builds a `FixDataset` and this module only renders it).
`--out F` (e.g. fix.jsonl) writes four files side by side:

- F: the data, one example per line.
  * sft: OpenAI's chat fine-tuning format, `{"messages": [...]}`: the suite's system prompt, its
    context turns (the context's assistant turns carry `"weight": 0`, OpenAI's documented key for
    "do not train on this turn", so only the final answer is learnt), the user prompt and the
    truthful assistant answer.
  * dpo: TRL's *conversational preference* form with an explicit prompt, which DPOTrainer reads:
    `{"prompt": [system, context..., user], "chosen": [{"role": "assistant", ...}],
    "rejected": [{"role": "assistant", ...}]}`; the rejected answer is the model's wrong one.
  The data lines carry no other keys: OpenAI's file validation rejects unknown top-level keys
  (TRL would pass them through as extra columns), so every line stays uploadable as it is.
- F's stem + `.meta.jsonl`: one line per data line, same order, `{"line": n, "fingerprint": ...}`
  with the bug fingerprint(s), claim, kind, framing, truth, and where the chosen answer came from.
- F's stem + `.prompts.json`: the prompts trained on, per claim (held-out bookkeeping:
  `behaviordbg diff BASE NEW --heldout F` separates these from the claim's other prompts).
- F's stem + `.datasheet.md`: counts per claim, kind and source, skipped counts, the command.

Model text goes into JSONL whole (escape.jsonl_line: the JSON encoder escapes what it must, since
training data must be the model's exact words) and into the datasheet through escape.md_inline.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..analysis.fixdata import SOURCES, FixDataset, FixExample
from ..escape import jsonl_line, md_code_inline, md_inline
from ..types import Message

DATASET_FORMATS: dict[str, str] = {
    "sft": "fix dataset: OpenAI chat fine-tuning JSONL of truthful answers to the bugs' prompts",
    "dpo": "fix dataset: TRL DPOTrainer preference JSONL (prompt/chosen/rejected, conversational)",
}
PROMPTS_VERSION = 1


@dataclass(frozen=True)
class DatasetFiles:
    """Where a fix dataset was written."""

    data: Path
    meta: Path
    prompts: Path
    datasheet: Path

    def to_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items()}


def sibling_paths(data: Path) -> DatasetFiles:
    """The sidecar files of a data file: fix.jsonl -> fix.meta.jsonl, fix.prompts.json, ..."""
    stem = data.name[: -len(data.suffix)] if data.suffix else data.name
    return DatasetFiles(data, data.with_name(stem + ".meta.jsonl"),
                        data.with_name(stem + ".prompts.json"),
                        data.with_name(stem + ".datasheet.md"))


def _msg(m: Message, *, context_reply: bool = False) -> dict[str, Any]:
    d: dict[str, Any] = {"role": m.role, "content": m.content}
    if context_reply:
        d["weight"] = 0
    return d


def sft_record(ex: FixExample) -> dict[str, Any]:
    """{"messages": [system?, context turns (assistant ones weight 0), user, assistant]}."""
    *head, last = ex.messages
    msgs = [_msg(m, context_reply=m.role == "assistant") for m in head]
    msgs += [_msg(last), {"role": "assistant", "content": ex.chosen.text}]
    return {"messages": msgs}


def dpo_record(ex: FixExample) -> dict[str, Any]:
    """TRL conversational preference with explicit prompt."""
    return {"prompt": [_msg(m) for m in ex.messages],
            "chosen": [{"role": "assistant", "content": ex.chosen.text}],
            "rejected": [{"role": "assistant", "content": ex.wrong.answer.text}]}


def meta_record(line: int, ex: FixExample, ds: FixDataset) -> dict[str, Any]:
    w, c = ex.wrong, ex.chosen
    return {
        "line": line, "fingerprint": w.fingerprints[0], "fingerprints": list(w.fingerprints),
        "kinds": list(w.kinds), "claim_id": w.answer.claim_id, "suite": ex.suite,
        "framing": w.answer.framing, "prompt": w.answer.prompt, "truth": w.truth,
        "truth_from": w.truth_from, "rejected_stance": w.stance,
        "rejected_response_id": w.answer.response_id, "chosen_source": c.source,
        "chosen_response_id": c.response_id, "chosen_prompt": c.prompt,
        "chosen_stance": c.stance, "chosen_confidence": round(c.confidence, 4),
        "chosen_judge": c.judge, "run_id": ds.run_id, "model": ds.model,
    }


def render_data(fmt: str, ds: FixDataset) -> str:
    make = sft_record if fmt == "sft" else dpo_record
    return "".join(jsonl_line(make(ex)) + "\n" for ex in ds.examples)


def render_meta(ds: FixDataset) -> str:
    return "".join(jsonl_line(meta_record(i, ex, ds)) + "\n"
                   for i, ex in enumerate(ds.examples, 1))


def prompts_doc(fmt: str, ds: FixDataset) -> dict[str, Any]:
    """The trained prompts, per (claim, framing, prompt), with the truth they were trained to."""
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for ex in ds.examples:
        w = ex.wrong
        key = (w.answer.claim_id, w.answer.framing, w.answer.prompt)
        row = rows.setdefault(key, {"claim_id": key[0], "framing": key[1], "prompt": key[2],
                                    "truth": w.truth, "fingerprints": [], "examples": 0})
        row["examples"] += 1
        row["fingerprints"] = list(dict.fromkeys(row["fingerprints"] + list(w.fingerprints)))
    return {"behaviordbg_fix_prompts": PROMPTS_VERSION, "run_id": ds.run_id, "model": ds.model,
            "format": fmt, "fingerprints": [b["fingerprint"] for b in ds.bugs],
            "prompts": [rows[k] for k in sorted(rows)]}


def datasheet(fmt: str, ds: FixDataset, files: DatasetFiles, command: str) -> str:
    """The dataset's Markdown datasheet: what it holds, where each answer came from, what was
    left out, and the command that made it."""
    per_claim: dict[str, Counter[str]] = defaultdict(Counter)
    per_kind: Counter[str] = Counter()
    per_source: Counter[str] = Counter()
    per_bug: Counter[str] = Counter()
    for ex in ds.examples:
        per_claim[ex.wrong.answer.claim_id][ex.chosen.source] += 1
        per_source[ex.chosen.source] += 1
        for k in ex.wrong.kinds:
            per_kind[k] += 1
        for fp in ex.wrong.fingerprints:
            per_bug[fp] += 1
    kind_form = ("OpenAI chat fine-tuning JSONL (`{\"messages\": [...]}`; context assistant turns"
                 " carry `\"weight\": 0`, so only the final answer is trained)" if fmt == "sft"
                 else "TRL DPOTrainer conversational preference JSONL with an explicit prompt"
                      " (`prompt`: list of messages; `chosen`/`rejected`: one assistant message)")
    out = [
        f"# Fix dataset ({fmt}) from run {md_code_inline(ds.run_id)}", "",
        f"- **Model:** {md_inline(ds.model)}  **Judge:** {md_inline(ds.judge)}"
        f"  **Analysis:** {md_code_inline(ds.analysis_id)}",
        f"- **Bugs:** {len(ds.bugs)} with status {', '.join(ds.statuses)}",
        f"- **Examples:** {len(ds.examples)}; skipped: {sum(ds.skipped.values())}",
        f"- **Format:** {kind_form}",
        f"- **Created:** {md_inline(ds.created_at)}", "",
        "Made with:", "", "```sh", command.replace("`", "'"), "```", "",
        "## Files", "",
        f"- `{files.data.name}`: the data, one example per line",
        f"- `{files.meta.name}`: metadata per data line (`line` = line number in the data, from"
        " 1): bug fingerprint(s), claim, kind, truth, source of the chosen answer",
        f"- `{files.prompts.name}`: the trained prompts (for `behaviordbg diff BASE NEW"
        f" --heldout {files.data.name}`)", "",
        "## Examples per claim", "",
        "| claim | examples | " + " | ".join(SOURCES) + " |",
        "|---|---|" + "---|" * len(SOURCES),
    ]
    for claim in sorted(per_claim):
        c = per_claim[claim]
        out.append(f"| {md_inline(claim)} | {sum(c.values())} | "
                   + " | ".join(str(c[s]) for s in SOURCES) + " |")
    out += ["", "## Examples per bug kind", "", "| kind | examples |", "|---|---|"]
    out += [f"| {md_inline(k)} | {n} |" for k, n in sorted(per_kind.items())]
    out += ["", "An answer in the evidence of two bugs is one example, counted under both.", "",
            "## Source of the chosen (truthful) answer", "", "| source | examples | meaning |",
            "|---|---|---|"]
    meaning = {"own_sample": "another sample of the same prompt, the model's own words",
               "own_paraphrase": "the model's own answer to another prompt of the claim, same"
                                 " framing",
               "teacher": "the teacher endpoint, told the fact; kept only on a solid judge"
                          " verdict of the truthful stance"}
    out += [f"| {s} | {per_source[s]} | {meaning[s]} |" for s in SOURCES]
    if per_source["own_paraphrase"]:
        out += ["", "An `own_paraphrase` answer was written for another prompt of the claim (its"
                    " prompt is `chosen_prompt` in the metadata): it takes the right stance, but"
                    " may name specifics of that prompt. Review those lines before training."]
    out += ["", "## Skipped", ""]
    if ds.skipped:
        out += ["| reason | answers |", "|---|---|"]
        out += [f"| {md_inline(r)} | {n} |" for r, n in sorted(ds.skipped.items())]
    else:
        out.append("Nothing was skipped.")
    if ds.teacher:
        t = ds.teacher
        out += ["", f"Teacher {md_inline(str(t.get('model')))}: asked {t.get('asked')},"
                    f" answered {t.get('answered')}, kept {t.get('kept')}, rejected by the judge"
                    f" {t.get('rejected')}, failed requests {t.get('failed')}."]
    out += ["", "## Bugs", "", "| fingerprint | kind | claims | status | examples |",
            "|---|---|---|---|---|"]
    out += [f"| {md_code_inline(b['fingerprint'])} | {md_inline(b['kind'])} |"
            f" {md_inline(', '.join(b['claims']))} | {md_inline(b['status'])} |"
            f" {per_bug[b['fingerprint']]} |" for b in ds.bugs]
    prompts = prompts_doc(fmt, ds)["prompts"]
    out += ["", "## Trained prompts (held-out bookkeeping)", "",
            "Every other prompt of these claims is held out: a fix that holds only on these is"
            " flagged by `behaviordbg diff BASE NEW --heldout`.", "",
            "| claim | framing | truth | examples | prompt |", "|---|---|---|---|---|"]
    out += [f"| {md_inline(p['claim_id'])} | {md_inline(p['framing'])} | {p['truth']} |"
            f" {p['examples']} | {md_inline(p['prompt'], 200)} |" for p in prompts]
    return "\n".join(out) + "\n"


DUPLICATE = "duplicate of another example (same conversation and answers)"


def unique(fmt: str, ds: FixDataset) -> FixDataset:
    """The dataset without repeated records (two samples that said the same wrong words, answered
    with the same truthful one, make one example, not two), the repeats counted as skipped."""
    make = sft_record if fmt == "sft" else dpo_record
    seen: set[str] = set()
    kept = []
    for ex in ds.examples:
        key = jsonl_line(make(ex))
        if key not in seen:
            seen.add(key)
            kept.append(ex)
    dropped = len(ds.examples) - len(kept)
    if not dropped:
        return ds
    skipped = ds.skipped.copy()
    skipped[DUPLICATE] += dropped
    return replace(ds, examples=kept, skipped=skipped)


def write_dataset(fmt: str, ds: FixDataset, target: Path, command: str
                  ) -> tuple[DatasetFiles, FixDataset]:
    """Write the data (repeats dropped), its metadata sidecar, the trained prompts and the
    datasheet. Returns the files and the dataset as written."""
    ds = unique(fmt, ds)
    files = sibling_paths(target)
    files.data.write_text(render_data(fmt, ds), encoding="utf-8", newline="\n")
    files.meta.write_text(render_meta(ds), encoding="utf-8", newline="\n")
    files.prompts.write_text(json.dumps(prompts_doc(fmt, ds), indent=2, ensure_ascii=False) + "\n",
                             encoding="utf-8")
    files.datasheet.write_text(datasheet(fmt, ds, files, command), encoding="utf-8")
    return files, ds
