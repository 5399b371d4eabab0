"""Request keys: what makes two model requests the same request.

A key is the sha256 of the canonical JSON of every parameter that can change the model's output
(model, endpoint, messages, sampling parameters, extra body fields) plus the sample index, so sample
2 of a prompt is cached apart from sample 1 and a rerun of the same run sends zero requests. The base
URL goes in redacted, so credentials embedded in a URL never reach the cache table.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, is_dataclass
from typing import Any

from .types import GenParams, Message
from .urls import redact_url


def _default(obj: Any) -> Any:
    """Make dataclasses, tuples of pairs and sets serialisable in a stable way."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return asdict(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=repr)
    raise TypeError(f"not JSON-serialisable for a cache key: {type(obj).__name__}")


def canonical_json(obj: Any) -> str:
    """One spelling per value: sorted keys, no whitespace, unicode kept as is."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    )


def request_key(kind: str, payload: dict[str, Any]) -> str:
    """sha256 hex of the canonical JSON of {kind, payload}; `kind` keeps probe and judge keys apart."""
    return hashlib.sha256(canonical_json({"kind": kind, "payload": payload}).encode()).hexdigest()


def _plain_messages(messages: Sequence[dict[str, Any] | Message]) -> list[dict[str, Any]]:
    out = []
    for m in messages:
        if isinstance(m, Message):
            out.append({"role": m.role, "content": m.content})
        else:
            out.append(dict(m))
    return out


def probe_key(
    params: GenParams, messages: Sequence[dict[str, Any] | Message], sample_idx: int,
    tools: Sequence[dict[str, Any]] | None = None,
) -> str:
    """The cache key of one probe sample: every output-affecting parameter plus the sample index,
    and the tools offered (with their canned results, which shape the final reply) if any; a
    request without tools keeps the key it always had."""
    payload = {
        "model": params.model,
        "base_url": redact_url(params.base_url),
        "messages": _plain_messages(messages),
        "temperature": params.temperature,
        "max_tokens": params.max_tokens,
        "top_p": params.top_p,
        "seed": params.seed,
        "extra": {k: v for k, v in params.extra},
        "sample_idx": sample_idx,
    }
    if tools:
        payload["tools"] = list(tools)
    return request_key("probe", payload)
