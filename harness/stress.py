"""A whole stress run: search, then make the counterexample exact and small.

1. search: Hypothesis (free-running or scheduled), or every interleaving up
   to a bound;
2. pin: a free-running failure is re-found under the step scheduler, so that
   it replays every time (when pause points can express it);
3. minimize: calls are dropped one by one while some interleaving of the
   rest still breaks the same property;
4. confirm: the final counterexample is replayed and the count reported.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from .exhaustive import Bound, ExhaustiveResult, exhaustive, minimize, pin_schedule
from .explore import SearchResult, SearchSettings, replay, search
from .run.example import Lab

__all__ = ["stress"]


def stress(lab: Lab, settings: SearchSettings, bound: Bound | None = None,
           progress: Callable[[Any], None] | None = None, merge: bool = True) -> SearchResult:
    """``progress`` gets the SearchResult so far (the ExhaustiveResult with a
    ``bound``); ``merge=False`` runs every branch of an exhaustive search."""
    if bound is not None:
        result = _exhaustive(lab, settings, bound, merge, progress)
    else:
        result = search(lab, settings, progress=progress)
        if result.failure is not None and settings.mode == "free":
            _pin(lab, result, settings)
    if result.failure is not None and result.failure.observation.schedule is not None:
        _minimize(lab, result, settings)
    return result


def _pin(lab: Lab, result: SearchResult, settings: SearchSettings) -> None:
    """A free-running race replays by chance; under the scheduler it replays
    every time. Keep the free-running run as found, and add the schedule."""
    assert result.failure is not None
    pinned = pin_schedule(lab, result.failure, settings)
    if pinned is None:
        result.notes.append(
            "no interleaving of the counterexample's steps under the scheduler breaks a "
            "property: the race is inside a single statement, or needs timing that pause "
            "points cannot make; replay is free-running, so it reproduces by chance")
        return
    runs = dataclasses.replace(settings, mode="schedule")
    failing, total = replay(lab, pinned.program, runs, settings.confirm_runs,
                            schedule=pinned.observation.schedule)
    before = result.failure.program
    result.failure = pinned
    result.shrink_note += "; then pinned to an exact schedule under the step scheduler"
    if pinned.program.calls < before.calls:
        result.shrink_note += (f" ({pinned.program.calls} of its {before.calls} calls, racing "
                               "from a value the row held in the free run)")
    result.reproduced = (failing, total)
    result.broken = pinned.verdict.broken


def _minimize(lab: Lab, result: SearchResult, settings: SearchSettings) -> None:
    """Hypothesis shrinks programs and schedules together and can stop short;
    with an exact scheduler, dropping calls one by one finishes the job."""
    assert result.failure is not None
    before = result.failure.program.calls
    smaller = minimize(lab, result.failure, dataclasses.replace(settings, mode="schedule"))
    if smaller.program.calls < before:
        runs = dataclasses.replace(settings, mode="schedule")
        result.reproduced = replay(lab, smaller.program, runs, settings.confirm_runs,
                                   schedule=smaller.observation.schedule)
        result.failure = smaller
        result.broken = smaller.verdict.broken
        result.shrink_note += (f"; then cut from {before} to {smaller.program.calls} calls, "
                               "trying every interleaving of each smaller program")


def _exhaustive(lab: Lab, settings: SearchSettings, bound: Bound, merge: bool,
                progress: Callable[[Any], None] | None) -> SearchResult:
    ex = exhaustive(lab, settings, bound, merge, progress)
    result = SearchResult(examples=ex.runs, elapsed=ex.elapsed, failure=ex.failure,
                          notes=list(lab.instrumented.notes if lab.instrumented else ()))
    if ex.note:
        result.notes.append(ex.note)
    result.calls = lab.calls_run
    result.shrink_note = (f"exhaustive {bound.sessions}x{bound.steps}: the first violating "
                          "interleaving in depth-first order")
    if ex.failure is not None:
        result.first_failure_after = ex.elapsed
        result.first_failure_calls = lab.calls_run
        result.reproduced = replay(lab, ex.failure.program, settings, settings.confirm_runs,
                                   schedule=ex.failure.observation.schedule)
    result.exhaustive_line = exhaustive_line(bound, ex)
    return result


def exhaustive_line(bound: Bound, ex: ExhaustiveResult) -> str:
    """One line: what an exhaustive search covered, and how many runs it took."""
    b = f"exhaustive {bound.sessions}x{bound.steps}"
    if ex.failure is not None:
        return (f"{b}: a violation in program {ex.programs + 1} of {ex.total_programs:,}, "
                f"at run {ex.runs:,}, in {ex.elapsed:.1f} s")
    how = [f"{ex.merged:,} stopped at a state explored before"] if ex.merging else []
    how.append(f"{ex.skipped:,} branches mirrored by symmetry")
    return (f"{b}: {ex.programs:,} programs, {ex.covered:,} interleavings covered by "
            f"{ex.runs:,} runs ({', '.join(how)}), in {ex.elapsed:.1f} s")
