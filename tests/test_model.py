"""The sequential specification of a session pack (harness.model)."""

from __future__ import annotations

import pytest

from harness import model
from harness.history import Call, Outcome, Pack
from harness.model import PackState


def S(used, total=5, expired=False):
    return PackState(total=total, used=used, expired=expired)


def test_init_copies_the_pack():
    assert model.init(Pack(5, 2)) == S(2)
    assert model.init(Pack(5, 2, "past")) == S(2, expired=True)
    assert model.init(Pack(5, 2, "future")) == S(2)
    assert model.init(Pack(None, None)) == PackState(None, None, False)


def test_states_are_hashable_values():
    assert len({S(1), S(1), S(2)}) == 2
    with pytest.raises(AttributeError):
        S(1).used = 2  # type: ignore[misc]


def test_ops_are_known():
    assert set(model.OPS) == {"use", "release", "reinstate_naive"}


# -- use ------------------------------------------------------------------------


def test_use_with_room_returns_true_and_counts():
    assert model.step(S(3), "use", True) == (True, S(4))
    assert model.step(S(3), "use", False) == (False, S(3))


@pytest.mark.parametrize(
    "state",
    [S(5), S(6), S(0, total=0), S(2, expired=True), S(None), S(1, total=None), S(None, None)],
    ids=["full", "over", "empty-pack", "expired", "used-null", "total-null", "both-null"],
)
def test_use_refused(state):
    assert model.step(state, "use", False) == (True, state)
    assert model.step(state, "use", True) == (False, state)


def test_use_unknown_result_takes_its_usual_effect():
    assert model.step(S(3), "use", None) == (True, S(4))
    assert model.step(S(5), "use", None) == (True, S(5))


def test_use_result_must_be_a_bool():
    assert model.step(S(3), "use", 1)[0] is False
    assert model.step(S(5), "use", 0)[0] is False


# -- release / reinstate_naive -------------------------------------------------------


@pytest.mark.parametrize("op", ["release", "reinstate_naive"])
def test_release_returns_the_new_value(op):
    assert model.step(S(3), op, 2) == (True, S(2))
    assert model.step(S(1), op, 0) == (True, S(0))
    assert model.step(S(3), op, 3) == (False, S(3))  # the old value is wrong
    assert model.step(S(3), op, -1) == (False, S(3))  # refusing with room is wrong


@pytest.mark.parametrize("op", ["release", "reinstate_naive"])
@pytest.mark.parametrize("state", [S(0), S(-2), S(None), S(None, None)])
def test_release_at_zero_or_null_is_a_no_op(op, state):
    assert model.step(state, op, -1) == (True, state)
    assert model.step(state, op, 0) == (False, state)


def test_release_ignores_expiry_and_total():
    assert model.step(S(2, expired=True), "release", 1) == (True, S(1, expired=True))
    assert model.step(S(2, total=None), "release", 1) == (True, S(1, total=None))
    assert model.step(S(9, total=5), "release", 8) == (True, S(8, total=5))


def test_release_result_must_be_an_int_not_a_bool():
    assert model.step(S(2), "release", True)[0] is False
    assert model.step(S(1), "release", False)[0] is False


def test_release_unknown_result():
    assert model.step(S(2), "release", None) == (True, S(1))
    assert model.step(S(0), "release", None) == (True, S(0))


def test_apply_is_the_deterministic_spec():
    assert model.apply(S(3), "use") == (True, S(4))
    assert model.apply(S(5), "use") == (False, S(5))
    assert model.apply(S(3), "release") == (2, S(2))
    assert model.apply(S(0), "release") == (-1, S(0))


def test_unknown_op_raises():
    with pytest.raises(ValueError, match="unknown operation 'refund'"):
        model.step(S(1), "refund", None)


def test_describe():
    assert model.describe(S(3)) == "used=3/5"
    assert model.describe(S(3, expired=True)) == "used=3/5 (expired)"
    assert model.describe(S(None)) == "used=null/5"
    assert model.describe(PackState(None, 0)) == "used=0/null"


def test_partition_is_the_purchase():
    c = Call(call=0, thread=1, op="use", purchase=7, invoked_at=0, completed_at=1,
             outcome=Outcome.OK, result=True)
    assert model.partition(c) == 7
