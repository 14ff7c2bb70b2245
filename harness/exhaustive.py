"""Every interleaving, up to a bound: systematic search with the step scheduler.

For a bound of S sessions x K steps, every program of S sessions whose calls
take at most K scheduler steps each (a call of a function with n pause points
takes n + 1 steps) runs on each of a few boundary packs, under every
interleaving of its steps: a depth-first walk of the choice tree, re-running
the program from fresh rows for each branch (stateless model checking).

Two reductions keep that small, and neither drops an interleaving:

* symmetry: sessions that have not started and have the same calls are
  interchangeable, so only the first of them is tried at a choice;
* merging: wherever no session is inside a call, what can still happen
  depends only on the rows as committed and the calls each session has left.
  A run that reaches such a state seen before stops there: everything after
  it was run from the earlier visit. Every property here is a check of each
  step against the state before it, and the run up to the merge is judged in
  full, so a violation reachable through the merged branch is found through
  the earlier one. This assumes the functions keep no state outside the
  counter's rows; writes to any other table are watched, and if one is seen
  the search starts again without merging.

``covered`` counts the interleavings the runs stand for: every leaf of the
choice tree, run or merged or mirrored.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Callable, Hashable, Iterator, Sequence

from .explore import Failure, SearchSettings, judge
from .history import Pack
from .pg.instrument import other_writes, watch_other_writes
from .run.example import Lab
from .run.schedule import StateProbe
from .workload import OpCall, Program
from .workload.ops import FUNCTIONS

__all__ = ["Bound", "ExhaustiveResult", "exhaustive", "BOUNDARY_PACKS"]

# Where guards matter: the last session left, and room both ways at one.
BOUNDARY_PACKS = (Pack(1, 0), Pack(2, 1))


def boundary_packs(s: SearchSettings) -> tuple[Pack, ...]:
    """The packs every program runs on: the boundaries above, and where the
    counter has those rules, an expired pack with room and a pack whose total
    is NULL (a use must refuse both)."""
    return (BOUNDARY_PACKS + ((Pack(1, 0, "past"),) if s.expiry else ())
            + ((Pack(None, 1),) if s.nulls else ()))


@dataclass(frozen=True)
class Bound:
    sessions: int
    steps: int

    @classmethod
    def parse(cls, text: str) -> "Bound":
        try:
            s, k = (int(x) for x in text.lower().split("x"))
        except ValueError:
            raise ValueError(f"a bound is SESSIONSxSTEPS, e.g. 2x4 or 3x3, not {text!r}") from None
        if not (1 <= s <= 4 and 1 <= k <= 8):
            raise ValueError(f"bound {text}: at most 4 sessions and 8 steps")
        return cls(s, k)


@dataclass
class ExhaustiveResult:
    programs: int = 0
    total_programs: int = 0
    runs: int = 0  # programs run from fresh rows, to their end or to a merge
    covered: int = 0  # interleavings (leaves of the choice trees) the runs stand for
    skipped: int = 0  # branches not run: symmetric to one that was
    merged: int = 0  # runs stopped at a state explored before
    merging: bool = True  # False: turned off (or found unsound: see note)
    note: str = ""
    elapsed: float = 0.0
    failure: Failure | None = None


class _Found(Exception):
    def __init__(self, failure: Failure) -> None:
        self.failure = failure


class _OutOfRuns(Exception):
    pass


def _sequences(ops: Sequence[str], cost: dict[str, int], steps: int) -> list[tuple[str, ...]]:
    """Every sequence of calls costing at most ``steps`` that no further call fits.

    Shorter ones are not needed: every interleaving of a program is the start
    of an interleaving of the program with calls appended, and every property
    here is broken by a prefix of the history as soon as it is broken at all.
    """
    out: list[tuple[str, ...]] = []
    frontier: list[tuple[tuple[str, ...], int]] = [((), 0)]
    while frontier:
        seq, used = frontier.pop()
        grown = False
        for op in ops:
            c = used + cost[op]
            if c <= steps:
                frontier.append((seq + (op,), c))
                grown = True
        if not grown and seq:
            out.append(seq)
    return sorted(set(out), key=lambda s: (len(s), s))


def programs(ops: Sequence[str], cost: dict[str, int], bound: Bound,
             isolation: str | None = None, packs: Sequence[Pack] = BOUNDARY_PACKS
             ) -> Iterator[Program]:
    seqs = _sequences(ops, cost, bound.steps)
    # Sessions are interchangeable: multisets of sequences, not tuples.
    for combo in itertools.combinations_with_replacement(seqs, bound.sessions):
        for pack in packs:
            yield Program((pack,), tuple(tuple(OpCall(op, 0) for op in seq) for seq in combo),
                          isolation)


class _Explorer:
    """Depth-first over one program's choice tree; one run per branch."""

    def __init__(self, lab: Lab, s: SearchSettings, res: ExhaustiveResult,
                 memo: dict[Hashable, int] | None = None, max_runs: int | None = None,
                 shallow_first: bool = False) -> None:
        self.lab, self.s, self.res = lab, s, res
        self.shallow_first = shallow_first
        self.memo = memo  # state -> leaves below it; None: no merging
        self.probe = None if memo is None else StateProbe(lab.state_sql(), memo.__contains__)
        self.max_runs = max_runs
        self.runs = 0

    def program(self, program: Program) -> int:
        """Leaves of ``program``'s tree; raises _Found at the first violation."""
        self.same = {i: tuple(c.op for c in t) for i, t in enumerate(program.threads)}
        return self._below(program, [])

    def _below(self, program: Program, prefix: list[int]) -> int:
        if self.max_runs is not None and self.runs >= self.max_runs:
            raise _OutOfRuns
        self.runs += 1
        self.res.runs += 1
        obs = self.lab.execute(program, forced=prefix, probe=self.probe)
        verdict = judge(obs, self.s)
        if not verdict.ok:
            raise _Found(Failure(obs, verdict))
        run = self.lab.last_run
        assert run is not None
        if run.merged is not None:
            assert self.memo is not None
            self.res.merged += 1
            leaves = self.memo[run.merged]
        else:
            leaves = 1
        states = dict(run.states)
        # Every sibling of a choice past the prefix heads a subtree to run.
        # Deepest first suits merging (each state is finished before a
        # sibling can meet it); shallowest first varies the start of the
        # interleaving soonest, which is what a search capped at max_runs needs.
        order = range(len(prefix), len(run.taken))
        siblings: dict[int, tuple[dict[int, int], list[tuple[int, int]]]] = {}
        for depth in (order if self.shallow_first else reversed(order)):
            movable, fresh = run.decisions[depth]
            tried, ran, mirrored = [run.taken[depth]], {}, []
            for alt in movable:
                if alt in tried:
                    continue
                # Symmetry: an untouched session with the same calls as one
                # already tried here gives a mirror image of that branch.
                twin = next((t for t in tried if alt in fresh and t in fresh
                             and self.same[t] == self.same[alt]), None)
                tried.append(alt)
                if twin is not None:
                    self.res.skipped += 1
                    mirrored.append((alt, twin))
                else:
                    ran[alt] = self._below(program, run.taken[:depth] + [alt])
            siblings[depth] = (ran, mirrored)
        # Leaves below each choice on the run's path, from its end back up.
        for depth in reversed(order):
            ran, mirrored = siblings[depth]
            below = {run.taken[depth]: leaves, **ran}
            for alt, twin in mirrored:
                below[alt] = below[twin]
            leaves = sum(below.values())
            if self.memo is not None and depth in states:
                self.memo[states[depth]] = leaves
        return leaves


