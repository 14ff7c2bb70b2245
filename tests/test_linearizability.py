"""The linearizability checker on hand-written and generated histories."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import model
from harness.check.linearizability import (
    LinFailure,
    Undecided,
    check_linearizable,
    check_partition,
    linearizable,
)
from harness.history import Call, Outcome, Pack
from harness.model import PackState

# -- a tiny notation for hand-written histories ------------------------------------
#
#   "t0 use 0-2 true"          ok call of thread 0 on p0, invoked at 0, returned at 2
#   "t1 release@p1 1-4 0"      on purchase 1
#   "t2 use 3- info"           never returned, outcome unknown
#   "t2 use 3-5 info"          returned at 5 with an unknown outcome (lost connection)
#   "t3 release 1-4 fail"      definitely did not take effect


def calls(*lines: str) -> list[Call]:
    out = []
    for cid, line in enumerate(lines):
        who, op, window, result = line.split()
        op, _, p = op.partition("@p")
        inv, _, ret = window.partition("-")
        outcome, value = Outcome.OK, None
        if result == "info":
            outcome = Outcome.INFO
        elif result == "fail":
            outcome = Outcome.FAIL
        elif result in ("true", "false"):
            value = result == "true"
        else:
            value = int(result)
        out.append(Call(
            call=cid, thread=int(who[1:]), op=op, purchase=int(p or 0),
            invoked_at=int(inv), completed_at=int(ret) if ret else None,
            outcome=outcome, result=value,
            sqlstate="40001" if outcome is Outcome.FAIL else None,
        ))
    return out


def check(pack: Pack, *lines: str):
    return check_linearizable([pack], calls(*lines))


def passes(pack: Pack, *lines: str) -> bool:
    return check(pack, *lines).ok


# -- sequential histories ------------------------------------------------------------


def test_empty_history_passes():
    assert check_linearizable([Pack(5, 0)], []).ok


def test_sequential_correct_history_passes():
    assert passes(
        Pack(3, 1),
        "t0 use 0-1 true", "t1 use 2-3 true", "t0 use 4-5 false",
        "t1 release 6-7 2", "t0 release 8-9 1", "t0 release 10-11 0", "t1 release 12-13 -1",
        "t0 reinstate_naive 14-15 -1", "t1 use 16-17 true", "t1 reinstate_naive 18-19 0",
    )


@pytest.mark.parametrize(
    "pack, lines, expected",
    [
        (Pack(5, 2), ["t0 release 0-1 2"], "returns 1"),  # the old value, not the new
        (Pack(5, 2, "past"), ["t0 use 0-1 true"], "returns false"),  # expired
        (Pack(5, 4), ["t0 use 0-1 true", "t0 use 2-3 true"], "returns false"),  # full
        (Pack(5, 2), ["t0 release 0-1 -1"], "returns 1"),  # refused with used > 0
        (Pack(5, 2), ["t0 use 0-1 false"], "returns true"),  # refused with room
        (Pack(5, 0), ["t0 release 0-1 0"], "returns -1"),  # released below zero
    ],
    ids=["old-value", "expired", "full", "refused-release", "refused-use", "negative"],
)
def test_sequential_wrong_result_fails(pack, lines, expected):
    result = check(pack, *lines)
    assert not result.ok
    (failure,) = result.failures
    assert failure.calls == (calls(*lines)[-1],)  # the wrong call alone
    assert expected in failure.explanation


def test_wrong_call_after_a_long_correct_run_is_isolated():
    lines = ["t0 use %d-%d true" % (2 * i, 2 * i + 1) for i in range(4)]
    lines.append("t1 release 20-21 4")  # should be 3
    (failure,) = check(Pack(5, 0), *lines).failures
    assert [c.call for c in failure.calls] == [4]
    assert failure.folded == 4
    assert failure.start == PackState(5, 4)
    assert failure.closest == ()
    assert failure.explanation == (
        "Starting from used=4/5 (what the 4 earlier calls on p0 leave), "
        "t1 release(p0) returned 4, but the model says it returns 3."
    )


# -- concurrent histories -----------------------------------------------------------


def test_overlapping_calls_with_one_valid_order_pass():
    # release -> 1 is only possible after the use, although it started first
    assert passes(Pack(5, 1), "t0 release 0-10 1", "t1 use 1-5 true")
    # and both orders are needed by different results here
    assert passes(Pack(5, 1), "t0 release 0-10 0", "t1 use 1-5 true", "t2 release 6-7 1")


def test_real_time_order_is_respected():
    # same calls, but the use returned before the release began: release must see 2
    assert not passes(Pack(5, 1), "t1 use 0-1 true", "t0 release 2-3 0")
    # touching windows (return and invocation at the same instant) overlap
    assert passes(Pack(5, 1), "t0 release 0-3 0", "t1 use 3-4 true")


def test_lost_update_two_releases_both_return_zero():
    result = check(Pack(5, 1), "t0 release 0-10 0", "t1 release 1-11 0")
    assert not result.ok
    (failure,) = result.failures
    assert {c.call for c in failure.calls} == {0, 1}
    assert len(failure.closest) == 1
    assert "(the model says it returns -1)" in failure.explanation
    assert "no order of these 2 calls that respects real time" in failure.explanation


def test_lost_update_amid_other_calls_is_cut_down():
    result = check(
        Pack(5, 0),
        "t0 use 0-1 true", "t1 use 2-3 true",
        "t0 release 4-10 1", "t1 release 5-11 1",  # both read 2, both wrote 1
        "t2 use 12-13 true", "t2 release 14-15 1",
    )
    (failure,) = result.failures
    assert {c.call for c in failure.calls} == {2, 3}
    assert failure.start == PackState(5, 2) and failure.folded == 2


def test_two_uses_of_the_last_session_both_succeed():
    result = check(Pack(5, 4), "t0 use 0-10 true", "t1 use 1-11 true")
    (failure,) = result.failures
    assert {c.call for c in failure.calls} == {0, 1}
    assert "after which t1 use(p0) -> true is impossible (the model says it returns false)" in (
        failure.explanation)


def test_explanation_reads_like_the_spec_example():
    (failure,) = check(
        Pack(5, 2),
        "t1 use 0-10 true", "t0 release 1-11 2", "t2 release 2-12 0",
    ).failures
    assert failure.explanation == (
        "Starting from used=2/5, t2 release(p0) returned 0, but no order of these 3 calls "
        "that respects real time produces that: the longest order found was "
        "t1 use(p0) -> true (used=3/5), t0 release(p0) -> 2 (used=2/5), after which "
        "t2 release(p0) -> 0 is impossible (the model says it returns 1)."
    )
    assert [c.call for c in failure.closest] == [0, 1]


def test_long_story_is_cut_to_its_end():
    # 20 overlapping uses that all succeed on a pack of 12
    lines = ["t%d use %d-100 true" % (i, i) for i in range(20)]
    (failure,) = check(Pack(12, 0), *lines).failures
    assert len(failure.calls) == 20 and len(failure.closest) == 12
    assert "the longest order found was 12 calls long, ending ..., " in failure.explanation
    assert failure.explanation.count("(used=") == 8  # only the end of the story is told
    assert failure.explanation.endswith("(the model says it returns false).")


def test_none_can_go_first():
    (failure,) = check(Pack(5, 2), "t0 release 0-10 0", "t1 release 1-11 0").failures
    assert failure.closest == ()
    assert "none of them can go first" in failure.explanation


# -- info and fail outcomes -------------------------------------------------------------


def test_info_call_that_must_have_taken_effect():
    assert passes(Pack(5, 0), "t0 use 0- info", "t1 release 5-6 0")


def test_info_call_that_must_not_have_taken_effect():
    assert passes(Pack(5, 0), "t0 use 0- info", "t1 release 5-6 -1")


def test_info_call_has_no_upper_time_bound():
    # it returned (connection lost) at 1, yet took effect after the release at 2-3
    assert passes(Pack(5, 0), "t0 use 0-1 info", "t1 release 2-3 -1", "t1 release 5-6 0")


def test_info_call_cannot_take_effect_before_it_was_invoked():
    assert not passes(Pack(5, 0), "t1 release 0-1 0", "t0 use 2- info")


def test_info_calls_never_break_a_correct_history():
    base = ["t0 use 0-1 true", "t1 release 2-5 0", "t0 use 6-7 true", "t1 release 8-9 0"]
    assert passes(Pack(5, 0), *base)
    for extra in ["t2 use 0- info", "t2 release 3- info", "t2 use 4-5 info", "t2 release 0-9 info"]:
        assert passes(Pack(5, 0), *base, extra, "t3 use 1- info", "t3 release 7- info")


def test_wrong_regardless_of_the_info_call_still_fails():
    # an unknown release can only lower the counter: both releases seeing 1 is still lost
    result = check(Pack(5, 1), "t2 release 0- info", "t0 release 1-10 0", "t1 release 2-11 0")
    (failure,) = result.failures
    assert {c.call for c in failure.calls} == {1, 2}
    # an unknown use can't make a pack of 3 release a 6th session
    assert not passes(Pack(3, 3), "t0 use 0- info", "t1 release 1-2 5")


def test_fail_calls_are_ignored():
    assert passes(Pack(5, 0), "t0 use 0-1 true", "t1 use 2-3 fail", "t0 release 4-5 0")
    assert passes(Pack(5, 0), "t1 release 0-1 fail", "t0 release 2-3 -1")
    # ... and cannot rescue a wrong history either
    assert not passes(Pack(5, 0), "t1 use 0-1 fail", "t0 release 2-3 0")


# -- partitions, null columns, errors ----------------------------------------------------


def test_violation_is_reported_for_its_purchase_only():
    history = calls(
        "t0 use@p0 0-1 true", "t1 release@p1 0-10 0", "t2 release@p1 1-11 0",
        "t3 release@p0 2-3 1", "t0 use@p2 4-5 false",
    )
    result = check_linearizable([Pack(5, 1), Pack(5, 1), Pack(5, 5)], history)
    assert not result.ok
    assert [f.purchase for f in result.failures] == [1]
    assert result.failure(1) is result.failures[0] and result.failure(0) is None
    assert all(c.purchase == 1 for c in result.failures[0].calls)
    assert result.checked == 5


def test_partitions_do_not_leak_state():
    # each purchase alone is fine; mixed into one counter they would not be
    history = calls("t0 use@p0 0-1 true", "t1 release@p1 2-3 -1")
    assert check_linearizable([Pack(5, 0), Pack(5, 0)], history).ok


def test_null_columns():
    assert passes(Pack(None, 0), "t0 use 0-1 false", "t0 release 2-3 -1")
    assert passes(Pack(5, None), "t0 use 0-1 false", "t0 release 2-3 -1")
    assert not passes(Pack(None, 0), "t0 use 0-1 true")
    assert not passes(Pack(5, None), "t0 release 0-1 0")
    (failure,) = check(Pack(5, None), "t0 use 0-1 true").failures
    assert "used=null/5" in failure.explanation


def test_ok_call_that_returned_null_is_a_violation():
    # None from an ok call is SQL NULL, an observed result, not "unknown"
    history = calls("t0 release 0-1 0")
    history[0] = Call(0, 0, "release", 0, 0, 1, Outcome.OK, None)
    (failure,) = check_linearizable([Pack(5, 1)], history).failures
    assert failure.explanation == (
        "Starting from used=1/5, t0 release(p0) returned null, but the model says it returns 0.")


def test_expired_pack_still_releases():
    assert passes(Pack(5, 2, "past"), "t0 release 0-1 1", "t0 use 2-3 false", "t0 release 4-5 0")


def test_check_partition_and_linearizable():
    history = calls("t0 release 0-10 0", "t1 release 1-11 0")
    assert isinstance(check_partition(Pack(5, 1), history), LinFailure)
    assert check_partition(Pack(5, 2), calls("t0 release 0-10 1", "t1 release 1-11 0")) is None
    assert not linearizable(PackState(5, 1), history)
    assert linearizable(PackState(5, 1), history[:1])


def test_max_steps_leaves_a_purchase_undecided():
    history = simulate(random.Random(5), [Pack(3, 1)], 300, 16)
    result = check_linearizable([Pack(3, 1)], history, max_steps=5)
    assert not result.ok and result.failures == () and result.undecided == (0,)
    with pytest.raises(Undecided):
        check_partition(Pack(3, 1), history, max_steps=5)
    assert check_linearizable([Pack(3, 1)], history).ok


def test_errors():
    with pytest.raises(ValueError, match="unknown operation 'refund'"):
        check(Pack(5, 1), "t0 refund 0-1 0")
    with pytest.raises(ValueError, match="purchase 3, but the workload has 1 packs"):
        check(Pack(5, 1), "t0 use@p3 0-1 true")


# -- generated histories ------------------------------------------------------------------


def simulate(rng: random.Random, packs, n, threads, *, info=0.0, fail=0.0,
             ops=("use", "release")) -> list[Call]:
    """A valid history by construction: every call takes effect at a random
    point inside its window, and results come from the model in that order."""
    free = [0] * threads
    planned = []
    for cid in range(n):
        t = min(range(threads), key=free.__getitem__)
        inv = free[t] + rng.randint(0, 3)
        ret = inv + rng.randint(1, 30)
        free[t] = ret
        planned.append((inv + rng.random() * (ret - inv), cid, t, rng.choice(ops),
                        rng.randrange(len(packs)), inv, ret, rng.random()))
    states = [model.init(p) for p in packs]
    out = []
    for at, cid, t, op, p, inv, ret, luck in sorted(planned):
        if luck < fail:
            out.append(Call(cid, t, op, p, inv, ret, Outcome.FAIL, None, "40001"))
            continue
        result, after = model.apply(states[p], op)
        if luck < fail + info:
            if luck < fail + info / 2:  # took effect, but nobody heard
                states[p] = after
            out.append(Call(cid, t, op, p, inv, rng.choice([None, ret]), Outcome.INFO))
            continue
        states[p] = after
        out.append(Call(cid, t, op, p, inv, ret, Outcome.OK, result))
    out.sort(key=lambda c: c.call)
    return out


PACKS = [Pack(10, 5), Pack(3, 0), Pack(None, 0), Pack(4, 4, "past"), Pack(20, 10, "future")]


def test_generated_valid_history_passes():
    history = simulate(random.Random(1), PACKS, 5000, 8, info=0.01, fail=0.02)
    result = check_linearizable(PACKS, history)
    assert result.ok, result.failures[:1]
    assert result.checked == sum(c.outcome is not Outcome.FAIL for c in history)


def test_generated_contended_history_passes():
    history = simulate(random.Random(2), [Pack(3, 1)], 2000, 16, info=0.005)
    assert check_linearizable([Pack(3, 1)], history).ok


def test_generated_contended_history_with_many_unknowns_passes():
    # unknown calls never return, so they pile up: 2% of 3,000 on one pack
    history = simulate(random.Random(10), [Pack(5, 2)], 3000, 16, info=0.02)
    assert sum(c.outcome is Outcome.INFO for c in history) > 30
    assert check_linearizable([Pack(5, 2)], history).ok


def test_generated_history_with_one_result_flipped_fails():
    rng = random.Random(3)
    history = simulate(rng, PACKS, 5000, 8)
    i = next(i for i in range(2500, 5000)
             if history[i].op == "release" and history[i].ok and history[i].result >= 0)
    bad = history[i]
    # no pack here ever holds 100 sessions, so no order can explain this
    history[i] = Call(bad.call, bad.thread, bad.op, bad.purchase, bad.invoked_at,
                      bad.completed_at, Outcome.OK, bad.result + 100)
    result = check_linearizable(PACKS, history)
    assert [f.purchase for f in result.failures] == [bad.purchase]
    assert history[i] in result.failures[0].calls
    assert len(result.failures[0].calls) <= 20


def test_generated_history_with_a_flipped_use_fails():
    # a use that did not count: later exact release values give it away
    history = simulate(random.Random(4), [Pack(1000, 500)], 400, 2)
    i = next(i for i in range(50, 400) if history[i].op == "use" and history[i].ok)
    bad = history[i]
    history[i] = Call(bad.call, bad.thread, bad.op, bad.purchase, bad.invoked_at,
                      bad.completed_at, Outcome.OK, not bad.result)
    assert not check_linearizable([Pack(1000, 500)], history).ok


packs_st = st.builds(
    Pack,
    st.one_of(st.none(), st.integers(0, 5)),
    st.one_of(st.none(), st.integers(0, 5)),
    st.sampled_from(["none", "future", "past"]),
)


@settings(max_examples=200, deadline=None)
@given(pack=packs_st, seed=st.integers(0, 2**32), n=st.integers(1, 40),
       threads=st.integers(1, 6), info=st.sampled_from([0.0, 0.2]),
       fail=st.sampled_from([0.0, 0.2]))
def test_generated_histories_always_pass(pack, seed, n, threads, info, fail):
    history = simulate(random.Random(seed), [pack], n, threads, info=info, fail=fail,
                       ops=("use", "release", "reinstate_naive"))
    assert check_linearizable([pack], history).ok


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(1, 60), threads=st.integers(2, 6),
       data=st.data())
def test_hiding_results_never_breaks_a_valid_history(seed, n, threads, data):
    pack = Pack(3, 1)
    history = simulate(random.Random(seed), [pack], n, threads)
    hide = data.draw(st.sets(st.integers(0, n - 1)))
    history = [Call(c.call, c.thread, c.op, c.purchase, c.invoked_at, c.completed_at,
                    Outcome.INFO) if c.call in hide else c for c in history]
    assert check_linearizable([pack], history).ok


def brute_force(start: PackState, history: list[Call]) -> bool:
    """Every subset of unknown calls, every order that respects real time."""
    sure = [c for c in history if c.outcome is Outcome.OK]
    maybe = [c for c in history if c.outcome is Outcome.INFO]
    for k in range(len(maybe) + 1):
        for chosen in itertools.combinations(maybe, k):
            for order in itertools.permutations(sure + list(chosen)):
                if any(a.outcome is Outcome.OK and a.completed_at < b.invoked_at
                       for i, b in enumerate(order) for a in order[i + 1:]):
                    continue  # b placed before a, though a returned before b began
                state, fine = start, True
                for c in order:
                    fine, state = model.step(state, c.op, c.result)
                    if not fine:
                        break
                if fine:
                    return True
    return False


call_st = st.tuples(
    st.sampled_from(["use", "release", "reinstate_naive"]),
    st.integers(0, 8), st.integers(0, 8),  # invoked, duration
    st.sampled_from(["ok", "ok", "ok", "info", "info-open", "fail"]),
    st.one_of(st.booleans(), st.integers(-1, 3)),
)


@settings(max_examples=400, deadline=None)
@given(pack=packs_st, raw=st.lists(call_st, min_size=1, max_size=6))
def test_agrees_with_brute_force(pack, raw):
    history = []
    for cid, (op, inv, dur, outcome, value) in enumerate(raw):
        if op == "use":
            value = bool(value)
        elif isinstance(value, bool):
            value = int(value)
        history.append(Call(
            cid, cid, op, 0, inv, None if outcome == "info-open" else inv + dur,
            Outcome(outcome.split("-")[0]), value if outcome == "ok" else None))
    expected = brute_force(model.init(pack), history)
    result = check_linearizable([pack], history)
    assert result.ok == expected
    if not expected:
        (failure,) = result.failures
        # the certificate fails on its own, from the state it names
        assert failure.calls and all(c.ok for c in failure.calls)
        assert not brute_force(failure.start, list(failure.calls))
        assert failure.explanation.startswith("Starting from ")
