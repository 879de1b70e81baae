"""`bench.py --precision`: images per second of training in each precision on this machine, interleaved in
one process, with each one's speed-up over float32 (what --precision auto measures, longer)."""

from __future__ import annotations

import platform
import statistics
import time

from search.precision import NETWORK, _cpu, candidates, choose, measure, speedups


def run_precision_benchmark(rounds: int, steps: int, augment: bool = True) -> dict:
    """Time `rounds` interleaved rounds of `steps` training steps of --precision auto's network (with or
    without its augmentation layers) in each precision `auto` would consider here; returns the figures."""
    network = {**NETWORK, "augment": augment}
    started = time.perf_counter()
    timed = measure(candidates(), rounds=rounds, steps=steps, network=network)
    return {
        "cpu": _cpu()[0],
        "machine": platform.machine(),
        "network": network,
        "rounds": timed,
        "images_per_second": {p: round(statistics.median(r), 1) for p, r in timed.items()},
        "speedup": speedups(timed),
        "auto_would_choose": choose(timed),
        "seconds": round(time.perf_counter() - started, 1),
    }


def as_table(result: dict) -> list[tuple[str, str, str, str]]:
    """Rows of (precision, median images/s, range of rounds, speed-up over float32)."""
    rows = []
    for precision, speeds in result["rounds"].items():
        gain = result["speedup"].get(precision, 1.0)
        rows.append(
            (precision, f"{statistics.median(speeds):,.0f}", f"{min(speeds):,.0f}-{max(speeds):,.0f}", f"{gain:.2f}x")
        )
    return rows
