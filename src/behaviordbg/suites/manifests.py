"""Deployment manifests: what the deployment under test really can do. The default is a plain
chat model (no tools, memory or browsing); shipped ones are named (`chat`, `agent-with-tools`)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import SuiteError, SuiteErrors
from ..types import Manifest, Suite, Tool
from .expand import all_claims, all_rules
from .load import ManifestModel, default_probes_dir, parse_model
from .yaml_doc import Path_, check_schema, closest, read_yaml, show_path

DEFAULT_CAPABILITIES: tuple[str, ...] = (
    "embodiment",
    "vision",
    "camera",
    "hearing",
    "voice",
    "browsing",
    "clock",
    "memory",
    "learning",
    "tools",
    "alarms",
    "reminders",
    "phone",
    "email",
    "files",
    "payments",
    "code_execution",
)

DEFAULT_MANIFEST = Manifest(
    name="chat",
    capabilities={k: False for k in DEFAULT_CAPABILITIES},
)
"""A plain chat model: text in, text out; no tools, memory, browsing, clock or senses but text."""


def _shipped_manifest(name: str) -> Path | None:
    try:
        d = default_probes_dir() / "manifests"
    except SuiteError:
        return None
    for ext in (".yaml", ".yml"):
        if (d / f"{name}{ext}").is_file():
            return d / f"{name}{ext}"
    return None


def load_manifest(path: str | Path | None) -> Manifest:
    """A deployment manifest from a file (or a shipped one by name); None -> DEFAULT_MANIFEST."""
    if path is None:
        return DEFAULT_MANIFEST
    p = Path(path)
    if not p.exists() and p.suffix == "" and os.sep not in str(path):
        p = _shipped_manifest(str(path)) or p
    if not p.is_file():
        raise SuiteErrors(
            [
                SuiteError(
                    str(path),
                    None,
                    "manifest file not found",
                    "pass a manifest .yaml path, or a shipped name (chat, agent-with-tools)",
                )
            ]
        )
    doc = read_yaml(p, "manifest")
    if not doc.errors:
        check_schema(doc, "manifest")
    model = parse_model(doc, ManifestModel) if not doc.errors else None
    if doc.errors or model is None:
        raise SuiteErrors(sorted(doc.errors, key=lambda e: e.line or 0))
    tools = tuple(
        Tool(
            name=t.function.name,
            description=t.function.description,
            parameters=dict(t.function.parameters),
            provides=tuple(dict.fromkeys(t.provides)),
            result=t.result if isinstance(t.result, str)
            else json.dumps(t.result, ensure_ascii=False, sort_keys=True),
        )
        for t in model.tools
    )
    capabilities = dict(model.capabilities)
    for tool in tools:  # a tool the deployment offers makes its capabilities true
        for cap in tool.provides:
            capabilities.setdefault(cap, True)
    return Manifest(
        name=model.manifest.strip(),
        capabilities=capabilities,
        claim_truth=dict(model.claims),
        path=str(p),
        claim_values={
            k: (v.value.strip(), *(a.strip() for a in v.aliases if a.strip()))
            for k, v in model.values.items()
        },
        tools=tools,
    )



def _unknown(where: str, line: int | None, key: str, known: Sequence[str], message: str,
             otherwise: str) -> SuiteError:
    """A manifest key that names nothing loaded: the closest known name as the fix, else `otherwise`."""
    close = closest(key, known)
    return SuiteError(where, line, message, f"did you mean `{close}`?" if close else otherwise)


def check_manifest(manifest: Manifest, suites: Sequence[Suite]) -> list[SuiteError]:
    """Problems of a manifest against loaded suites: keys no claim uses (likely typos: `browse`
    for `browsing`), and declared truths that break a rule, which would blame the model for it."""
    caps = sorted({c.capability for s in suites for c in s.claims if c.capability})
    ids = sorted(all_claims(suites))
    where = show_path(Path(manifest.path)) if manifest.path else manifest.name
    lines = _manifest_lines(manifest.path)
    out: list[SuiteError] = []
    implied = {cap for t in manifest.tools for cap in t.provides} - {
        k[1] for k in lines if len(k) == 2 and k[0] == "capabilities"}
    for key in manifest.capabilities:
        if key in implied:
            continue  # set by a tool's `provides`: reported there, with its line
        if key not in caps and key not in DEFAULT_CAPABILITIES:
            out.append(_unknown(where, lines.get(("capabilities", key)), key, caps,
                                f"capability `{key}` is used by no loaded claim",
                                f"known capabilities: {', '.join(caps)}"))
    for key in manifest.claim_truth:
        if key not in ids:
            out.append(_unknown(where, lines.get(("claims", key)), key, ids,
                                f"claim `{key}` is defined by no loaded suite",
                                "list claim ids with: behaviordbg suites list"))
    claims = all_claims(suites)
    for key in manifest.claim_values:
        if key not in claims or not claims[key].is_open:
            opens = sorted(c for c in ids if claims[c].is_open)
            out.append(_unknown(where, lines.get(("values", key)), key, opens,
                                f"`values` names `{key}`, which is no open claim of the loaded suites",
                                f"open claims: {', '.join(opens) or 'none loaded'}; yes/no claims go"
                                " under `claims:`"))
    return out + _tool_problems(manifest, caps, where, lines) + _rule_breaks(
        manifest, suites, where, lines)


def _tool_problems(
    manifest: Manifest, caps: Sequence[str], where: str, lines: dict[Path_, int]
) -> list[SuiteError]:
    """Tools named twice, and `provides` that no claim uses (a typo: a call would answer nothing)
    or that the manifest's own `capabilities` declare false (the deployment would contradict
    itself: offering `set_alarm` while saying it cannot set alarms)."""
    out: list[SuiteError] = []
    seen: set[str] = set()
    known = sorted(set(caps) | set(DEFAULT_CAPABILITIES))
    for i, tool in enumerate(manifest.tools):
        at = lines.get(("tools", i, "function", "name")) or lines.get(("tools", i))
        if tool.name in seen:
            out.append(SuiteError(where, at, f"tool `{tool.name}` is declared twice",
                                  "give each tool its own name, or drop one"))
        seen.add(tool.name)
        for cap in tool.provides:
            if cap not in known:
                out.append(_unknown(where, lines.get(("tools", i, "provides")) or at, cap, known,
                                    f"tool `{tool.name}` provides `{cap}`, which no loaded claim uses",
                                    f"known capabilities: {', '.join(known)}"))
            elif manifest.capabilities.get(cap) is False:
                out.append(SuiteError(
                    where, lines.get(("capabilities", cap)) or at,
                    f"tool `{tool.name}` provides `{cap}`, but `capabilities` says `{cap}: false`",
                    f"set `{cap}: true`, or drop `{cap}` from the tool's `provides`",
                ))
    return out


def _rule_breaks(
    manifest: Manifest, suites: Sequence[Suite], where: str, lines: dict[Path_, int]
) -> list[SuiteError]:
    """Rules that the manifest's own truths violate (browsing: true but clock: false)."""
    claims = all_claims(suites)
    out: list[SuiteError] = []
    for r in all_rules(suites):
        w, t = claims.get(r.when.claim), claims.get(r.then.claim)
        if w is None or t is None:
            continue
        tw, tt = manifest.truth_of(w), manifest.truth_of(t)
        if tw is None or tt is None or tw != r.when.value or tt == r.then.value:
            continue
        key: Path_
        if t.id in manifest.claim_truth:
            key = ("claims", t.id)
            fix = f"set `claims: {{{t.id}: {str(r.then.value).lower()}}}`"
        elif t.capability and t.capability in manifest.capabilities:
            key = ("capabilities", t.capability)
            fix = f"set `{t.capability}: {str(r.then.value).lower()}`"
        else:
            key = ("capabilities",)
            fix = f"add `claims: {{{t.id}: {str(r.then.value).lower()}}}`"
        out.append(
            SuiteError(
                where,
                lines.get(key) or lines.get(("capabilities",)),
                f"this manifest makes `{r.when}` true but `{r.then}` false, which breaks rule "
                f"{r.id} ({r.when} => {r.then}, suite {r.suite})",
                f"{fix}, or change the other side; a deployment that breaks a rule would make "
                "every consistent answer look like a bug",
            )
        )
    return out


def _manifest_lines(path: str | None) -> dict[Path_, int]:
    if not path:
        return {}
    doc = read_yaml(Path(path), "manifest")
    return doc.lines
