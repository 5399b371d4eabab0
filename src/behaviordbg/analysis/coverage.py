"""Which contradiction kinds a run can find at all, given how it was probed.

With one sample per prompt, the `unstable` kind (samples of one prompt disagreeing) cannot
appear: there is nothing for a sample to disagree with. Saying so plainly, up front and in the
summary, keeps "no unstable bugs" from reading as "the model is stable". The default stays one
sample because two cost about 2.5 times the time on the embedded model (README, BENCHMARKS.md).
"""

from __future__ import annotations

MIN_SAMPLES = {"unstable": 2}
"""Kind -> the samples per prompt it needs; the other kinds need one."""


def out_of_reach(samples: int) -> dict[str, str]:
    """Kind -> why a run with `samples` answers per prompt cannot find it (empty: none)."""
    return {
        kind: (f"needs --samples {need} or more (samples of one prompt disagreeing); this run"
               f" has {samples}")
        for kind, need in MIN_SAMPLES.items() if samples < need
    }


def samples_note(samples: int) -> str:
    """One line for the start of a run: what this many samples cannot find, and how to fix it
    (empty when every kind is in reach)."""
    missing = out_of_reach(samples)
    if not missing:
        return ""
    kinds = ", ".join(f"`{k}`" for k in missing)
    most = max(MIN_SAMPLES[k] for k in missing)
    return (f"note: {samples} sample per prompt cannot find {kinds} bugs (samples of one prompt"
            f" disagreeing); pass --samples {most} (or samples = {most} in behaviordbg.toml) to"
            " look for them too")
