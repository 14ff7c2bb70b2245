"""SPEC.md's truths about use_session and release_session, one call at a time.

Each test runs real calls on the migrated database; the concurrency versions
of the same truths are in test_variants.py.
"""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from harness.check import check
from harness.history import Pack
from harness.workload import OpCall, Program
from harness.workload.strategies import packs

from harness.pg.server import connect


def run(lab, pack: Pack, ops: list[str]):
    """Results of ``ops`` called one after another on a fresh pack, and its final value."""
    program = Program((pack,), (tuple(OpCall(op, 0) for op in ops),))
    obs = lab.execute(program)
    calls = obs.history.calls()
    return [c.result for c in calls], obs.finals[0], obs, calls


# 1 & 3. release decrements by exactly one, only above zero, and returns the new value.
@pytest.mark.parametrize("used", [1, 2, 5, 20])
def test_release_decrements_by_one_and_returns_new_value(lab, used: int) -> None:
    results, final, obs, _ = run(lab, Pack(total=20, used=used), ["release"])
    assert results == [used - 1]
    assert final == used - 1
    assert [(r.old, r.new) for r in obs.audit] == [(used, used - 1)]


# 4. at zero: a no-op returning -1, never an error.
def test_release_at_zero_is_a_noop_returning_minus_one(lab) -> None:
    results, final, obs, calls = run(lab, Pack(total=5, used=0), ["release", "release"])
    assert results == [-1, -1]
    assert final == 0
    assert obs.audit == ()
    assert all(c.ok for c in calls)


# 5. release ignores expiry: reinstating on an expired pack works.
def test_release_works_on_an_expired_pack(lab) -> None:
    results, final, _, _ = run(lab, Pack(total=5, used=3, expiry="past"), ["release"])
    assert results == [2] and final == 2


# 6. use stops at the total and refuses expired packs and NULL counters.
@pytest.mark.parametrize("pack, expect", [
    (Pack(total=5, used=4), [True, False]),
    (Pack(total=1, used=1), [False, False]),
    (Pack(total=5, used=0, expiry="past"), [False, False]),
    (Pack(total=5, used=0, expiry="future"), [True, True]),
    (Pack(total=None, used=0), [False, False]),
    (Pack(total=5, used=None), [False, False]),
])
def test_use_stops_at_total_and_refuses_expired(lab, pack: Pack, expect: list[bool]) -> None:
    results, _, _, _ = run(lab, pack, ["use", "use"])
    assert results == expect


# 2. the decrement is one atomic UPDATE: no read of the counter before the write.
def test_release_session_is_a_single_update(lab) -> None:
    from harness.check.structure import reads_before_write

    with connect(lab.dsn) as conn:
        src = conn.execute(
            "select pg_get_functiondef('public.release_session(uuid)'::regprocedure)"
        ).fetchone()[0]
    assert reads_before_write(src, "client_purchases") == []


# Every truth at once: any sequence of calls on any pack matches the model.
@given(pack=packs(), ops=st.lists(st.sampled_from(["use", "release"]), min_size=1, max_size=12))
def test_any_sequence_matches_the_model(lab, pack: Pack, ops: list[str]) -> None:
    _, _, obs, calls = run(lab, pack, ops)
    verdict = check(obs.program.packs, calls, obs.audit, obs.finals)
    assert verdict.ok, verdict.violations
