"""Statistics of a list of timings: nearest-rank percentiles and the summary every figure reports."""

from __future__ import annotations

from typing import Any


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(min(rank, len(ordered))) - 1]


def latency_summary(seconds: list[float]) -> dict[str, Any]:
    if not seconds:
        return {"n": 0}
    return {
        "n": len(seconds),
        "median_ms": round(percentile(seconds, 50) * 1000, 4),
        "p95_ms": round(percentile(seconds, 95) * 1000, 4),
        "min_ms": round(min(seconds) * 1000, 4),
        "max_ms": round(max(seconds) * 1000, 4),
    }
