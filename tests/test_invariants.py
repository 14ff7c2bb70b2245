"""The audit-trail checker (``check_invariants``) on hand-written histories.

Each property it can report has a history that breaks it and a close one that
does not, so every assertion can fail. A history reads like a story: the pack
the run started from, the calls with their real-time window (small integer
timestamps), their result and the transaction they committed in, the audit
rows the trigger left (one per committed write, in commit order) and the
counter's final value.
"""

from __future__ import annotations

import pytest

from harness.check import check
from harness.check.invariants import check_invariants
from harness.check.verdict import PROPERTIES, Verdict, Violation
from harness.history import AuditRow, Call, Outcome, Pack

# -- a small vocabulary for stories ---------------------------------------------------


def pack(used: int | None, total: int | None = 5, expiry: str = "none") -> Pack:
    return Pack(total=total, used=used, expiry=expiry)


def ok(cid: int, op: str, start: int, end: int, result, *, txid: int | None = None,
       thread: int | None = None, purchase: int = 0) -> Call:
    """A call that returned ``result``; ``txid``: the transaction it committed a write in."""
    return Call(call=cid, thread=cid if thread is None else thread, op=op, purchase=purchase,
                invoked_at=start, completed_at=end, outcome=Outcome.OK, result=result,
                txids=() if txid is None else (txid,), pid=1000 + cid)


def use(cid: int, start: int, end: int, result: bool, **kw) -> Call:
    return ok(cid, "use", start, end, result, **kw)


def release(cid: int, start: int, end: int, result: int, **kw) -> Call:
    return ok(cid, "release", start, end, result, **kw)


def reinstate(cid: int, start: int, end: int, result: int, **kw) -> Call:
    return ok(cid, "reinstate_naive", start, end, result, **kw)


def failed(cid: int, op: str, start: int, end: int, sqlstate: str, error: str = "boom") -> Call:
    return Call(call=cid, thread=cid, op=op, purchase=0, invoked_at=start, completed_at=end,
                outcome=Outcome.FAIL, sqlstate=sqlstate, error=error, pid=1000 + cid)


def lost(cid: int, op: str, start: int) -> Call:
    """A call whose connection died: it never returned, it may or may not have written."""
    return Call(call=cid, thread=cid, op=op, purchase=0, invoked_at=start, completed_at=None,
                outcome=Outcome.INFO, pid=1000 + cid)


def wrote(seq: int, old: int | None, new: int | None, txid: int, purchase: int = 0) -> AuditRow:
    """One committed write, as the audit trigger recorded it."""
    return AuditRow(seq=seq, purchase=purchase, old=old, new=new, txid=txid, pid=2000 + txid)


def trail(*steps: tuple[int | None, int | None, int]) -> list[AuditRow]:
    """The audit rows of one purchase, in commit order: ``(old, new, txid)`` each."""
    return [wrote(seq, old, new, txid) for seq, (old, new, txid) in enumerate(steps, 1)]


def violations(start: Pack, calls, audit, final, **kw) -> list[Violation]:
    return check_invariants([start], calls, audit, [final], **kw)


def broken(start: Pack, calls, audit, final, **kw) -> set[str]:
    return {v.property for v in violations(start, calls, audit, final, **kw)}


def the(prop: str, start: Pack, calls, audit, final, **kw) -> Violation:
    found = [v for v in violations(start, calls, audit, final, **kw) if v.property == prop]
    assert found, f"no {prop} violation"
    return found[0]


def test_the_story_helpers_build_what_the_executor_records() -> None:
    c = release(3, 10, 20, 0, txid=7)
    assert (c.call, c.thread, c.op, c.invoked_at, c.completed_at, c.result, c.txids) == (
        3, 3, "release", 10, 20, 0, (7,))
    assert c.ok and c.describe() == "t3 release(p0) -> 0"
    assert trail((1, 0, 7), (0, 1, 8))[1] == AuditRow(2, 0, 0, 1, 8, 2008)


# -- never-negative -----------------------------------------------------------------------


def test_a_release_committing_minus_one_is_negative() -> None:
    # The off-by-one guard (sessions_used >= 0) decrements 0 to -1 and returns -1.
    calls = [release(0, 0, 5, -1, txid=10)]
    v = the("never-negative", pack(0), calls, trail((0, -1, 10)), -1)
    assert v.calls == (0,) and v.purchase == 0
    assert "-1" in v.message and "t0 release(p0)" in v.message


