"""How fast is the linearizability checker? Prints seconds, writes JSON.

    python bench/checker.py [--calls 100000] [--threads 16] [--purchases 50]

Builds a valid history by simulation (every call takes effect at a random
point inside its window, results from the model in that order, 0.1% of calls
unknown and 1% failed), then times ``check_linearizable`` on it. The target
is 100,000 calls over 16 threads and 50 purchases in at most 2 s. A second
figure, all threads on one purchase, shows the contended case.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import model  # noqa: E402
from harness.check.linearizability import check_linearizable  # noqa: E402
from harness.history import Call, Outcome, Pack  # noqa: E402


def simulate(seed: int, packs: list[Pack], n: int, threads: int,
             info: float = 0.001, fail: float = 0.01) -> list[Call]:
    rng = random.Random(seed)
    free = [0] * threads
    planned = []
    for cid in range(n):
        t = min(range(threads), key=free.__getitem__)  # the next thread to be free
        inv = free[t] + rng.randint(10_000, 200_000)  # ns between calls of a thread
        ret = inv + rng.randint(200_000, 3_000_000)  # a call takes 0.2-3 ms
        free[t] = ret
        planned.append((rng.randint(inv, ret), cid, t, rng.choice(("use", "release")),
                        rng.randrange(len(packs)), inv, ret, rng.random()))
    states = [model.init(p) for p in packs]
    calls = []
    for _, cid, t, op, p, inv, ret, luck in sorted(planned):
        if luck < fail:
            calls.append(Call(cid, t, op, p, inv, ret, Outcome.FAIL, None, "40001"))
            continue
        result, after = model.apply(states[p], op)
        if luck < fail + info:
            if luck < fail + info / 2:  # took effect, but the answer was lost
                states[p] = after
            calls.append(Call(cid, t, op, p, inv, None, Outcome.INFO))
            continue
        states[p] = after
        calls.append(Call(cid, t, op, p, inv, ret, Outcome.OK, result))
    calls.sort(key=lambda c: (c.invoked_at, c.call))
    return calls


def packs_for(n: int, rng: random.Random) -> list[Pack]:
    out = []
    for _ in range(n):
        total = rng.randint(1, 20)
        expiry = rng.choice(["none", "none", "future", "past"])
        out.append(Pack(total, rng.randint(0, total), expiry))
    return out


def timed(packs: list[Pack], calls: list[Call], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = check_linearizable(packs, calls)
        times.append(time.perf_counter() - t0)
        if not result.ok:
            raise SystemExit(f"bench history should be valid: {result.failures[0].explanation}")
    return times


def measure(calls: int = 100_000, threads: int = 16, purchases: int = 50,
            repeat: int = 3, seed: int = 1) -> dict:
    """The figures: a spread history (the target) and a contended one."""
    packs = packs_for(purchases, random.Random(seed))
    history = simulate(seed, packs, calls, threads)
    spread = timed(packs, history, repeat)

    hot_pack = [Pack(5, 2)]
    hot_calls = simulate(seed, hot_pack, calls // 10, threads)
    hot = timed(hot_pack, hot_calls, repeat)
    return {
        "benchmark": "check_linearizable",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "spread": {
            "calls": calls, "threads": threads, "purchases": purchases,
            "seconds": round(min(spread), 4), "runs": [round(t, 4) for t in spread],
            "us_per_call": round(min(spread) / calls * 1e6, 2),
            "target_seconds": 2.0, "within_target": min(spread) <= 2.0,
        },
        "contended": {
            "calls": len(hot_calls), "threads": threads, "purchases": 1,
            "seconds": round(min(hot), 4), "runs": [round(t, 4) for t in hot],
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--purchases", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "bench" / "checker.json")
    args = ap.parse_args()
    figures = measure(args.calls, args.threads, args.purchases, args.repeat, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    spread, hot = figures["spread"], figures["contended"]
    print(f"{spread['calls']} calls, {spread['threads']} threads, {spread['purchases']} "
          f"purchases: {spread['seconds']:.3f} s (target 2 s)")
    print(f"{hot['calls']} calls, {hot['threads']} threads, 1 purchase: {hot['seconds']:.3f} s")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
