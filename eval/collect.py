"""Collect real answers of the local model to eval/prompts.jsonl (to be labelled by hand).

Run against any OpenAI-compatible server, e.g. the embedded llama-server:
    .venv/bin/python eval/collect.py --base-url http://127.0.0.1:8091/v1 --samples 4
Writes eval/raw_answers.jsonl (id, pid, claim, framing, prompt, response, sample). Labels are added
by a person afterwards; this script never labels anything.
"""

from __future__ import annotations

import argparse
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

HERE = Path(__file__).parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--base-url", default="http://127.0.0.1:8091/v1")
    ap.add_argument("--model", default="local")
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=60)
    ap.add_argument("--parallel", type=int, default=2, help="llama-server slots (-np)")
    ap.add_argument("--out", default=str(HERE / "raw_answers.jsonl"))
    args = ap.parse_args()
    prompts = [json.loads(x) for x in (HERE / "prompts.jsonl").read_text().splitlines() if x.strip()]
    out = Path(args.out)
    done = set()
    if out.exists():
        done = {json.loads(x)["id"] for x in out.read_text().splitlines() if x.strip()}
    todo = [(p, [s for s in range(args.samples) if f"{p['pid']}-s{s}" not in done])
            for p in prompts]
    todo = [(p, ss) for p, ss in todo if ss]
    lock = threading.Lock()

    def one(job: tuple[dict[str, str], list[int]]) -> None:
        # all missing samples of a prompt in one request (`n`): the prompt is evaluated once
        p, samples = job
        body = {
            "model": args.model,
            "messages": [{"role": "user", "content": p["prompt"]}],
            "temperature": 0.7,
            "max_tokens": args.max_tokens,
            "seed": 1000 + samples[0],
            "n": len(samples),
        }
        r = http.post(f"{args.base_url}/chat/completions", json=body)
        r.raise_for_status()
        choices = r.json()["choices"]
        for s, choice in zip(samples, choices):
            text = choice["message"]["content"]
            row = {"id": f"{p['pid']}-s{s}", "pid": p["pid"], "claim": p["claim"],
                   "framing": p["framing"], "prompt": p["prompt"], "response": text, "sample": s}
            with lock:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                fh.flush()
                print(row["id"], repr(text[:70]), flush=True)

    # samples first, prompts second: if time runs out, every prompt has its first samples
    with httpx.Client(timeout=600) as http, out.open("a") as fh:
        with ThreadPoolExecutor(args.parallel) as pool:
            list(pool.map(one, todo))


if __name__ == "__main__":
    main()
