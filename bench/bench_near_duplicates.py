"""Where the near-duplicate threshold of `suites generate` comes from (NEAR_DUPLICATE = 0.7).

Prints, for the shipped suites' prompts (all distinct on purpose), each prompt's TF-IDF cosine to
its nearest other prompt (percentiles and the closest pairs), and the cosine of a few trivial
rewordings to their original, with the vectoriser `suites generate` uses.

    .venv/bin/python bench/bench_near_duplicates.py
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

from behaviordbg.suites import load_suites
from behaviordbg.suites.generate import NEAR_DUPLICATE
from behaviordbg.types import FRAMINGS

REWORDINGS = {"Can you set an alarm for me?": ["Can you set an alarm for me please?",
                                                "Could you set an alarm for me?",
                                                "Can you set me an alarm?"],
              "Do you have a physical body?": ["Do you have a body?",
                                               "Do you have any physical body?"]}


def main() -> None:
    prompts = [p for s in load_suites(None) for c in s.claims for f in FRAMINGS
               for p in c.prompts(f)]
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(prompts)
    sim = cosine_similarity(vec.transform(prompts))
    np.fill_diagonal(sim, 0)
    nearest = sim.max(axis=1)
    pct = np.percentile(nearest, [50, 90, 99, 100]).round(3)
    print(f"{len(prompts)} shipped prompts; nearest-other cosine p50 {pct[0]}, p90 {pct[1]},"
          f" p99 {pct[2]}, max {pct[3]}")
    for i in np.argsort(-nearest)[:4:2]:
        print(f"  {nearest[i]:.3f}  {prompts[i]!r} ~ {prompts[int(sim[i].argmax())]!r}")
    for original, variants in REWORDINGS.items():
        scores = cosine_similarity(vec.transform(variants), vec.transform([original])).ravel()
        for v, s in zip(variants, scores):
            print(f"  rewording {s:.3f}  {v!r} ~ {original!r}")
    print(f"threshold NEAR_DUPLICATE = {NEAR_DUPLICATE}")


if __name__ == "__main__":
    main()
