"""The search: Hypothesis draws programs, the lab runs them, the checker judges.

Free-running races do not fail on every run, and Hypothesis replays while it
shrinks, so a plain ``@given`` test would end in ``Flaky``. Here:

* while generating, each program runs once (breadth finds races fastest);
* once a failure is seen, each shrink candidate runs up to ``shrink_repeats``
  times and counts as failing if any run breaks a property;
* every failing run is recorded here, with its real history, and the smallest
  one wins -- so the counterexample is always a run that really happened, even
  when Hypothesis gives up or calls it flaky;
* the winner is then replayed ``confirm_runs`` times to say how reliably it
  reproduces.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from hypothesis import HealthCheck, Phase, Verbosity, given, seed, target
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from .check import Verdict, check
from .faults import EXPECTED_ERRORS as FAULT_ERRORS
from .history import Call
from .run.example import Lab, Observation
from .workload import Program
from .workload.ops import FUNCTIONS
from .workload.strategies import programs

__all__ = ["SearchSettings", "Failure", "SearchResult", "search", "judge", "replay"]


@dataclass(frozen=True)
class SearchSettings:
    mode: str = "free"  # "free": threads race; "schedule": drawn interleavings
    ops: tuple[str, ...] = ("use", "release")
    isolation: str | None = None  # None: autocommit calls; else explicit transactions
    expiry: bool = True  # draw expired packs (the counter has an expiry rule)
    nulls: bool = True  # draw NULL counters and totals (the columns allow them)
    faults: tuple[str, ...] = ()  # fault kinds to inject (free-running only)
    max_threads: int = 8
    max_calls_per_thread: int = 6
    max_packs: int = 3
    time_budget: float = 60.0  # seconds of generation
    max_examples: int = 100_000
    shrink_budget: float = 30.0  # seconds of shrinking after the first failure
    shrink_repeats: int = 8
    confirm_runs: int = 20
    seed: int = 0
    use_audit: bool = True
    use_linearizability: bool = True
    allowed_errors: tuple[str, ...] = ()
    max_schedule: int = 64  # choices drawn per schedule; past them, first-come order


@dataclass(frozen=True)
class Failure:
    observation: Observation
    verdict: Verdict

    @property
    def program(self) -> Program:
        return self.observation.program


@dataclass
class SearchResult:
    examples: int = 0  # programs run, repeats included
    calls: int = 0
    elapsed: float = 0.0
    first_failure_after: float | None = None  # seconds
    first_failure_calls: int | None = None
    failure: Failure | None = None
    reproduced: tuple[int, int] = (0, 0)  # (failing runs, runs) of the final program
    shrink_note: str = ""
    broken: tuple[str, ...] = field(default_factory=tuple)
    notes: list[str] = field(default_factory=list)  # what the run could not cover
    errors: dict[str, int] = field(default_factory=dict)  # SQLSTATE -> calls failed with it
    exhaustive_line: str = ""  # what an exhaustive run covered
    faults_injected: int = 0
    unknown_calls: int = 0  # calls that ended info (connection lost mid-call)


class _Stop(BaseException):
    """Ends the Hypothesis run from inside (budget spent); not a test failure."""


# What PostgreSQL documents for these levels: a conflicting transaction fails
# with a serialization failure (or a deadlock) instead of losing an update.
# Those calls are definite failures, not violations.
EXPECTED_ERRORS = {"repeatable-read": ("40001", "40P01"), "serializable": ("40001", "40P01")}


def judge(obs: Observation, s: SearchSettings) -> Verdict:
    allowed = s.allowed_errors + EXPECTED_ERRORS.get(obs.program.isolation or "", ())
    if obs.program.faults:
        allowed += FAULT_ERRORS
    return check(
        obs.program.packs, obs.history.calls(), obs.audit, obs.finals,
        allowed_errors=allowed, allow_unknown=bool(obs.program.faults), use_audit=s.use_audit,
        use_linearizability=s.use_linearizability,
    )


def _overlap(calls: Sequence[Call]) -> int:
    """Most calls in flight on one purchase at once: how contended a run was."""
    events = []
    for c in calls:
        events.append((c.invoked_at, 1, c.purchase))
        events.append((c.completed_at or c.invoked_at, -1, c.purchase))
    events.sort()
    live: dict[int, int] = {}
    best = 0
    for _, d, p in events:
        live[p] = live.get(p, 0) + d
        best = max(best, live[p])
    return best


def search(
    lab: Lab,
    s: SearchSettings,
    progress: Callable[[SearchResult], None] | None = None,
) -> SearchResult:
    res = SearchResult()
    if s.mode == "schedule":
        inst = lab.enable_schedule([FUNCTIONS[o] for o in s.ops if o in FUNCTIONS])
        res.notes = list(inst.notes)
    start = time.monotonic()
    shrink_deadline: list[float] = []
    crash: list[BaseException] = []

    def run_once(program: Program, schedule: list[int] | None) -> Failure | None:
        obs = lab.execute(program, schedule)
        res.examples += 1
        res.calls += program.calls
        res.faults_injected += len(program.faults)
        for c in obs.history.calls():
            if c.sqlstate:
                res.errors[c.sqlstate] = res.errors.get(c.sqlstate, 0) + 1
            if c.outcome.value == "info":
                res.unknown_calls += 1
        verdict = judge(obs, s)
        if progress and res.examples % 25 == 0:
            res.elapsed = time.monotonic() - start
            progress(res)
        if verdict.ok:
            return None
        return Failure(obs, verdict)

    # Under the scheduler a few sessions suffice (most bugs need two, and
    # every step is chosen): small programs, many interleavings of each.
    small = s.mode == "schedule"

    @seed(s.seed)
    @hsettings(
        max_examples=s.max_examples,
        deadline=None,
        database=None,
        derandomize=False,
        verbosity=Verbosity.quiet,
        print_blob=False,
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate, Phase.target, Phase.shrink],
    )
    @given(programs(ops=s.ops, max_threads=min(s.max_threads, 4) if small else s.max_threads,
                    max_calls_per_thread=min(s.max_calls_per_thread, 3) if small
                    else s.max_calls_per_thread, max_packs=1 if small else s.max_packs,
                    isolation=s.isolation, expiry=s.expiry, nulls=s.nulls,
                    fault_kinds=() if small else s.faults),
           schedules(s))
    def probe(program: Program, schedule: list[int] | None) -> None:
        now = time.monotonic()
        if res.failure is None and now - start > s.time_budget:
            raise _Stop
        if shrink_deadline and now > shrink_deadline[0]:
            res.shrink_note = f"shrinking stopped at its {s.shrink_budget:g} s budget"
            raise _Stop
        # A schedule replays exactly: one run says it all.
        repeats = s.shrink_repeats if res.failure is not None and schedule is None else 1
        for attempt in range(repeats):
            try:
                failure = run_once(program, schedule)
            except Exception as e:  # a harness or setup error, not a finding
                crash.append(e)
                raise _Stop from e
            if failure is None:
                if attempt == 0:  # steer the search toward contention
                    target(float(_overlap(lab.last.history.calls())), label="calls in flight")
                continue
            if res.failure is None:
                res.first_failure_after = time.monotonic() - start
                res.first_failure_calls = res.calls
                shrink_deadline.append(time.monotonic() + s.shrink_budget)
            if res.failure is None or _size(failure) <= _size(res.failure):
                res.failure = failure
            raise AssertionError(failure.verdict.first())

    try:
        probe()
    except _Stop:
        pass
    except Exception:  # the failure we raised, or Hypothesis's Flaky about it
        pass
    if crash:
        raise crash[0]
    res.elapsed = time.monotonic() - start
    if res.failure is not None:
        if not res.shrink_note:
            res.shrink_note = (
                "shrunk by Hypothesis; schedules replay exactly, so each candidate ran once"
                if s.mode == "schedule" else
                f"shrunk by Hypothesis, each candidate run up to {s.shrink_repeats} times")
        failing, runs = replay(lab, res.failure.program, s, s.confirm_runs,
                               schedule=res.failure.observation.schedule)
        res.reproduced = (failing, runs)
        res.broken = res.failure.verdict.broken
    return res


def _size(f: Failure) -> tuple[int, ...]:
    return (*f.program.size(), len(f.observation.schedule or ()))


def schedules(s: SearchSettings) -> st.SearchStrategy[list[int] | None]:
    """Which session moves at each choice (an index into those that can move)."""
    if s.mode != "schedule":
        return st.none()
    return st.lists(st.integers(0, max(s.max_threads - 1, 1)), max_size=s.max_schedule)


def replay(lab: Lab, program: Program, s: SearchSettings, runs: int,
           stop_after: int | None = None,
           schedule: Sequence[int] | None = None) -> tuple[int, int]:
    """Run ``program`` ``runs`` times; how many runs broke a property."""
    failing = done = 0
    for _ in range(runs):
        done += 1
        if not judge(lab.execute(program, schedule), s).ok:
            failing += 1
            if stop_after and failing >= stop_after:
                break
    return failing, done
