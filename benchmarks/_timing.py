"""Timing helpers shared by the speed benchmarks.

A timed run also measures how much of the machine *other* processes used
meanwhile: the busy jiffies of every core (``/proc/stat``) minus this
process's own user+system jiffies (``/proc/self/stat``, children included).
A run in which others took more than :data:`NOISY_SHARE` of the machine is
flagged as noisy. Each side of a comparison runs several times, interleaved
with the other sides (so a burst of background load hits all of them), and
keeps its fastest run.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

NOISY_SHARE = 0.10
# CPU features that make bf16 matmuls fast; without them bf16 runs on converted fp32 paths.
BF16_FLAGS = ("avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx_vnni")


# ------------------------------------------------------------------ machine
def cpu_model() -> str:
    """CPU model name from ``/proc/cpuinfo`` (falls back to ``platform.processor()``)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def cpu_flags() -> set[str]:
    """Feature flags of the first CPU in ``/proc/cpuinfo`` (empty set off Linux)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def core_count() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def load_average() -> str:
    try:
        with open("/proc/loadavg") as fh:
            return " ".join(fh.read().split()[:3])
    except OSError:
        return "n/a"


# ---------------------------------------------------------- CPU accounting
def describe_cpu() -> str:
    """Two lines naming the CPU, its cores and load, and the bf16 features it has.

    Fit times differ about twofold between CPUs with bf16 units (where
    ``precision="auto"`` trains in bf16) and AVX2-only ones, so every benchmark
    prints them beside its figures.
    """
    flags = cpu_flags()
    bf16 = ", ".join(flag for flag in BF16_FLAGS if flag in flags) or "none of " + ", ".join(BF16_FLAGS)
    return (f"CPU: {cpu_model()}, {core_count()} cores; load average {load_average()}\n"
            f"bf16 CPU features: {bf16}")


def _machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot."""
    with open("/proc/stat") as fh:
        fields = [int(v) for v in fh.readline().split()[1:9]]
    # user nice system idle iowait irq softirq steal (guest time is already inside user)
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def _own_jiffies() -> int:
    """User + system jiffies of this process and its waited-for children."""
    with open("/proc/self/stat") as fh:
        after_name = fh.read().rsplit(")", 1)[1].split()
    # fields 14-17 of proc(5): utime stime cutime cstime (after_name starts at field 3)
    return sum(int(v) for v in after_name[11:15])


@dataclass
class Run:
    """One timed call: wall seconds, the share of the machine others used, its result."""

    seconds: float
    others_share: float
    result: Any = None

    @property
    def noisy(self) -> bool:
        return self.others_share > NOISY_SHARE


def timed(fn: Callable[[], Any]) -> Run:
    """Call ``fn()`` once; time it and measure other processes' CPU use meanwhile."""
    busy0, total0 = _machine_jiffies()
    own0 = _own_jiffies()
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    busy1, total1 = _machine_jiffies()
    own1 = _own_jiffies()
    capacity = max(total1 - total0, 1)
    others = max((busy1 - busy0) - (own1 - own0), 0)
    return Run(seconds, others / capacity, result)


@dataclass
class Side:
    """All runs of one side of a comparison; the fastest one counts."""

    name: str
    runs: list[Run] = field(default_factory=list)

    @property
    def best(self) -> Run:
        return min(self.runs, key=lambda run: run.seconds)

    def summary(self) -> str:
        times = ", ".join(
            f"{run.seconds:.2f}s{' NOISY' if run.noisy else ''} ({run.others_share:.0%} others)"
            for run in self.runs
        )
        return f"{self.name}: best {self.best.seconds:.2f}s of [{times}]"


def compare(sides: dict[str, Callable[[], Any]], repeats: int) -> dict[str, Side]:
    """Run every side ``repeats`` times, interleaved (A B C A B C ...), printing each run."""
    results = {name: Side(name) for name in sides}
    for rep in range(repeats):
        for name, fn in sides.items():
            run = timed(fn)
            results[name].runs.append(run)
            flag = "  NOISY" if run.noisy else ""
            print(f"    [{rep + 1}/{repeats}] {name:<36s} {run.seconds:8.2f} s  "
                  f"others used {run.others_share:4.0%} of the CPU{flag}", flush=True)
    return results


# -------------------------------------------------------------------- table
@dataclass
class Row:
    """One line of the summary table."""

    benchmark: str
    ours: str
    reference: str
    ratio: float
    goal: float | None
    others_share: float
    as_percent: bool = False  # a share (FLOP/s of peak), not a speed-up

    def cells(self) -> list[str]:
        goal = f">= {self.goal:g}x" if self.goal is not None else "-"
        met = "-" if self.goal is None else ("yes" if self.ratio >= self.goal else "**no**")
        noise = f"{self.others_share:.0%}" + (" NOISY" if self.others_share > NOISY_SHARE else "")
        ratio = f"{self.ratio:.1%}" if self.as_percent else f"{self.ratio:.2f}x"
        return [self.benchmark, self.ours, self.reference, ratio, goal, met, noise]


def markdown_table(rows: Sequence[Row]) -> str:
    """The rows as a GitHub markdown table (ready to paste into the README)."""
    header = ["benchmark", "sklattn", "reference", "ratio", "goal", "met", "others' CPU"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)
