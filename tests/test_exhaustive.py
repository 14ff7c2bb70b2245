"""The systematic search's pure parts: which programs a bound enumerates, and
which small races a free-running failure is pinned from. No database."""

from __future__ import annotations

from harness.check import Verdict
from harness.exhaustive import Bound, _races_of, _sequences, programs
from harness.explore import Failure
from harness.history import AuditRow, History, Pack
from harness.run.example import Observation
from harness.workload import OpCall, Program


def test_only_sequences_no_further_call_fits() -> None:
    seqs = _sequences(["use", "release"], {"use": 2, "release": 1}, 3)
    assert set(seqs) == {("use", "release"), ("release", "use"), ("release", "release", "release")}


def test_sessions_are_a_multiset_of_sequences() -> None:
    progs = list(programs(["use", "release"], {"use": 1, "release": 1}, Bound(2, 1),
                          packs=(Pack(1, 0),)))
    assert [tuple(c.op for t in p.threads for c in t) for p in progs] == [
        ("release", "release"), ("release", "use"), ("use", "use")]


def test_a_bound_is_sessions_x_steps() -> None:
    assert Bound.parse("3x3") == Bound(3, 3)
    for bad in ("3", "0x2", "3x9", "axb"):
        try:
            Bound.parse(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad} parsed")


def _failure(program: Program, audit: tuple[AuditRow, ...]) -> Failure:
    obs = Observation(program, ("a", "b"), History(), audit, (None, None))
    return Failure(obs, Verdict((), ()))


def test_races_are_pinned_small_first_on_one_row_from_committed_values() -> None:
    threads = tuple((OpCall("use", 0), OpCall("release", 1)) for _ in range(6))
    program = Program((Pack(3, 1), Pack(2, 0, "past")), threads)
    audit = (AuditRow(1, 0, 1, 2, 10, 1), AuditRow(2, 1, 0, None, 11, 1),
             AuditRow(3, 0, 2, 3, 12, 2), AuditRow(4, 0, 3, 4, 13, 3),
             AuditRow(5, 1, 0, -1, 14, 3))
    races = list(_races_of(_failure(program, audit)))
    sizes = [len(p.threads) for p in races]
    assert sizes == sorted(sizes) and sizes[0] == 2 and 3 in sizes
    for p in races:
        assert len(p.packs) == 1 and all(len(t) == 1 for t in p.threads)
        assert {c.purchase for t in p.threads for c in t} == {0}
    # The use races start from every value p0 committed (1, 2, 3), with its
    # total; 4 is past the total (the violation itself), not a state to start from.
    uses = [p for p in races if {t[0].op for t in p.threads} == {"use"}]
    assert {p.packs[0] for p in uses} == {Pack(3, 1), Pack(3, 2), Pack(3, 3)}
    # The release races keep p1's expiry and its one value (NULL and -1 are not states).
    releases = [p for p in races if {t[0].op for t in p.threads} == {"release"}]
    assert {p.packs[0] for p in releases} == {Pack(2, 0, "past")}


def test_no_three_way_race_from_two_threads() -> None:
    program = Program((Pack(1, 0),), ((OpCall("use", 0),), (OpCall("use", 0),)))
    assert {len(p.threads) for p in _races_of(_failure(program, ()))} == {2}
