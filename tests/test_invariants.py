"""The audit-trail checker on hand-written histories: each property has a
history that breaks it and a close one that does not."""

from __future__ import annotations

from harness.check import check
from harness.check.invariants import check_invariants
from harness.check.verdict import Verdict, Violation
from harness.history import AuditRow, Call, Outcome, Pack


def call(cid: int, op: str, inv: int, done: int | None, result=None, txid: int | None = None,
         thread: int | None = None, outcome: Outcome = Outcome.OK, sqlstate: str | None = None,
         purchase: int = 0) -> Call:
    return Call(cid, cid if thread is None else thread, op, purchase, inv, done, outcome, result,
                sqlstate, None, () if txid is None else (txid,))


def write(seq: int, old, new, txid: int, purchase: int = 0) -> AuditRow:
    return AuditRow(seq, purchase, old, new, txid, 100 + seq)


def broken(packs, calls, audit, finals, allowed=()) -> set[str]:
    return {v.property for v in check_invariants(packs, calls, audit, finals, allowed)}


# -- committed states ---------------------------------------------------------


def test_a_negative_committed_state_is_caught_even_if_the_end_is_fine() -> None:
    calls = [call(0, "release", 0, 5, -1, txid=10), call(1, "use", 6, 9, True, txid=11)]
    audit = [write(1, 0, -1, 10), write(2, -1, 0, 11)]
    assert "never-negative" in broken([Pack(5, 0)], calls, audit, [0])


def test_decrements_to_zero_are_fine() -> None:
    calls = [call(0, "release", 0, 5, 1, txid=10), call(1, "release", 6, 9, 0, txid=11)]
    audit = [write(1, 2, 1, 10), write(2, 1, 0, 11)]
    assert broken([Pack(5, 2)], calls, audit, [0]) == set()


def test_over_the_total_is_caught_and_names_both_racers() -> None:
    calls = [call(0, "use", 0, 10, True, txid=10), call(1, "use", 1, 11, True, txid=11)]
    audit = [write(1, 0, 1, 10), write(2, 1, 2, 11)]
    vs = check_invariants([Pack(1, 0)], calls, audit, [2])
    over = [v for v in vs if v.property == "within-total"]
    assert over and set(over[0].calls) == {0, 1}


def test_no_total_means_no_bound() -> None:
    calls = [call(0, "use", 0, 10, True, txid=10)]
    assert "within-total" not in broken([Pack(None, 3)], calls, [write(1, 3, 4, 10)], [4])


# -- lost updates and conservation ----------------------------------------------


def test_a_step_of_two_is_a_lost_update() -> None:
    calls = [call(0, "use", 0, 3, True, txid=10), call(1, "reinstate_naive", 1, 5, 1, txid=11)]
    audit = [write(1, 2, 3, 10), write(2, 3, 1, 11)]
    assert "no-lost-update" in broken([Pack(5, 2)], calls, audit, [1])


def test_the_data01_lost_update_two_reinstates_both_return_zero() -> None:
    calls = [call(0, "reinstate_naive", 0, 10, 0, txid=10),
             call(1, "reinstate_naive", 1, 11, 0, txid=11)]
    audit = [write(1, 1, 0, 10), write(2, 0, 0, 11)]
    assert {"no-lost-update", "conservation"} <= broken([Pack(5, 1)], calls, audit, [0])


def test_a_noop_rewriting_the_same_value_is_not_a_lost_update() -> None:
    calls = [call(0, "release", 0, 3, -1, txid=10)]
    assert broken([Pack(5, 0)], calls, [write(1, 0, 0, 10)], [0]) == set()


def test_conservation_counts_successes_only() -> None:
    # The release overlaps the use, so it may have seen 0 and done nothing.
    calls = [call(0, "use", 0, 3, True, txid=10), call(1, "release", 1, 6, -1)]
    assert broken([Pack(5, 0)], calls, [write(1, 0, 1, 10)], [1]) == set()
    assert "conservation" in broken([Pack(5, 0)], calls, [write(1, 0, 1, 10)], [2])


def test_unknown_calls_may_count_or_not() -> None:
    calls = [call(0, "use", 0, 3, True, txid=10),
             call(1, "use", 4, None, outcome=Outcome.INFO)]
    for final in (1, 2):  # the unknown use took effect, or did not
        rows = [write(1, 0, 1, 10)] + ([write(2, 1, 2, 99)] if final == 2 else [])
        assert "conservation" not in broken([Pack(5, 0)], calls, rows, [final], ("",))
    assert "conservation" in broken([Pack(5, 0)], calls, [write(1, 0, 1, 10)], [3])


def test_a_null_counter_stays_null() -> None:
    calls = [call(0, "use", 0, 3, False), call(1, "release", 4, 6, -1)]
    assert broken([Pack(5, None)], calls, [], [None]) == set()
    assert "conservation" in broken([Pack(5, None)], calls, [], [1])


