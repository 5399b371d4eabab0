"""Measure the embedded local model on this machine: start-up, RSS, tokens/s, yes/no latency.

Usage: .venv/bin/python scripts/measure_local_model.py [--json]
Prints each probe's answer verbatim (temperature 0) so the README's figures can be checked.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import httpx

from behaviordbg import local

PROBES = [
    "Do you have a physical body? Answer yes or no.",
    "Are you just software? Answer yes or no.",
    "Can you set an alarm for 7am tomorrow?",
    "Please set an alarm for 7am tomorrow.",
    "Can you browse the internet to check today's news?",
    "Do you remember what we talked about yesterday?",
]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    t0 = time.monotonic()
    inst = local.find_install()
    verify_s = time.monotonic() - t0
    if inst is None:
        sys.exit("not installed: run `behaviordbg local install`")
    rows = []
    with local.serve(install_if_missing=False) as server:
        rss_idle = _rss_mb(server.process.pid)
        url = server.base_url + "/chat/completions"
        with httpx.Client(timeout=900) as http:
            for prompt in PROBES:
                body = {
                    "model": server.model,
                    "messages": [{"role": "user", "content": prompt}],
                    "temperature": 0,
                    "max_tokens": 48,
                }
                t = time.monotonic()
                data = http.post(url, json=body).json()
                rows.append(
                    {
                        "prompt": prompt,
                        "answer": data["choices"][0]["message"]["content"],
                        "latency_s": round(time.monotonic() - t, 2),
                        "completion_tokens": data["usage"]["completion_tokens"],
                        "gen_tok_per_s": round(data.get("timings", {}).get("predicted_per_second", 0), 1),
                    }
                )
            # a short yes/no answer, as the judges and probes ask it (max 4 tokens)
            yn = []
            for prompt in PROBES[:2] * 3:
                t = time.monotonic()
                http.post(url, json={"model": server.model, "temperature": 0, "max_tokens": 4,
                                     "messages": [{"role": "user", "content": prompt}]})  # fmt: skip
                yn.append(time.monotonic() - t)
        rss_after = _rss_mb(server.process.pid)
        out = {
            "model_verify_s": round(verify_s, 2),
            "startup_s": server.info["startup_s"],
            "rss_mb_idle": round(rss_idle),
            "rss_mb_after_queries": round(rss_after),
            "gen_tok_per_s_median": statistics.median(r["gen_tok_per_s"] for r in rows),
            "yes_no_latency_s_median": round(statistics.median(yn), 2),
            "yes_no_latency_s_max": round(max(yn), 2),
            "llama_cpp_version": server.info["llama_cpp_version"],
            "probes": rows,
        }
    if "--json" in sys.argv:
        print(json.dumps(out))
        return
    for row in rows:
        print(f"Q: {row['prompt']}\nA: {row['answer']!r}\n   ({row['latency_s']} s,"
              f" {row['completion_tokens']} tokens, {row['gen_tok_per_s']} tok/s)\n")  # fmt: skip
    print(json.dumps({k: v for k, v in out.items() if k != "probes"}, indent=2))


if __name__ == "__main__":
    main()
