"""Hypothesis strategies for workloads, biased toward where counters break:
boundaries (0, total, one left), many threads on one row, and the NULLs the
app's columns allow."""

from __future__ import annotations

from typing import Sequence

from hypothesis import strategies as st

from ..faults import faults_for
from ..history import Pack
from .program import OpCall, Program

__all__ = ["packs", "programs"]

# Real packs are 5, 10 or 20 sessions; small ones make boundaries reachable.
_TOTALS = st.one_of(
    st.sampled_from([1, 2, 5, 10, 20]),
    st.integers(min_value=0, max_value=25),
    st.none(),
)


@st.composite
def packs(draw: st.DrawFn, expiry: bool = True, nulls: bool = True) -> Pack:
    total = draw(_TOTALS if nulls else _TOTALS.filter(lambda t: t is not None))
    top = 20 if total is None else total
    used = draw(
        st.one_of(
            # At or next to a boundary, where guards matter.
            st.sampled_from(sorted({0, 1, max(top - 1, 0), top})),
            st.integers(min_value=0, max_value=top),
            *([st.none()] if nulls else []),
        )
    )
    expires = draw(st.sampled_from(["none", "future", "past"])) if expiry else "none"
    return Pack(total=total, used=used, expiry=expires)


@st.composite
def programs(
    draw: st.DrawFn,
    ops: Sequence[str] = ("use", "release"),
    min_threads: int = 1,
    max_threads: int = 16,
    max_calls_per_thread: int = 8,
    max_packs: int = 3,
    isolation: str | None = None,
    expiry: bool = True,
    nulls: bool = True,
    fault_kinds: tuple[str, ...] = (),
) -> Program:
    # Mostly one pack: every thread on one row is where races live.
    n_packs = draw(st.integers(1, max_packs))
    if n_packs > 1 and draw(st.booleans()):
        n_packs = 1
    the_packs = tuple(draw(packs(expiry, nulls)) for _ in range(n_packs))
    n_threads = draw(st.integers(min_threads, max_threads))
    call = st.builds(OpCall, st.sampled_from(list(ops)), st.integers(0, n_packs - 1))
    threads = tuple(
        tuple(draw(st.lists(call, min_size=1, max_size=max_calls_per_thread)))
        for _ in range(n_threads)
    )
    faults = draw(faults_for(fault_kinds, [len(t) for t in threads]))
    return Program(packs=the_packs, threads=threads, isolation=isolation, faults=faults)