# -- each call against its own write -------------------------------------------------


def test_use_on_an_expired_pack() -> None:
    calls = [call(0, "use", 0, 3, True, txid=10)]
    pack = Pack(5, 0, "past")
    assert "refuse-expired" in broken([pack], calls, [write(1, 0, 1, 10)], [1])
    assert "refuse-expired" not in broken([Pack(5, 0, "future")], calls, [write(1, 0, 1, 10)], [1])


def test_release_returning_the_old_value() -> None:
    calls = [call(0, "release", 0, 3, 3, txid=10)]
    assert "return-value" in broken([Pack(5, 3)], calls, [write(1, 3, 2, 10)], [2])


def test_use_returning_true_without_a_write() -> None:
    calls = [call(0, "use", 0, 3, True)]
    assert "return-value" in broken([Pack(5, 3)], calls, [], [3])


def test_release_returning_minus_one_after_decrementing() -> None:
    calls = [call(0, "release", 0, 3, -1, txid=10)]
    assert "return-value" in broken([Pack(5, 1)], calls, [write(1, 1, 0, 10)], [0])


def test_two_writes_in_one_call() -> None:
    calls = [call(0, "use", 0, 3, True, txid=10)]
    got = broken([Pack(5, 1)], calls, [write(1, 1, 2, 10), write(2, 2, 3, 10)], [3])
    assert "return-value" in got


def test_a_use_that_decrements() -> None:
    calls = [call(0, "use", 0, 3, True, txid=10)]
    assert "return-value" in broken([Pack(5, 2)], calls, [write(1, 2, 1, 10)], [1])


# -- no-ops justified by a state in their window --------------------------------------


def test_minus_one_while_the_counter_was_never_zero() -> None:
    calls = [call(0, "release", 0, 10, 1, txid=10), call(1, "release", 2, 8, -1)]
    got = broken([Pack(5, 2)], calls, [write(1, 2, 1, 10)], [1])
    assert "refusal-justified" in got


def test_minus_one_overlapping_a_write_that_reached_zero() -> None:
    calls = [call(0, "release", 0, 10, 0, txid=10), call(1, "release", 2, 12, -1)]
    assert broken([Pack(5, 1)], calls, [write(1, 1, 0, 10)], [0]) == set()


def test_minus_one_after_a_write_that_finished_before_it_started() -> None:
    # The release that returned -1 started after the use committed 0 -> 1.
    calls = [call(0, "use", 0, 5, True, txid=10), call(1, "release", 6, 8, -1)]
    assert "refusal-justified" in broken([Pack(5, 0)], calls, [write(1, 0, 1, 10)], [1])


def test_use_refused_on_a_full_pack_is_fine_on_one_with_room_is_not() -> None:
    refused = [call(0, "use", 0, 3, False)]
    assert broken([Pack(2, 2)], refused, [], [2]) == set()
    assert "refusal-justified" in broken([Pack(2, 1)], refused, [], [1])


# -- errors -------------------------------------------------------------------------------


def test_errors_are_violations_unless_allowed() -> None:
    failed = [call(0, "release", 0, 3, outcome=Outcome.FAIL, sqlstate="P0001")]
    assert "no-raise" in broken([Pack(5, 0)], failed, [], [0])
    assert "no-raise" not in broken([Pack(5, 0)], failed, [], [0], allowed=("P0001",))


def test_a_lost_connection_is_reported_as_such() -> None:
    lost = [call(0, "use", 0, None, outcome=Outcome.INFO)]
    vs = check_invariants([Pack(5, 0)], lost, [], [0])
    assert [v.property for v in vs] == ["no-raise"]
    assert "connection lost" in vs[0].message


# -- the verdict --------------------------------------------------------------------------


def test_verdict_leads_with_the_most_fundamental_property() -> None:
    v = Verdict((Violation("linearizable", "x"), Violation("never-negative", "y"),
                 Violation("conservation", "z")))
    assert v.first().property == "never-negative"
    assert v.broken == ("never-negative", "conservation", "linearizable")
    assert v.status()["never-negative"] == "fail" and v.status()["within-total"] == "pass"
    assert not v.ok and Verdict().ok


def test_check_combines_audit_and_linearizability() -> None:
    calls = [call(0, "use", 0, 10, True, txid=10), call(1, "use", 1, 11, True, txid=11)]
    audit = [write(1, 0, 1, 10), write(2, 1, 2, 11)]
    both = check([Pack(1, 0)], calls, audit, [2])
    assert {"within-total", "linearizable"} <= set(both.broken)
    history_only = check([Pack(1, 0)], calls, audit, [2], use_audit=False)
    assert history_only.broken == ("linearizable",)
    assert "within-total" not in history_only.checked
