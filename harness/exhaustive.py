"""Every interleaving, up to a bound: systematic search with the step scheduler.

For a bound of S sessions x K steps, every program of S sessions whose calls
take at most K scheduler steps each (a call of a function with n pause points
takes n + 1 steps) runs on each of a few boundary packs, under every
interleaving of its steps: a depth-first walk of the choice tree, re-running
the program from fresh rows for each leaf (stateless model checking).

Sessions that have not started and have the same calls are interchangeable:
only the first of them is tried at a choice (symmetry), and the branches
skipped that way are counted. Where the bound covers a bug, finding it is a
certainty, not a probability.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

from .explore import Failure, SearchSettings, judge
from .history import Pack
from .run.example import Lab
from .workload import OpCall, Program
from .workload.ops import FUNCTIONS

__all__ = ["Bound", "ExhaustiveResult", "exhaustive", "BOUNDARY_PACKS"]

# Where guards matter: the last session left, and room both ways at one.
BOUNDARY_PACKS = (Pack(1, 0), Pack(2, 1))


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
    interleavings: int = 0  # runs
    skipped: int = 0  # branches not run: symmetric to one that was
    elapsed: float = 0.0
    failure: Failure | None = None


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
             isolation: str | None = None) -> Iterator[Program]:
    seqs = _sequences(ops, cost, bound.steps)
    # Sessions are interchangeable: multisets of sequences, not tuples.
    for combo in itertools.combinations_with_replacement(seqs, bound.sessions):
        for pack in BOUNDARY_PACKS:
            yield Program((pack,), tuple(tuple(OpCall(op, 0) for op in seq) for seq in combo),
                          isolation)


def _interleavings(lab: Lab, program: Program, res: ExhaustiveResult,
                   s: SearchSettings, max_runs: int | None = None) -> Failure | None:
    """Depth-first over the choice tree; one run per leaf."""
    same = {i: tuple(c.op for c in t) for i, t in enumerate(program.threads)}
    stack: list[list[int]] = [[]]
    runs = 0
    while stack and (max_runs is None or runs < max_runs):
        runs += 1
        prefix = stack.pop()
        obs = lab.execute(program, forced=prefix)
        res.interleavings += 1
        verdict = judge(obs, s)
        if not verdict.ok:
            return Failure(obs, verdict)
        run = lab.last_run
        assert run is not None
        # Siblings of every choice past the prefix are still to be explored.
        for depth in range(len(run.taken) - 1, len(prefix) - 1, -1):
            movable, fresh = run.decisions[depth]
            chosen = run.taken[depth]
            tried = {chosen}
            for alt in movable:
                if alt in tried:
                    continue
                # Symmetry: an untouched session with the same calls as one
                # already tried here gives a mirror image of that branch.
                twin = alt in fresh and any(
                    t in fresh and same[t] == same[alt] for t in tried)
                tried.add(alt)
                if twin:
                    res.skipped += 1
                    continue
                stack.append(run.taken[:depth] + [alt])
    return None


def exhaustive(lab: Lab, s: SearchSettings, bound: Bound,
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
    res = ExhaustiveResult()
    start = time.monotonic()
    for program in programs(s.ops, cost, bound, s.isolation):
        res.programs += 1
        failure = _interleavings(lab, program, res, s)
        if progress:
            res.elapsed = time.monotonic() - start
            progress(res)
        if failure is not None:
            res.failure = failure
            break
    res.elapsed = time.monotonic() - start
    return res


def pin_schedule(lab: Lab, failure: Failure, s: SearchSettings,
                 max_runs: int = 1000) -> Failure | None:
    """Turn a free-running failure into one that replays exactly: try every
    interleaving of its program under the step scheduler (up to ``max_runs``)
    and return the first that breaks a property, or None when none does (the
    race is inside one statement, or needs timing pause points cannot make)."""
    lab.enable_schedule([FUNCTIONS[o] for o in s.ops if o in FUNCTIONS])
    return _interleavings(lab, failure.program, ExhaustiveResult(), s, max_runs)


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
