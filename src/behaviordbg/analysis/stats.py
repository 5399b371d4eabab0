"""Small statistics shared by the graph, triage and the dashboard seeds (no heavy imports)."""

from __future__ import annotations

import math

Z = 1.96  # 95%


def wilson(k: int, n: int, z: float = Z) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials; (0, 1) when n == 0.

    Sane at 0 and n, unlike the normal interval, which matters with a few samples per prompt."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)
