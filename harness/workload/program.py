"""A workload as a value: the packs to start from and each thread's calls.

Drawn whole on the main thread before any worker starts, so Hypothesis can
shrink it and the report can save and replay it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..faults import Fault
from ..history import Pack

__all__ = ["OpCall", "Program"]


@dataclass(frozen=True)
class OpCall:
    op: str
    purchase: int

    def __str__(self) -> str:
        return f"{self.op}(p{self.purchase})"


@dataclass(frozen=True)
class Program:
    packs: tuple[Pack, ...]
    threads: tuple[tuple[OpCall, ...], ...]
    # None: each call is its own autocommit statement(s); else every call runs
    # in an explicit transaction at this level (see ops.ISOLATION_LEVELS).
    isolation: str | None = None
    faults: tuple[Fault, ...] = ()  # drawn with the calls: they shrink and replay too

    @property
    def calls(self) -> int:
        return sum(len(t) for t in self.threads)

    def size(self) -> tuple[int, int, int]:
        """Smaller is simpler: fewer calls, fewer threads, fewer packs."""
        return (self.calls, len(self.threads), len(self.packs))

    def describe(self) -> list[str]:
        lines = []
        for i, p in enumerate(self.packs):
            total = "null" if p.total is None else p.total
            used = "null" if p.used is None else p.used
            lines.append(f"p{i}: sessions_used={used} sessions_total={total} expires={p.expiry}")
        for i, calls in enumerate(self.threads):
            lines.append(f"t{i}: " + "; ".join(str(c) for c in calls))
        if self.isolation:
            lines.append(f"each call in its own transaction, isolation {self.isolation}")
        for f in self.faults:
            lines.append(f"fault: {f.kind} on t{f.thread}'s call {f.call + 1}, "
                         f"{f.delay_us} us after it is sent")
        return lines

    def to_json(self) -> dict[str, Any]:
        return {
            "packs": [{"total": p.total, "used": p.used, "expiry": p.expiry} for p in self.packs],
            "threads": [[[c.op, c.purchase] for c in t] for t in self.threads],
            "isolation": self.isolation,
            "faults": [f.to_json() for f in self.faults],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Program":
        try:
            packs = tuple(Pack(p["total"], p["used"], p.get("expiry", "none")) for p in d["packs"])
            threads = tuple(tuple(OpCall(op, int(pu)) for op, pu in t) for t in d["threads"])
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"not a workload: {e}") from None
        faults = tuple(Fault(str(k), int(t), int(c), int(us))
                       for k, t, c, us in d.get("faults", ()))
        return cls(packs, threads, d.get("isolation"), faults)

    def dumps(self) -> str:
        return json.dumps(self.to_json())