def _interleavings(lab: Lab, program: Program, res: ExhaustiveResult,
                   s: SearchSettings, max_runs: int | None = None) -> Failure | None:
    """Every interleaving of one program, without merging (up to ``max_runs``)."""
    try:
        res.covered += _Explorer(lab, s, res, max_runs=max_runs,
                                 shallow_first=True).program(program)
    except _Found as f:
        return f.failure
    except _OutOfRuns:
        pass
    return None


def exhaustive(lab: Lab, s: SearchSettings, bound: Bound, merge: bool = True,
               progress: Callable[[ExhaustiveResult], None] | None = None) -> ExhaustiveResult:
    inst = lab.enable_schedule([FUNCTIONS[o] for o in s.ops if o in FUNCTIONS])
    points_of: dict[str, int] = {}
    for p in inst.points:
        points_of[p.function] = points_of.get(p.function, 0) + 1
    cost = {op: 1 + points_of.get(FUNCTIONS.get(op, "").split("(")[0], 0) for op in s.ops}
    if "reinstate_naive" in cost:
        cost["reinstate_naive"] = 2  # a read, then a write
    if s.isolation:
        cost = {op: c + 2 for op, c in cost.items()}  # BEGIN and COMMIT
    todo = list(programs(s.ops, cost, bound, s.isolation, boundary_packs(s)))
    start = time.monotonic()
    res = _all(lab, s, todo, merge, progress, start)
    if res is None:
        # State outside the rows: merged branches may differ. Start again.
        res = _all(lab, s, todo, False, progress, start)
        assert res is not None
        res.note = "the functions wrote other tables, so states were not merged"
    res.elapsed = time.monotonic() - start
    return res