def test_a_negative_state_is_caught_even_when_the_final_value_is_fine() -> None:
    calls = [release(0, 0, 5, -1, txid=10), use(1, 6, 9, True, txid=11)]
    audit = trail((0, -1, 10), (-1, 0, 11))
    assert "never-negative" in broken(pack(0), calls, audit, 0)


def test_decrementing_down_to_zero_is_not_negative() -> None:
    calls = [release(0, 0, 5, 1, txid=10), release(1, 6, 9, 0, txid=11)]
    assert broken(pack(2), calls, trail((2, 1, 10), (1, 0, 11)), 0) == set()


# -- within-total -------------------------------------------------------------------------


def test_a_use_committing_past_the_total() -> None:
    calls = [use(0, 0, 5, True, txid=10)]
    v = the("within-total", pack(3, total=3), calls, trail((3, 4, 10)), 4)
    assert v.calls == (0,)
    assert "total of 3" in v.message and "remaining -1" in v.message


def test_a_use_up_to_the_total_is_within_it() -> None:
    calls = [use(0, 0, 5, True, txid=10)]
    assert broken(pack(2, total=3), calls, trail((2, 3, 10)), 3) == set()


def test_no_total_means_no_bound_to_pass() -> None:
    calls = [use(0, 0, 5, True, txid=10)]
    audit = trail((3, 4, 10))
    assert "within-total" in broken(pack(3, total=3), calls, audit, 4)
    assert "within-total" not in broken(pack(3, total=None), calls, audit, 4)


def test_the_use_session_race_passes_the_total_and_names_both_uses() -> None:
    # The app's 0010 use_session: both read remaining = 1, both update, both true.
    calls = [use(0, 0, 10, True, txid=10), use(1, 1, 11, True, txid=11)]
    audit = trail((0, 1, 10), (1, 2, 11))
    v = the("within-total", pack(0, total=1), calls, audit, 2)
    assert set(v.calls) == {0, 1}
    # SPEC: the race breaks neither never-negative nor conservation; only the total.
    assert broken(pack(0, total=1), calls, audit, 2) == {"within-total"}
    # The same two uses on a pack with room for both are fine.
    assert broken(pack(0, total=2), calls, audit, 2) == set()


# -- no-lost-update -------------------------------------------------------------------------


def test_a_step_of_two_is_a_lost_update() -> None:
    calls = [use(0, 0, 3, True, txid=10), reinstate(1, 1, 5, 0, txid=11)]
    audit = trail((1, 2, 10), (2, 0, 11))
    v = the("no-lost-update", pack(1), calls, audit, 0)
    assert set(v.calls) == {0, 1}  # the write, and the one before it
    assert "from 2 to 0" in v.message and "t0 use(p0)" in v.message


def test_steps_of_one_are_not_lost_updates() -> None:
    calls = [use(0, 0, 3, True, txid=10), reinstate(1, 4, 5, 1, txid=11)]
    assert broken(pack(1), calls, trail((1, 2, 10), (2, 1, 11)), 1) == set()


def test_a_successful_call_that_left_the_counter_where_it_was_lost_an_update() -> None:
    calls = [release(0, 0, 3, 2, txid=10)]
    assert "no-lost-update" in broken(pack(2), calls, trail((2, 2, 10)), 2)


def test_a_noop_rewriting_the_same_value_is_not_a_lost_update() -> None:
    # A no-op (-1) whose transaction rewrote 0 -> 0: no state changed.
    assert broken(pack(0), [release(0, 0, 3, -1, txid=10)], trail((0, 0, 10)), 0) == set()
    # The very same write, by a call claiming it released, is a lost update.
    assert "no-lost-update" in broken(pack(0), [release(0, 0, 3, 0, txid=10)],
                                      trail((0, 0, 10)), 0)


# -- conservation ---------------------------------------------------------------------------


def test_a_final_value_off_by_one() -> None:
    calls = [use(0, 0, 3, True, txid=10), release(1, 4, 6, -1)]
    v = the("conservation", pack(0), calls, trail((0, 1, 10)), 2)
    assert v.calls == (0,)  # the successful calls; the no-op does not count
    assert "ended at 2" in v.message and "0 + 1 successful uses - 0 successful releases = 1" in v.message


