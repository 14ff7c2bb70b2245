"""Command line: ``python -m harness stress | replay``.

Exit codes: 0 every property held; 1 a property failed (or a replay still
fails); 2 usage or setup error (one line on stderr); 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import random
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from . import __version__, dbcmd, interrupt
from .check.verdict import PROPERTIES
from .errors import HarnessError
from .exhaustive import Bound, ExhaustiveResult
from .faults import KINDS as FAULT_KINDS
from .explore import SearchResult, SearchSettings, replay
from .security import dynamic_findings, findings_doc, static_findings
from .stress import stress
from .pg.clone import copy_of
from .pg.migrations import Failed, checksums, collect
from .pg.prepare import migrated_database
from .pg.server import ServerInfo, open_server
from .report import files
from .run.example import Lab
from .target import SESSION_PACK, Target
from .workload.file import load as load_workload
from .workload import OPS, Program
from .workload.ops import FUNCTIONS, ISOLATION_LEVELS

EXAMPLES_STRESS = """\
examples:
  python -m harness stress                                  # migrations/, 60 s
  python -m harness stress --overlay migrations/mutants/use_session_app_0010.sql
  python -m harness stress --migrations ~/app/supabase/migrations --time-budget 300
  python -m harness stress --dsn postgresql://me@127.0.0.1/app --threads 16
  python -m harness stress --exhaustive 3x3                 # every interleaving, 3 x 3 steps
"""

EXAMPLES_SECURITY = """\
examples:
  python -m harness security                                # the migrations as they are
  python -m harness security --overlay migrations/fixes/hardened_functions.sql
exit codes: 0 no findings, 1 findings, 2 usage or setup error
"""

EXAMPLES_REPLAY = """\
examples:
  python -m harness replay reports/latest                   # is it still broken?
  python -m harness replay reports/latest --overlay my_fix.sql   # is my fix right?
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        raise HarnessError(f"{self.prog}: {message}")


def _positive(kind: type, low: float) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}: {text}")
        return value
    return parse