def _all(lab: Lab, s: SearchSettings, todo: Sequence[Program], merge: bool,
         progress: Callable[[ExhaustiveResult], None] | None,
         start: float) -> ExhaustiveResult | None:
    """Every program in turn, up to the first violation; None when merging
    turned out unsound (a function wrote a table other than the counter's)."""
    if merge:
        watch_other_writes(lab.control, lab.target)
        writes = other_writes(lab.control)
    res = ExhaustiveResult(total_programs=len(todo), merging=merge)
    # States are only comparable from the same pack (the level is the same for all).
    memos: dict[tuple[Pack, ...], dict[Hashable, int]] = {}
    for program in todo:
        memo = memos.setdefault(program.packs, {}) if merge else None
        try:
            res.covered += _Explorer(lab, s, res, memo).program(program)
        except _Found as f:
            res.failure = f.failure
            return res
        finally:
            res.elapsed = time.monotonic() - start
        if merge and other_writes(lab.control) != writes:
            return None
        res.programs += 1
        if progress:
            progress(res)
    return res


def pin_schedule(lab: Lab, failure: Failure, s: SearchSettings,
                 max_runs: int = 1000) -> Failure | None:
    """Turn a free-running failure into one that replays exactly, or None when
    no interleaving under the step scheduler breaks a property (the race is
    inside one statement, or needs timing pause points cannot make).

    Small scope first: two, then three, of the program's calls racing on one
    row, from each state that row was seen in (every interleaving of each);
    then the whole program, up to ``max_runs`` interleavings. A program of
    many threads has too many interleavings to try, and most races need two
    calls."""
    lab.enable_schedule([FUNCTIONS[o] for o in s.ops if o in FUNCTIONS])
    broken = set(failure.verdict.broken)
    for program in _races_of(failure):
        found = _interleavings(lab, program, ExhaustiveResult(), s, max_runs=200)
        if found is not None and broken & set(found.verdict.broken):
            return found
    return _interleavings(lab, failure.program, ExhaustiveResult(), s, max_runs)


def _races_of(failure: Failure, states_per_row: int = 6) -> Iterator[Program]:
    """Programs of 2, then 3, one-call sessions taken from ``failure``'s calls
    on one row, starting from each valid value that row committed in the run."""
    program = failure.program
    calls = sorted({(c.op, c.purchase) for t in program.threads for c in t})
    seen: dict[int, list[int | None]] = {}
    for k, pack in enumerate(program.packs):
        seen[k] = [pack.used]
    for a in failure.observation.audit:
        total = program.packs[a.purchase].total
        # Only states a correct counter can be in: not the violation itself.
        if (a.new is not None and a.new >= 0 and (total is None or a.new <= total)
                and a.new not in seen[a.purchase]):
            seen[a.purchase].append(a.new)
    for size in (2, 3):
        if size > len(program.threads):
            return
        for combo in itertools.combinations_with_replacement(calls, size):
            row = combo[0][1]
            if any(p != row for _, p in combo):
                continue  # a race is on one row
            pack = program.packs[row]
            for used in seen[row][:states_per_row]:
                yield Program((Pack(pack.total, used, pack.expiry),),
                              tuple((OpCall(op, 0),) for op, _ in combo), program.isolation)


def minimize(lab: Lab, failure: Failure, s: SearchSettings,
             max_runs: int = 300, budget: float | None = None) -> Failure:
    """Drop threads, then single calls, while some interleaving of what is left
    still breaks one of the same properties (every interleaving of each
    candidate, up to ``max_runs``), until none can go or ``budget`` seconds
    (default: the shrink budget) are spent."""
    lab.enable_schedule([FUNCTIONS[o] for o in s.ops if o in FUNCTIONS])
    deadline = time.monotonic() + (s.shrink_budget if budget is None else budget)
    broken = set(failure.verdict.broken)
    current = failure
    while time.monotonic() < deadline:
        for cand in _smaller(current.program.threads):
            # The dropped call may have set the stage: let the pack start one
            # step further along instead.
            found = None
            for packs in _nearby(current.program.packs):
                if time.monotonic() > deadline:
                    return current
                program = Program(packs, cand, current.program.isolation)
                found = _interleavings(lab, program, ExhaustiveResult(), s, max_runs)
                if found is not None and broken & set(found.verdict.broken):
                    break
                found = None
            if found is not None:
                current = found
                break
        else:
            return current  # no call can go
    return current


def _smaller(threads: tuple[tuple[OpCall, ...], ...]) -> Iterator[tuple[tuple[OpCall, ...], ...]]:
    """Each program with one thread less, then each with one call less."""
    if len(threads) > 1:
        for i in range(len(threads)):
            yield threads[:i] + threads[i + 1:]
    for i, calls in enumerate(threads):
        if len(calls) > 1:
            for j in range(len(calls)):
                yield threads[:i] + (calls[:j] + calls[j + 1:],) + threads[i + 1:]


def _nearby(packs: tuple[Pack, ...]) -> list[tuple[Pack, ...]]:
    """The packs as they are, then each with its counter one up or one down."""
    out = [packs]
    for k, p in enumerate(packs):
        if p.used is None:
            continue
        for used in (p.used + 1, p.used - 1):
            if 0 <= used and (p.total is None or used <= p.total):
                out.append(packs[:k] + (Pack(p.total, used, p.expiry),) + packs[k + 1:])
    return out