def test_a_final_value_that_adds_up() -> None:
    calls = [use(0, 0, 3, True, txid=10), release(1, 4, 6, -1)]
    # The release started after the use committed 0 -> 1: its -1 is unjustified, but the
    # arithmetic is right; conservation itself holds.
    assert "conservation" not in broken(pack(0), calls, trail((0, 1, 10)), 1)
    # Overlapping the use, it may have seen 0: everything holds.
    overlapping = [use(0, 0, 3, True, txid=10), release(1, 1, 6, -1)]
    assert broken(pack(0), overlapping, trail((0, 1, 10)), 1) == set()


def test_unknown_calls_may_or_may_not_have_counted() -> None:
    # From 2: a release returned 1; a use and a release lost their connection.
    # Achievable finals: 1 - 1 (only the lost release), 1, 1 + 1 (only the lost use).
    calls = [release(0, 0, 3, 1, txid=10), lost(1, "use", 1), lost(2, "release", 2)]
    audits = {
        0: trail((2, 1, 10), (1, 0, 98)),
        1: trail((2, 1, 10), (1, 2, 97), (2, 1, 98)),
        2: trail((2, 1, 10), (1, 2, 97)),
    }
    for final, audit in audits.items():
        assert broken(pack(2), calls, audit, final, allow_unknown=True) == set(), final
    for final in (-1, 3):
        v = the("conservation", pack(2), calls, audits[1], final, allow_unknown=True)
        assert "2 calls of unknown outcome" in v.message


def test_a_null_counter_stays_null() -> None:
    calls = [use(0, 0, 3, False), release(1, 4, 6, -1)]
    assert broken(pack(None), calls, [], None) == set()
    v = the("conservation", pack(None), calls, [], 1)
    assert "null" in v.message and "ended at 1" in v.message


def test_a_counter_that_became_null_is_not_conserved() -> None:
    assert "conservation" in broken(pack(2), [], [], None)
    assert broken(pack(2), [], [], 2) == set()


# -- refuse-expired --------------------------------------------------------------------------


def test_a_use_succeeding_on_an_expired_pack() -> None:
    calls = [use(0, 0, 3, True, txid=10)]
    audit = trail((0, 1, 10))
    v = the("refuse-expired", pack(0, expiry="past"), calls, audit, 1)
    assert v.calls == (0,) and "expired" in v.message
    assert broken(pack(0, expiry="future"), calls, audit, 1) == set()


def test_an_expired_pack_refuses_uses_but_not_releases() -> None:
    expired = pack(1, expiry="past")
    assert broken(expired, [use(0, 0, 3, False)], [], 1) == set()
    # SPEC truth 5: release ignores expiry, so reinstating works ...
    assert broken(expired, [release(0, 0, 3, 0, txid=10)], trail((1, 0, 10)), 0) == set()
    # ... and expiry is no excuse for a release to refuse.
    assert "refusal-justified" in broken(expired, [release(0, 0, 3, -1)], [], 1)


# -- return-value ------------------------------------------------------------------------------


def test_release_returning_the_old_value() -> None:
    audit = trail((3, 2, 10))
    v = the("return-value", pack(3), [release(0, 0, 3, 3, txid=10)], audit, 2)
    assert v.calls == (0,) and "3->2" in v.message
    assert broken(pack(3), [release(0, 0, 3, 2, txid=10)], audit, 2) == set()


def test_use_returning_true_without_a_write() -> None:
    v = the("return-value", pack(3), [use(0, 0, 3, True)], [], 3)
    assert "no change" in v.message
    # Refusing on a full pack without writing is the honest version.
    assert broken(pack(5), [use(0, 0, 3, False)], [], 5) == set()


def test_release_returning_minus_one_while_its_transaction_decremented() -> None:
    audit = trail((1, 0, 10))
    v = the("return-value", pack(1), [release(0, 0, 3, -1, txid=10)], audit, 0)
    assert "a no-op" in v.message and "1->0" in v.message
    assert broken(pack(1), [release(0, 0, 3, 0, txid=10)], audit, 0) == set()


def test_two_writes_in_one_call() -> None:
    audit = trail((1, 2, 10), (2, 3, 10))
    v = the("return-value", pack(1), [use(0, 0, 3, True, txid=10)], audit, 3)
    assert "2 writes" in v.message and "1->2, 2->3" in v.message


def test_a_use_that_decremented() -> None:
    calls = [use(0, 0, 3, True, txid=10)]
    assert "return-value" in broken(pack(2), calls, trail((2, 1, 10)), 1)
    assert "return-value" not in broken(pack(2), calls, trail((2, 3, 10)), 3)


