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
        out.append(Pack(total, rng.randint(0, total), rng.choice(["none", "none", "future", "past"])))
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--purchases", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "bench" / "checker.json")
    args = ap.parse_args()

    packs = packs_for(args.purchases, random.Random(args.seed))
    calls = simulate(args.seed, packs, args.calls, args.threads)
    spread = timed(packs, calls, args.repeat)

    hot_pack = [Pack(5, 2)]
    hot_calls = simulate(args.seed, hot_pack, args.calls // 10, args.threads)
    hot = timed(hot_pack, hot_calls, args.repeat)

    figures = {
        "benchmark": "check_linearizable",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "spread": {
            "calls": args.calls, "threads": args.threads, "purchases": args.purchases,
            "seconds": round(min(spread), 4), "runs": [round(t, 4) for t in spread],
            "us_per_call": round(min(spread) / args.calls * 1e6, 2),
            "target_seconds": 2.0, "within_target": min(spread) <= 2.0,
        },
        "contended": {
            "calls": len(hot_calls), "threads": args.threads, "purchases": 1,
            "seconds": round(min(hot), 4), "runs": [round(t, 4) for t in hot],
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"{args.calls} calls, {args.threads} threads, {args.purchases} purchases: "
          f"{min(spread):.3f} s (target 2 s)")
    print(f"{len(hot_calls)} calls, {args.threads} threads, 1 purchase: {min(hot):.3f} s")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