def _database_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("database")
    g.add_argument("--migrations", type=Path, default=None, metavar="DIR",
                   help="folder of .sql files applied in name order, each in its own "
                        "transaction (default: ./migrations); a folder other than this "
                        "project's gets the Supabase compat shim first")
    g.add_argument("--schema", type=Path, default=None, metavar="FILE",
                   help="a schema dump (supabase db dump, pg_dump --schema-only) instead of "
                        "a migrations folder; applied statement by statement after the "
                        "Supabase compat shim, psql meta-commands skipped")
    g.add_argument("--clone-db", metavar="NAME", default=None,
                   help="with --dsn: test a scratch copy of this database on that server "
                        "(its functions as they are) instead of applying migrations; "
                        "overlays still apply. CREATE DATABASE ... TEMPLATE when no one is "
                        "connected to it, else pg_dump --schema-only restored; the original "
                        "is only read, and the copy is dropped")
    g.add_argument("--continue-on-error", action="store_true",
                   help="apply migrations statement by statement, list the ones that fail, "
                        "and go on if the functions under test exist")
    g.add_argument("--overlay", type=Path, action="append", default=[],
                   help="a .sql file or folder applied after the migrations; repeatable")
    g.add_argument("--dsn", default=None,
                   help="an existing server (or HARNESS_DSN); the harness works in its own "
                        "scratch databases there and drops them")
    g.add_argument("--backend", choices=["local", "docker"], default="local",
                   help="where a throwaway server comes from when no DSN is given")
    g.add_argument("--pg-bin", default=None, help="folder of initdb and postgres (local backend)")
    g.add_argument("--image", default="postgres:15", help="image of the docker backend")
    g.add_argument("--workload", type=Path, default=None,
                   help="a TOML file declaring another counter to check (its table, rows "
                        "and functions); default: the session pack")
    g.add_argument("--report-dir", type=Path, default=Path("reports/latest"))
    g.add_argument("-v", "--verbose", action="store_true",
                   help="log every statement the workers send, with its result, to stderr")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="harness", description=(
        "Concurrency verification of counter functions on a real PostgreSQL."))
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, required=True)

    s = sub.add_parser("stress", help="search for an interleaving that breaks a property",
                       epilog=EXAMPLES_STRESS, formatter_class=argparse.RawDescriptionHelpFormatter)
    _database_options(s)
    g = s.add_argument_group("search")
    g.add_argument("--mode", choices=["free", "schedule"], default="free",
                   help="free: threads race (finds races inside single statements too); "
                        "schedule: drawn interleavings with pause points inside functions, "
                        "replayed exactly (default free)")
    g.add_argument("--exhaustive", metavar="SxK", default=None,
                   help="instead of sampling, run every interleaving of every program of S "
                        "sessions with at most K steps each (e.g. 2x4, 3x3); implies "
                        "--mode schedule; ignores --time-budget")
    g.add_argument("--no-merge", action="store_true",
                   help="with --exhaustive: run every branch to its end, instead of stopping "
                        "runs that reach a state (rows, calls left) explored before")
    g.add_argument("--threads", type=_positive(int, 2), default=8,
                   help="most concurrent connections in one example (2..64, default 8)")
    g.add_argument("--calls", type=_positive(int, 1), default=6,
                   help="most calls per thread in one example (default 6)")
    g.add_argument("--packs", type=_positive(int, 1), default=3,
                   help="most purchases in one example (default 3)")
    g.add_argument("--ops", default=None,
                   help="operations to call, comma-separated (default: the counter's "
                        "functions; the session pack also has reinstate_naive)")
    g.add_argument("--isolation", choices=list(ISOLATION_LEVELS), default=None,
                   help="run every call in an explicit transaction at this level "
                        "(default: autocommit, as the app calls them)")
    g.add_argument("--faults", default="", metavar="KINDS",
                   help="inject faults drawn with the workload (free-running mode): "
                        "comma-separated from terminate, timeout, cut, stall, restart "
                        "(local backend), or all")
    g.add_argument("--examples", type=_positive(int, 1), default=100_000,
                   help="stop after this many examples (default: only the time budget)")
    g.add_argument("--time-budget", type=_positive(float, 0.1), default=60.0,
                   help="seconds to search before declaring a pass (default 60)")
    g.add_argument("--shrink-budget", type=_positive(float, 0.1), default=30.0,
                   help="seconds to shrink a failure (default 30)")
    g.add_argument("--seed", type=int, default=None, help="Hypothesis seed (default: random)")
    g.add_argument("--no-audit", action="store_true",
                   help="check the history alone (linearizability), without the audit trail")
    g.add_argument("--json", action="store_true", help="print summary.json instead of text")

    c = sub.add_parser("security", help="who may call the functions, on whose data",
                       epilog=EXAMPLES_SECURITY,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _database_options(c)
    c.add_argument("--json", action="store_true", help="print the findings as JSON")

    dbcmd.add_arguments(sub)  # db up | db down

    r = sub.add_parser("replay", help="run a saved counterexample again",
                       epilog=EXAMPLES_REPLAY, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("counterexample", type=Path,
                   help="a report directory or its counterexample.json")
    _database_options(r)
    r.add_argument("--runs", type=_positive(int, 1), default=100,
                   help="times to run it (default 100)")
    return parser


# -- shared set-up ---------------------------------------------------------------


@contextlib.contextmanager
def _lab(args: argparse.Namespace, migrations_dir: Path | None, overlays: Sequence[Path],
         target: Target, faults: Sequence[str] = ()
         ) -> Iterator[tuple[Lab, ServerInfo, dict[str, str]]]:
    schema = getattr(args, "schema", None)
    clone = getattr(args, "clone_db", None)
    if clone and not (args.dsn or os.environ.get("HARNESS_DSN")):
        raise HarnessError(f"--clone-db {clone} needs --dsn (or HARNESS_DSN): the server "
                           "that has that database")
    files_ = collect(None if schema or clone else migrations_dir, overlays, schema)
    failed: list[Failed] = []
    with open_server(args.backend, dsn=args.dsn, pg_bin=args.pg_bin, image=args.image
                     ) as info, contextlib.ExitStack() as copies:
        copy = None
        if clone:  # a scratch copy, dropped when the block ends
            copy = copies.enter_context(copy_of(info, clone))
            failed += copy.failed
            print(f"harness: testing a copy of database {clone} ({copy.how}); "
                  "the original is not written", file=sys.stderr)
        with migrated_database(info, files_, target, database=copy and copy.dbname,
                               continue_on_error=getattr(args, "continue_on_error", False),
                               failed=failed) as dbname:
            if failed:
                print(f"{len(failed)} migration statements failed and were skipped:",
                      file=sys.stderr)
                for f in failed:
                    print(f"  {f}", file=sys.stderr)
            args.migration_failures = [str(f) for f in failed]
            if "restart" in faults and info.restart is None:
                if getattr(args, "faults", "") != "all":
                    raise HarnessError("--faults restart: only a server the harness started "
                                       "itself can be restarted (the local backend)")
                faults = tuple(k for k in faults if k != "restart")  # all it can do here
            with Lab(info.dsn(dbname), target, faults=faults, restart=info.restart) as lab:
                yield lab, info, checksums(files_)


def _target(workload: Path | None) -> tuple[Target, Path | None]:
    """The counter under test, and the migrations its workload file names."""
    if workload is None:
        return SESSION_PACK, None
    return load_workload(workload)


def _migrations_dir(arg: Path | None, default: Path | None = None) -> Path:
    if arg is not None:
        return arg
    if default is not None:
        return default
    if Path("migrations").is_dir():
        return Path("migrations")
    raise HarnessError("no ./migrations folder here: pass --migrations DIR")


def _say(msg: str = "") -> None:
    print(msg, flush=True)


class _Progress:
    def __init__(self, budget: float) -> None:
        self.tty = sys.stderr.isatty()
        self.budget = budget

    def __call__(self, r: SearchResult | ExhaustiveResult) -> None:
        if self.tty and isinstance(r, ExhaustiveResult):
            sys.stderr.write(f"\r  programs {r.programs}/{r.total_programs}, {r.runs:,} runs, "
                             f"{r.covered:,} interleavings covered, {r.elapsed:.1f} s ")
            sys.stderr.flush()
        elif self.tty:
            rate = r.calls / r.elapsed if r.elapsed else 0
            sys.stderr.write(f"\r  {r.examples} examples, {r.calls} calls, {rate:,.0f} calls/s, "
                             f"{r.elapsed:.1f}/{self.budget:g} s ")
            sys.stderr.flush()

    def done(self) -> None:
        if self.tty:
            sys.stderr.write("\r\033[K")


# -- stress ----------------------------------------------------------------------


def cmd_stress(args: argparse.Namespace) -> int:
    target, workload_migrations = _target(args.workload)
    names = args.ops or ",".join(o.name for o in target.operations)
    ops = tuple(o.strip() for o in names.split(",") if o.strip())
    unknown = [o for o in ops if o not in OPS]
    if unknown or not ops:
        raise HarnessError(f"--ops: unknown operation {','.join(unknown) or '(none)'}; "
                           f"choose from {', '.join(OPS)}")
    if args.threads > 64:
        raise HarnessError("--threads: at most 64")
    kinds = tuple(FAULT_KINDS) if args.faults.strip() == "all" else tuple(
        k.strip() for k in args.faults.split(",") if k.strip())
    bad = [k for k in kinds if k not in FAULT_KINDS]
    if bad:
        raise HarnessError(f"--faults: unknown kind {','.join(bad)}; choose from "
                           f"{', '.join(FAULT_KINDS)}, or all")
    if kinds and (args.mode != "free" or args.exhaustive):
        raise HarnessError("--faults: faults are injected by the free-running executor; "
                           "use --mode free")
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    settings = SearchSettings(
        mode=args.mode, ops=ops, isolation=args.isolation, max_threads=args.threads, max_calls_per_thread=args.calls,
        max_packs=args.packs, time_budget=args.time_budget, max_examples=args.examples,
        shrink_budget=args.shrink_budget, seed=seed, use_audit=not args.no_audit,
        expiry=target.has_expiry, nulls=target.nullable, faults=kinds,
    )
    bound = None
    if args.exhaustive:
        try:
            bound = Bound.parse(args.exhaustive)
        except ValueError as e:
            raise HarnessError(f"--exhaustive: {e}") from None
        settings = dataclasses.replace(settings, mode="schedule")
        args.mode = "schedule"
    mdir = _migrations_dir(args.migrations, workload_migrations)
    files.prepare_dir(args.report_dir)
    started = time.monotonic()
    with _lab(args, mdir, args.overlay, target, kinds) as (lab, info, sums):
        setup = time.monotonic() - started
        if not args.json:
            _say(f"harness stress: {len(sums)} migration files on PostgreSQL {info.version} "
                 f"({info.backend}), ready in {setup:.2f} s; seed {seed}")
        progress = _Progress(args.time_budget)
        security = static_findings(lab.control, [o.function for o in target.operations])
        result = stress(lab, settings, bound, progress=progress if not args.json else None,
                        merge=not args.no_merge)
        progress.done()
        if bound is not None and not args.json:
            _say(result.exhaustive_line)
    pinned = result.failure is not None and result.failure.observation.schedule is not None
    context = {
        "migrations": str(mdir),
        "overlays": [str(p) for p in args.overlay],
        "workload": str(args.workload) if args.workload else None,
        "schema": str(args.schema) if args.schema else None,
        "clone_db": getattr(args, "clone_db", None),
        "migration_failures": getattr(args, "migration_failures", []),
        "checksums": sums,
        "mode": "schedule" if pinned else args.mode,
        "found_by": args.mode if bound is None else f"exhaustive {args.exhaustive}",
        "exhaustive": result.exhaustive_line or None,
        "notes": result.notes,
        "settings": {"ops": list(ops), "use_audit": settings.use_audit,
                     "allowed_errors": list(settings.allowed_errors)},
        "seed": seed,
    }
    reproduce = _reproduce_command(args)
    summary = _summary(result, settings, info, context, reproduce, setup)
    summary["security"] = findings_doc(security)
    lines: list[str] = []
    cx_doc = None
    if result.failure is not None:
        lines, cx_doc = files.write_failure(args.report_dir, result.failure, context)
    files.write_json(args.report_dir / "summary.json", summary)
    files.write_views(args.report_dir, summary, cx_doc)
    if args.json:
        _say(__import__("json").dumps(summary, indent=2, default=str))
    else:
        _print_outcome(result, lines, args.report_dir, reproduce)
        if security:
            _say(f"security: {len(security)} findings ({', '.join(sorted({f.code for f in security}))}); "
                 "python -m harness security explains them")
    return 1 if result.failure is not None else 0


def _reproduce_command(args: argparse.Namespace) -> str:
    cmd = ["python", "-m", "harness", "replay", str(args.report_dir)]
    return " ".join(shlex.quote(c) for c in cmd)


def _summary(result: SearchResult, s: SearchSettings, info: ServerInfo,
             context: dict[str, Any], reproduce: str, setup: float) -> dict[str, Any]:
    failed = result.failure is not None
    doc: dict[str, Any] = {
        "verdict": "fail" if failed else "pass",
        "properties": (result.failure.verdict.status() if failed
                       else {p: "pass" for p in PROPERTIES
                             if s.use_audit or p in ("linearizable", "no-raise")}),
        "seed": s.seed,
        "examples": result.examples,
        "operations": result.calls,
        "elapsed_seconds": round(result.elapsed, 3),
        "setup_seconds": round(setup, 3),
        "calls_per_second": round(result.calls / result.elapsed, 1) if result.elapsed else None,
        "failed_calls_by_sqlstate": result.errors,
        "faults": {"kinds": list(s.faults), "injected": result.faults_injected,
                   "calls_ending_unknown": result.unknown_calls},
        "isolation": s.isolation,
        "postgres_version": info.version,
        "backend": info.backend,
        **context,
    }
    if failed:
        f = result.failure
        assert f is not None
        doc["counterexample"] = {
            "program": f.program.to_json(),
            "describe": f.program.describe(),
            **files.verdict_doc(f.verdict),
            "found_after_seconds": round(result.first_failure_after or 0, 3),
            "found_after_calls": result.first_failure_calls,
            "shrinking": result.shrink_note,
            "reproduced": {"failing_runs": result.reproduced[0], "runs": result.reproduced[1]},
        }
        doc["reproduce"] = reproduce
    return doc


def _print_outcome(result: SearchResult, lines: list[str], report_dir: Path,
                   reproduce: str) -> None:
    rate = result.calls / result.elapsed if result.elapsed else 0
    figures = (f"{result.examples} examples, {result.calls} calls in {result.elapsed:.1f} s "
               f"({rate:,.0f} calls/s)")
    errors = ", ".join(f"{k} x{v}" for k, v in sorted(result.errors.items()))
    if result.failure is None:
        _say(f"PASS: every property held; {figures}")
        if errors:
            _say(f"calls that failed as the isolation level or faults allow: {errors}")
        if result.faults_injected:
            _say(f"faults injected: {result.faults_injected}; calls whose outcome is unknown "
                 f"(connection lost mid-call): {result.unknown_calls}")
        for note in result.notes:  # what this pass does not cover
            _say(f"note: {note}")
        _say(f"report: {report_dir}/report.html")
        return
    f = result.failure
    _say(f"FAIL: {', '.join(f.verdict.broken)}")
    for v in f.verdict.violations:
        _say(f"  {v.property}: {v.message}")
    _say("")
    p = f.program
    threads = "1 thread" if len(p.threads) == 1 else f"{len(p.threads)} threads"
    calls = "1 call" if p.calls == 1 else f"{p.calls} calls"
    _say(f"Minimal counterexample: {threads}, {calls}; found after "
         f"{result.first_failure_after:.2f} s and {result.first_failure_calls} calls.")
    _say(f"  {result.shrink_note[:1].upper()}{result.shrink_note[1:]}.")
    _say(f"  Replayed: a property broke in {result.reproduced[0]} of "
         f"{result.reproduced[1]} runs.")
    _say("")
    for line in lines:
        _say("  " + line if line else "")
    for note in result.notes:
        _say(f"note: {note}")
    _say(f"({figures})")
    _say(f"report:    {report_dir}/report.html")
    _say(f"reproduce: {reproduce}")


# -- replay ----------------------------------------------------------------------


def cmd_replay(args: argparse.Namespace) -> int:
    import json

    path = args.counterexample
    if path.is_dir():
        path = path / "counterexample.json"
    if not path.is_file():
        raise HarnessError(f"no counterexample at {path} (a stress run that failed writes one)")
    try:
        doc = json.loads(path.read_text())
        program = Program.from_json(doc["program"])
    except (ValueError, KeyError) as e:
        raise HarnessError(f"{path}: not a counterexample file ({e})") from None
    workload = args.workload or (Path(doc["workload"]) if doc.get("workload") else None)
    if args.schema is None and doc.get("schema"):
        args.schema = Path(doc["schema"])
    if args.clone_db is None and doc.get("clone_db"):
        args.clone_db = doc["clone_db"]  # a copy again (the run needs --dsn too)
    if doc.get("migration_failures"):
        args.continue_on_error = True
    target, _ = _target(workload)
    mdir = args.migrations or Path(doc.get("migrations") or "migrations")
    overlays = args.overlay or [Path(o) for o in doc.get("overlays", [])]
    st = doc.get("settings", {})
    schedule = doc.get("schedule")
    settings = SearchSettings(mode="schedule" if schedule is not None else "free",
                              ops=tuple(st.get("ops", ("use", "release"))),
                              use_audit=st.get("use_audit", True),
                              allowed_errors=tuple(st.get("allowed_errors", ())))
    _say(f"harness replay: {len(program.threads)} threads, {program.calls} calls, "
         f"{args.runs} runs; migrations {mdir}"
         + (f", overlays {', '.join(map(str, overlays))}" if overlays else ""))
    with _lab(args, mdir, overlays, target) as (lab, info, _):
        if schedule is not None:
            lab.enable_schedule([FUNCTIONS[o] for o in settings.ops if o in FUNCTIONS])
        failing, runs = replay(lab, program, settings, args.runs, schedule=schedule)
    if failing:
        _say(f"STILL FAILS: a property broke in {failing} of {runs} runs")
        return 1
    if schedule is not None:
        _say(f"PASSES: no property broke in {runs} runs of the saved schedule")
    else:
        _say(f"PASSES: no property broke in {runs} runs (free-running: each run is a new "
             "interleaving, so this is evidence, not proof)")
    return 0


# -- security --------------------------------------------------------------------


def cmd_security(args: argparse.Namespace) -> int:
    import json

    target, workload_migrations = _target(args.workload)
    mdir = _migrations_dir(args.migrations, workload_migrations)
    with _lab(args, mdir, args.overlay, target) as (lab, info, _):
        functions = [o.function for o in target.operations]
        findings = static_findings(lab.control, functions)
        if target is SESSION_PACK:  # the dynamic checks know this app's tables
            findings += dynamic_findings(lab.control, target)
    if args.json:
        _say(json.dumps(findings_doc(findings), indent=2))
    else:
        for f in findings:
            for line in f.lines():
                _say(line)
        _say(f"{len(findings)} findings in {len(functions)} functions" if findings
             else f"no findings in {len(functions)} functions")
    return 1 if findings else 0


# -- db --------------------------------------------------------------------------


def cmd_db(args: argparse.Namespace) -> int:
    return dbcmd.main(args)  # harness/dbcmd.py


# -- entry point -----------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    interrupt.install()
    try:
        args = build_parser().parse_args(argv)
        if getattr(args, "verbose", False):
            logging.basicConfig(level=logging.WARNING, format="%(message)s")
            logging.getLogger("harness.sql").setLevel(logging.DEBUG)
        if args.command == "stress":
            return cmd_stress(args)
        if args.command == "security":
            return cmd_security(args)
        if args.command == "db":
            return cmd_db(args)
        return cmd_replay(args)
    except HarnessError as e:
        print(f"harness: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("harness: interrupted; cleaned up", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