def test_results_of_the_wrong_type() -> None:
    # release answers with a number: true is not 1; use answers true or false.
    assert "return-value" in broken(pack(2), [release(0, 0, 3, True, txid=10)],
                                    trail((2, 1, 10)), 1)
    assert "return-value" in broken(pack(2), [use(0, 0, 3, 1, txid=10)], trail((2, 3, 10)), 3)


# -- refusal-justified -------------------------------------------------------------------------


def test_minus_one_while_the_counter_was_only_two_then_one() -> None:
    # p0 at 2; t0 releases 2 -> 1 around t1's call, which says -1.
    calls = [release(0, 0, 10, 1, txid=10), release(1, 2, 8, -1)]
    v = the("refusal-justified", pack(2), calls, trail((2, 1, 10)), 1)
    assert v.calls == (1,)
    assert "only ever 2, 1" in v.message and "never zero" in v.message


def test_minus_one_is_justified_by_a_concurrent_write_that_passed_through_zero() -> None:
    # The same t1 call; t2 takes the counter on from 1 to 0. Whether t1 may have seen
    # the 0 depends only on when t2 ran.
    def story(t2_start: int) -> set[str]:
        calls = [release(0, 0, 10, 1, txid=10), release(1, 2, 8, -1),
                 release(2, t2_start, 12, 0, txid=11)]
        return broken(pack(2), calls, trail((2, 1, 10), (1, 0, 11)), 0)

    assert story(t2_start=3) == set()  # overlaps t1: t1 may have come after it
    assert story(t2_start=9) == {"refusal-justified"}  # started after t1 returned


def test_a_write_that_finished_before_the_call_started_rules_its_old_state_out() -> None:
    # From 0, a use moves the counter to 1; then a release returns -1.
    def story(release_start: int) -> set[str]:
        calls = [use(0, 0, 5, True, txid=10), release(1, release_start, 8, -1)]
        return broken(pack(0), calls, trail((0, 1, 10)), 1)

    assert story(release_start=6) == {"refusal-justified"}  # could only have seen 1
    assert story(release_start=4) == set()  # may have run before the use: saw 0


def test_use_refused_on_a_full_pack_is_fine_on_a_pack_with_room_is_not() -> None:
    refused = [use(0, 0, 3, False)]
    assert broken(pack(2, total=2), refused, [], 2) == set()
    v = the("refusal-justified", pack(1, total=2), refused, [], 1)
    assert "only ever 1" in v.message and "its total or expired" in v.message


def test_use_refused_while_another_use_took_the_last_session() -> None:
    def story(refused_start: int, refused_end: int) -> set[str]:
        calls = [use(0, 2, 10, True, txid=10), use(1, refused_start, refused_end, False)]
        return broken(pack(0, total=1), calls, trail((0, 1, 10)), 1)

    assert story(3, 8) == set()  # overlapping: the pack may already have been full
    assert story(0, 1) == {"refusal-justified"}  # before the other use began: room left


def test_a_null_counter_justifies_every_refusal() -> None:
    calls = [use(0, 0, 3, False), release(1, 0, 3, -1), reinstate(2, 4, 6, -1)]
    assert broken(pack(None), calls, [], None) == set()


def test_a_noop_whose_own_write_shows_the_counter_was_not_at_its_bound() -> None:
    # release says -1 ("it was at 0"), yet its own transaction rewrote 2 -> 2, and no other
    # call wrote: the counter was 2 throughout. Compare the honest 0 -> 0 rewrite, which
    # test_a_noop_rewriting_the_same_value_is_not_a_lost_update shows passes.
    calls = [release(0, 0, 3, -1, txid=10)]
    assert "refusal-justified" in broken(pack(2), calls, trail((2, 2, 10)), 2)


# -- no-raise -------------------------------------------------------------------------------------


def test_an_error_is_a_violation_unless_allowed() -> None:
    calls = [failed(0, "release", 0, 3, "P0001", "no sessions to release")]
    v = the("no-raise", pack(0), calls, [], 0)
    assert v.calls == (0,)
    assert "P0001" in v.message and "no sessions to release" in v.message
    assert violations(pack(0), calls, [], 0, allowed_errors=("P0001",)) == []
    assert "no-raise" in broken(pack(0), calls, [], 0, allowed_errors=("40001",))


