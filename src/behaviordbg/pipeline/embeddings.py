"""Embedding vectors for clustering answers (`analyze --embeddings`), from an OpenAI-compatible
/v1/embeddings endpoint; the analysis stage (analyze.py) calls `embed`, then clusters."""

from __future__ import annotations

import os
from collections.abc import Sequence

from ..config import AnalyzeOptions
from ..errors import BehaviordbgError
from ..store import Run
from ..types import Answer
from ..urls import redact_url

EMBED_BATCH = 128


async def embed(
    answers: Sequence[Answer], run: Run, opts: AnalyzeOptions
) -> dict[str, list[float]] | None:
    """Embedding vectors for clustering from an OpenAI-compatible /v1/embeddings endpoint.

    The endpoint is the judge endpoint if given, else the run's own (when it was not the embedded
    model, which is stopped by now)."""
    base = opts.judge_base_url or (
        run["base_url"] if not str(run["base_url"]).startswith("local://") else None)
    if not base:
        raise BehaviordbgError(
            "--embeddings needs an OpenAI-compatible /v1/embeddings endpoint",
            hint="pass --judge-base-url URL (and --embeddings-model NAME), or drop --embeddings",
        )
    from ..client import ModelClient, RequestFailed

    if "***" in base:
        raise BehaviordbgError(
            "the run's endpoint had credentials in its URL, which are never stored",
            hint="pass --judge-base-url with the full URL for --embeddings",
        )
    # The run's own endpoint gets the run's own key variable, never the judge's.
    key_env = (opts.judge_api_key_env if opts.judge_base_url
               else run["params"]["api_key_env"] or opts.judge_api_key_env)
    model = opts.embeddings_model or opts.judge_model or run["model"]
    api_key = os.environ.get(key_env) or None
    vectors: dict[str, list[float]] = {}
    async with ModelClient(base, api_key, concurrency=2, api_key_env=key_env) as client:
        for start in range(0, len(answers), EMBED_BATCH):
            batch = answers[start : start + EMBED_BATCH]
            try:
                got = await client.embed([a.text for a in batch], model=model)
            except RequestFailed as err:
                raise BehaviordbgError(
                    f"embeddings request to {redact_url(base)} failed: {err}",
                    hint="check the endpoint and --embeddings-model, or drop --embeddings",
                ) from None
            vectors.update((a.response_id, v) for a, v in zip(batch, got))
    return vectors
