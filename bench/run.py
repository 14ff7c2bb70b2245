"""The harness's figures, measured on this machine: prints a table, writes JSON.

    python bench/run.py [--quick] [--seconds 5] [--seeds 5] [--out reports/bench]

1. start-up: a local cluster initialised, started and migrated; a template
   clone; a fresh example's rows (median of several);
2. throughput: pgbench with a custom script and the harness's free-running
   executor (history and audit trail on), the same use/release mix on one hot
   row, on the same server, at 1, 4 and 16 clients -- and the ratio;
3. detection: time and calls until each file in migrations/mutants/ is found,
   median over several seeds, free-running and under the step scheduler;
4. exhaustive bounds: every interleaving of every program up to 2x4 and 3x3
   on the migrations, with state merging, and 3x2 also without it; each
   mutant under 2x3;
5. the linearizability checker on a 100,000-call history (bench/checker.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.explore import SearchSettings, replay, search  # noqa: E402
from harness.history import Pack  # noqa: E402
from harness.pg.janitor import scratch_database  # noqa: E402
from harness.pg.migrations import collect  # noqa: E402
from harness.pg.prepare import migrate_into, migrated_database  # noqa: E402
from harness.pg.server import ServerInfo, open_server  # noqa: E402
from harness.run.example import Lab  # noqa: E402
from harness.run.free import FreeRunner  # noqa: E402
from harness.target import SESSION_PACK  # noqa: E402
from harness.workload import OpCall, Program  # noqa: E402

MIGRATIONS = ROOT / "migrations"


def median_of(n: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(n))


# -- 1. start-up -------------------------------------------------------------------


def bench_startup(runs: int) -> dict[str, float]:
    files = collect(MIGRATIONS)

    def cluster_up_and_migrated() -> float:
        t = time.perf_counter()
        with open_server() as info:
            with scratch_database(info, kind="tpl") as db:
                migrate_into(info, db, files, SESSION_PACK)
                took = time.perf_counter() - t
        return took

    cluster_up_and_migrated()  # the first run also fills the initdb cache
    out = {"cluster_up_and_migrated_s": median_of(runs, cluster_up_and_migrated)}
    with open_server() as info, scratch_database(info, kind="tpl") as tpl:
        migrate_into(info, tpl, files, SESSION_PACK)

        def clone() -> float:
            t = time.perf_counter()
            with scratch_database(info, template=tpl):
                took = time.perf_counter() - t
            return took

        out["template_clone_s"] = median_of(runs, clone)
        with scratch_database(info, template=tpl) as db, Lab(info.dsn(db), SESSION_PACK) as lab:
            program = Program((Pack(10, 5),), ((OpCall("use", 0),),))

            def fresh_rows() -> float:
                t = time.perf_counter()
                lab.fresh_rows(program)
                return time.perf_counter() - t

            out["fresh_example_state_s"] = median_of(max(runs, 50), fresh_rows)
    return out


# -- 2. throughput -----------------------------------------------------------------


def _hot_row(info: ServerInfo, db: str) -> str:
    """A pack with room both ways for the whole run."""
    row = str(uuid.uuid4())
    with Lab(info.dsn(db), SESSION_PACK) as lab:
        lab.control.execute(SESSION_PACK.row_sql, {
            "ids": [row], "totals": [2_000_000_000], "useds": [1_000_000_000],
            "expiries": ["none"]})
    return row


def _pgbench(info: ServerInfo, db: str, row: str, clients: int, seconds: float,
             workdir: Path) -> float:
    exe = shutil.which("pgbench")
    if exe is None:
        raise FileNotFoundError("pgbench")
    (workdir / "use.sql").write_text(f"select public.use_session('{row}');\n")
    (workdir / "release.sql").write_text(f"select public.release_session('{row}');\n")
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(info.dsn(db))
    out = subprocess.run(
        [exe, "-n", "-M", "prepared", "-c", str(clients), "-j", str(min(clients, os.cpu_count() or 2)),
         "-T", str(int(seconds)), "-f", str(workdir / "use.sql") + "@1",
         "-f", str(workdir / "release.sql") + "@1",
         "-h", str(params.get("host", "127.0.0.1")), "-p", str(params.get("port", 5432)),
         "-U", str(params.get("user", "postgres")), db],
        capture_output=True, text=True, check=True)
    m = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out.stdout)
    if not m:
        raise RuntimeError(f"pgbench output not understood: {out.stdout[-300:]}")
    return float(m.group(1))


def _harness(info: ServerInfo, db: str, row: str, clients: int, seconds: float) -> float:
    """Calls/s of the free-running executor, history recorded, audit trigger on."""
    per_thread = 400
    program = Program((Pack(None, None),), tuple(
        tuple(OpCall("use" if (i + t) % 2 == 0 else "release", 0) for i in range(per_thread))
        for t in range(clients)))
    calls = 0
    with FreeRunner(info.dsn(db)) as runner:
        runner.run(Program(program.packs, program.threads[:clients]), [row])  # warm up
        t = time.perf_counter()
        while time.perf_counter() - t < seconds:
            history = runner.run(program, [row])
            calls += len(history) // 2
        took = time.perf_counter() - t
    return calls / took


def bench_throughput(seconds: float, clients_list: list[int]) -> list[dict[str, Any]]:
    rows = []
    files = collect(MIGRATIONS)
    with open_server() as info, migrated_database(info, files, SESSION_PACK) as db:
        row = _hot_row(info, db)
        work = Path(os.environ.get("TMPDIR", "/tmp")) / f"harness-bench-{os.getpid()}"
        work.mkdir(exist_ok=True)
        try:
            for clients in clients_list:
                try:
                    pg = _pgbench(info, db, row, clients, seconds, work)
                except (FileNotFoundError, subprocess.CalledProcessError) as e:
                    pg = None
                    print(f"  pgbench unavailable: {e}", file=sys.stderr)
                ours = _harness(info, db, row, clients, seconds)
                rows.append({"clients": clients, "pgbench_calls_per_s": pg,
                             "harness_calls_per_s": round(ours, 1),
                             "ratio": round(ours / pg, 3) if pg else None})
                print(f"  {clients:3d} clients: pgbench {pg or 0:10,.0f}/s   harness "
                      f"{ours:10,.0f}/s   ratio {ours / pg if pg else 0:.2f}", flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return rows


def bench_schedules(seconds: float) -> dict[str, float]:
    """Schedules run and checked per second: 2 sessions x 2 calls, pause points on."""
    import random

    from harness.explore import judge

    rng = random.Random(1)
    program = Program((Pack(5, 2),), ((OpCall("use", 0), OpCall("release", 0)),
                                      (OpCall("release", 0), OpCall("use", 0))))
    settings = SearchSettings(mode="schedule")
    with open_server() as info, migrated_database(info, collect(MIGRATIONS), SESSION_PACK) as db:
        with Lab(info.dsn(db), SESSION_PACK) as lab:
            lab.enable_schedule(["public.use_session(uuid)", "public.release_session(uuid)"])
            lab.execute(program, [0])
            n, t = 0, time.perf_counter()
            while time.perf_counter() - t < seconds:
                obs = lab.execute(program, [rng.randrange(4) for _ in range(8)])
                judge(obs, settings)
                n += 1
            took = time.perf_counter() - t
    return {"schedules_per_s": round(n / took, 1)}


# -- 3. detection ------------------------------------------------------------------


def bench_detection(seeds: int, budget: float, modes: list[str]) -> list[dict[str, Any]]:
    import re as _re

    rows = []
    mutants = sorted((MIGRATIONS / "mutants").glob("*.sql"))
    with open_server() as info, scratch_database(info, kind="tpl") as tpl:
        migrate_into(info, tpl, collect(MIGRATIONS), SESSION_PACK)
        for mutant in mutants:
            m = _re.search(r"^--\s*ops:\s*(.+)$", mutant.read_text(), _re.M)
            ops = tuple(o.strip() for o in m.group(1).split(",")) if m else ("use", "release")
            for mode in modes:
                times, calls, found, replayed = [], [], 0, None
                for seed in range(seeds):
                    with scratch_database(info, template=tpl) as db:
                        migrate_into(info, db, collect(None, [mutant]), SESSION_PACK)
                        with Lab(info.dsn(db), SESSION_PACK) as lab:
                            s = SearchSettings(mode=mode, ops=ops, time_budget=budget,
                                               shrink_budget=0.1, confirm_runs=0, seed=seed)
                            r = search(lab, s)
                            if r.failure is not None and mode == "schedule" and replayed is None:
                                # A schedule is a value: it must fail on every replay.
                                failing, runs = replay(lab, r.failure.program, s, 100,
                                                       schedule=r.failure.observation.schedule)
                                replayed = f"{failing}/{runs}"
                    if r.failure is not None:
                        found += 1
                        times.append(r.first_failure_after or 0.0)
                        calls.append(r.first_failure_calls or 0)
                row = {"mutant": mutant.stem, "mode": mode, "found": f"{found}/{seeds}",
                       "median_s": round(statistics.median(times), 3) if times else None,
                       "median_calls": statistics.median(calls) if calls else None,
                       "replayed": replayed}
                rows.append(row)
                print(f"  {mutant.stem:38s} {mode:8s} found {row['found']}  median "
                      f"{row['median_s'] if row['median_s'] is not None else '-':>6} s  "
                      f"{row['median_calls'] if row['median_calls'] is not None else '-':>6} calls"
                      + (f"  replayed {replayed}" if replayed else ""), flush=True)
    return rows


# -- 4. exhaustive bounds -------------------------------------------------------------


def bench_exhaustive(bounds: list[tuple[str, bool]], mutant_bound: str) -> dict[str, Any]:
    from harness.exhaustive import Bound, exhaustive

    out: dict[str, Any] = {"migrations": [], "mutants": []}
    settings = SearchSettings(mode="schedule")
    with open_server() as info, scratch_database(info, kind="tpl") as tpl:
        migrate_into(info, tpl, collect(MIGRATIONS), SESSION_PACK)
        for text, merge in bounds:
            with scratch_database(info, template=tpl) as db, \
                    Lab(info.dsn(db), SESSION_PACK) as lab:
                r = exhaustive(lab, settings, Bound.parse(text), merge=merge)
            row = {"bound": text, "merge": merge, "programs": r.programs, "runs": r.runs,
                   "covered": r.covered, "merged": r.merged, "symmetric": r.skipped,
                   "seconds": round(r.elapsed, 1), "violation": r.failure is not None}
            out["migrations"].append(row)
            print(f"  {text} {'merging' if merge else 'every leaf':10s} {r.programs:5,} programs "
                  f"{r.covered:9,} interleavings covered by {r.runs:7,} runs in "
                  f"{r.elapsed:6.1f} s{'  VIOLATION' if r.failure else ''}", flush=True)
        for mutant in sorted((MIGRATIONS / "mutants").glob("*.sql")):
            with scratch_database(info, template=tpl) as db:
                migrate_into(info, db, collect(None, [mutant]), SESSION_PACK)
                with Lab(info.dsn(db), SESSION_PACK) as lab:
                    r = exhaustive(lab, settings, Bound.parse(mutant_bound))
            row = {"mutant": mutant.stem, "bound": mutant_bound, "found": r.failure is not None,
                   "runs": r.runs, "seconds": round(r.elapsed, 2),
                   "broken": list(r.failure.verdict.broken) if r.failure else []}
            out["mutants"].append(row)
            print(f"  {mutant.stem:38s} {mutant_bound} "
                  + (f"found at run {r.runs:,} in {r.elapsed:.2f} s: {', '.join(row['broken'])}"
                     if r.failure else f"not found ({r.covered:,} interleavings covered)"),
                  flush=True)
    return out


# -- main ----------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer runs, shorter measurements")
    ap.add_argument("--seconds", type=float, default=None, help="seconds per throughput run")
    ap.add_argument("--seeds", type=int, default=None, help="seeds per mutant")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "bench")
    args = ap.parse_args()
    seconds = args.seconds or (2.0 if args.quick else 5.0)
    seeds = args.seeds or (3 if args.quick else 5)

    doc: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    print("start-up (median):", flush=True)
    doc["startup"] = bench_startup(3 if args.quick else 5)
    for k, v in doc["startup"].items():
        print(f"  {k:28s} {v * 1000:8.1f} ms")
    print("throughput, use/release on one row (calls/s):", flush=True)
    doc["throughput"] = bench_throughput(seconds, [1, 4, 16])
    print("step scheduler:", flush=True)
    doc["scheduler"] = bench_schedules(seconds)
    print(f"  {doc['scheduler']['schedules_per_s']:,.0f} schedules/s "
          "(2 sessions x 2 calls, run and checked)")
    print(f"detection (median over {seeds} seeds, time and calls to the first violation):",
          flush=True)
    doc["detection"] = bench_detection(seeds, 10.0, ["free", "schedule"])
    print("exhaustive bounds on the migrations, and each mutant:", flush=True)
    bounds = [("3x2", True), ("3x2", False)] + ([] if args.quick else [("2x4", True),
                                                                      ("3x3", True)])
    doc["exhaustive"] = bench_exhaustive(bounds, "2x3")
    try:
        sys.path.insert(0, str(ROOT / "bench"))
        import checker  # type: ignore[import-not-found]

        print("linearizability checker:", flush=True)
        doc["checker"] = checker.measure(repeat=1 if args.quick else 3)
        spread, hot = doc["checker"]["spread"], doc["checker"]["contended"]
        print(f"  {spread['calls']:,} calls, {spread['threads']} threads, "
              f"{spread['purchases']} purchases: {spread['seconds']:.2f} s")
        print(f"  {hot['calls']:,} calls, {hot['threads']} threads, one purchase: "
              f"{hot['seconds']:.2f} s")
    except (ImportError, AttributeError) as e:
        print(f"  checker benchmark unavailable: {e}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {args.out / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