def test_a_failed_call_counts_for_nothing() -> None:
    # A 40001 certainly did not take effect: with it allowed, the counter must not move.
    calls = [failed(0, "use", 0, 3, "40001")]
    assert broken(pack(0), calls, [], 0, allowed_errors=("40001",)) == set()
    assert "conservation" in broken(pack(0), calls, [], 1, allowed_errors=("40001",))


def test_a_lost_connection_is_reported_as_one() -> None:
    calls = [lost(0, "use", 0)]
    vs = violations(pack(0), calls, [], 0)
    assert [v.property for v in vs] == ["no-raise"]
    assert "connection" in vs[0].message and vs[0].calls == (0,)
    assert violations(pack(0), calls, [], 0, allow_unknown=True) == []


# -- the DATA-01 lost update -----------------------------------------------------------------------


@pytest.mark.parametrize("audit", [
    trail((1, 0, 10), (1, 0, 11)),  # each write recorded from the value its call read
    trail((1, 0, 10), (0, 0, 11)),  # the trigger's OLD: what the row held when rewritten
], ids=["1->0,1->0", "1->0,0->0"])
def test_two_naive_reinstates_at_one_both_returning_zero(audit: list[AuditRow]) -> None:
    # Both read 1, both write 0, both say 0: 1 - 2 successful releases says -1.
    calls = [reinstate(0, 0, 10, 0, txid=10), reinstate(1, 1, 11, 0, txid=11)]
    got = broken(pack(1), calls, audit, 0)
    assert got & {"no-lost-update", "conservation"}
    assert "conservation" in got  # the counter ended at 0, not -1


def test_naive_reinstates_that_did_not_overlap_are_fine() -> None:
    calls = [reinstate(0, 0, 5, 1, txid=10), reinstate(1, 6, 11, 0, txid=11)]
    assert broken(pack(2), calls, trail((2, 1, 10), (1, 0, 11)), 0) == set()


def test_purchases_are_checked_apart() -> None:
    # p1's over-the-total write is p1's alone; p0 is fine.
    calls = [use(0, 0, 3, True, txid=10), use(1, 0, 3, True, txid=11, purchase=1)]
    audit = [wrote(1, 0, 1, 10, purchase=0), wrote(1, 1, 2, 11, purchase=1)]
    vs = check_invariants([pack(0), pack(1, total=1)], calls, audit, [1, 2])
    assert [(v.property, v.purchase, v.calls) for v in vs] == [("within-total", 1, (1,))]


# -- the verdict ---------------------------------------------------------------------------------


def test_first_is_the_most_fundamental_property_broken() -> None:
    v = Verdict((Violation("linearizable", "a"), Violation("conservation", "b"),
                 Violation("never-negative", "c"), Violation("within-total", "d")))
    assert v.first() == Violation("never-negative", "c")
    assert Verdict((Violation("no-raise", "x"), Violation("return-value", "y"))).first().property \
        == "return-value"
    assert Verdict().first() is None


def test_broken_lists_each_property_once_in_properties_order() -> None:
    v = Verdict((Violation("no-raise", "a"), Violation("conservation", "b"),
                 Violation("no-raise", "c"), Violation("within-total", "d")))
    assert v.broken == ("within-total", "conservation", "no-raise")
    assert Verdict().broken == ()


def test_status_says_pass_or_fail_for_each_property_checked() -> None:
    v = Verdict((Violation("conservation", "b"),))
    status = v.status()
    assert list(status) == list(PROPERTIES)
    assert status["conservation"] == "fail"
    assert {s for p, s in status.items() if p != "conservation"} == {"pass"}
    only_some = Verdict((Violation("conservation", "b"),), checked=("never-negative", "conservation"))
    assert only_some.status() == {"never-negative": "pass", "conservation": "fail"}


def test_ok_and_unknown_properties() -> None:
    assert Verdict().ok and not Verdict((Violation("no-raise", "x"),)).ok
    with pytest.raises(ValueError, match="unknown property"):
        Violation("no-such-property", "x")


def test_check_joins_the_audit_checker_and_linearizability() -> None:
    calls = [use(0, 0, 10, True, txid=10), use(1, 1, 11, True, txid=11)]
    audit = trail((0, 1, 10), (1, 2, 11))
    both = check([pack(0, total=1)], calls, audit, [2])
    assert set(both.broken) == {"within-total", "linearizable"}
    assert both.first().property == "within-total"
    history_only = check([pack(0, total=1)], calls, audit, [2], use_audit=False)
    assert history_only.broken == ("linearizable",)
    assert "within-total" not in history_only.checked
