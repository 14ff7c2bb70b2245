"""The text transcript of a counterexample: the starting state, one column per
thread with each call's invoke and completion in real-time order, and the
values the database committed."""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.history import AuditRow, Call, Outcome, Pack
from harness.report.transcript import committed_line, schedule_transcript, transcript

MS = 1_000_000  # timestamps are monotonic nanoseconds


def call(cid: int, thread: int, op: str, start_ms: int, end_ms: int | None, result=None, *,
         txid: int | None = None, outcome: Outcome = Outcome.OK, sqlstate: str | None = None,
         purchase: int = 0) -> Call:
    return Call(call=cid, thread=thread, op=op, purchase=purchase, invoked_at=start_ms * MS,
                completed_at=None if end_ms is None else end_ms * MS, outcome=outcome,
                result=result, sqlstate=sqlstate, txids=() if txid is None else (txid,))


def wrote(seq: int, old: int | None, new: int | None, txid: int, purchase: int = 0) -> AuditRow:
    return AuditRow(seq=seq, purchase=purchase, old=old, new=new, txid=txid, pid=500 + txid)


# The use_session race on a pack with one session left, then t1 tries a release
# that fails with a serialization error.
RACE_PACK = Pack(total=1, used=0)
RACE_CALLS = [
    call(0, 0, "use", 0, 10, True, txid=11),
    call(1, 1, "use", 1, 5, True, txid=10),
    call(2, 1, "release", 6, 8, outcome=Outcome.FAIL, sqlstate="40001"),
]
RACE_AUDIT = [wrote(1, 0, 1, 10), wrote(2, 1, 2, 11)]


@dataclass
class Grid:
    threads: list[str]  # column labels, left to right
    rows: list[tuple[float, list[str]]]  # (ms, text of each column)


def grid(lines: list[str]) -> Grid:
    """Read the timeline back: the header names the columns; each cell starts one
    character left of its label (the highlight mark) and runs to the next one."""
    head_at = next(i for i, line in enumerate(lines) if line.startswith("  ms"))
    header = lines[head_at]
    labels = header.split()[1:]
    starts = [header.index(label) - 1 for label in labels]
    rows = []
    for line in lines[head_at + 1:]:
        if not line.strip():
            break
        bounds = starts[1:] + [None]
        cells = [line[a:b].rstrip() if len(line) > a else "" for a, b in zip(starts, bounds)]
        rows.append((float(line[:8]), cells))
    return Grid(labels, rows)


def race_transcript(highlight=(0, 1)) -> list[str]:
    return transcript([RACE_PACK], RACE_CALLS, RACE_AUDIT, highlight=highlight)


def test_it_opens_with_the_starting_state_of_each_pack() -> None:
    lines = transcript([Pack(1, 0), Pack(None, None, "past")], [], [])
    assert lines[:2] == [
        "start   p0: sessions_used=0, sessions_total=1, expires=none",
        "start   p1: sessions_used=null, sessions_total=null, expires=past",
    ]


def test_one_column_per_thread() -> None:
    g = grid(race_transcript())
    assert g.threads == ["t0", "t1"]
    texts = [cells for _, cells in g.rows]
    assert all(sum(1 for c in cells if c) == 1 for cells in texts)  # one thread per line
    # t0's use (invoke, completion) in the first column; all of t1's lines in the second.
    assert [next(i for i, c in enumerate(cells) if c) for cells in texts] == [0, 1, 1, 1, 1, 0]


def test_columns_follow_the_threads_that_ran_not_their_numbers() -> None:
    calls = [call(0, 7, "use", 0, 2, True), call(1, 3, "release", 1, 3, -1)]
    g = grid(transcript([Pack(5, 0)], calls, []))
    assert g.threads == ["t3", "t7"]
    assert g.rows[0][1] == ["", " use(p0)"]  # t7's call, in the second column
    assert g.rows[1][1] == [" release(p0)", ""]


def test_lines_are_in_real_time_order_with_invokes_and_completions() -> None:
    g = grid(race_transcript())
    assert [ms for ms, _ in g.rows] == [0.0, 1.0, 5.0, 6.0, 8.0, 10.0]
    assert [[c.strip() for c in cells] for _, cells in g.rows] == [
        ["*use(p0)", ""],
        ["", "*use(p0)"],
        ["", "* -> true"],
        ["", "release(p0)"],
        ["", "-> ERROR 40001"],
        ["* -> true", ""],
    ]


def test_times_are_milliseconds_from_the_first_invoke() -> None:
    late = [call(0, 0, "use", 1000, 1002, True), call(1, 1, "use", 1001, 1003, False)]
    assert [ms for ms, _ in grid(transcript([Pack(5, 0)], late, [])).rows] == [0.0, 1.0, 2.0, 3.0]


def test_the_calls_to_highlight_are_marked_with_a_star() -> None:
    g = grid(race_transcript(highlight=(0, 1)))
    starred = [cells for _, cells in g.rows if any(c.startswith("*") for c in cells)]
    assert len(starred) == 4  # invoke and completion of both uses
    assert not any(c.startswith("*") for _, cells in g.rows[3:5] for c in cells)  # the release
    g = grid(race_transcript(highlight=(2,)))
    assert [i for i, (_, cells) in enumerate(g.rows) if any(c.startswith("*") for c in cells)] \
        == [3, 4]
    assert "*" not in "\n".join(race_transcript(highlight=()))


def test_the_committed_line_names_who_wrote_each_value() -> None:
    lines = race_transcript()
    assert lines[-1] == "p0 committed: 0 -> 1 (t1 use) -> 2 (t0 use)"
    assert lines[-2] == ""


def test_a_write_no_returned_call_owns_is_named_by_its_txid() -> None:
    calls = [call(0, 0, "release", 0, 2, 1, txid=10), call(1, 1, "release", 1, None,
                                                            outcome=Outcome.INFO)]
    rows = [wrote(1, 2, 1, 10), wrote(2, 1, 0, 42)]
    assert committed_line(0, Pack(5, 2), rows, calls) == \
        "p0 committed: 2 -> 1 (t0 release) -> 0 (txid 42)"
    assert committed_line(3, Pack(5, None), [], calls) == "p3 committed: null"


def test_each_pack_has_its_own_committed_line() -> None:
    calls = [call(0, 0, "use", 0, 2, True, txid=10),
             call(1, 1, "release", 0, 2, 0, txid=11, purchase=1)]
    audit = [wrote(1, 1, 0, 11, purchase=1), wrote(1, 0, 1, 10, purchase=0)]
    lines = transcript([Pack(5, 0), Pack(5, 1)], calls, audit)
    assert lines[-2:] == ["p0 committed: 0 -> 1 (t0 use)", "p1 committed: 1 -> 0 (t1 release)"]


def test_calls_that_never_returned_or_ended_unknown() -> None:
    calls = [call(0, 0, "use", 0, None, outcome=Outcome.INFO),
             call(1, 1, "release", 1, 4, outcome=Outcome.INFO)]
    g = grid(transcript([Pack(5, 1)], calls, []))
    assert [[c.strip() for c in cells] for _, cells in g.rows] == [
        ["use(p0)", ""],  # t0's call has no completion line at all
        ["", "release(p0)"],
        ["", "-> unknown"],
    ]


def test_results_are_written_as_sql_prints_them() -> None:
    calls = [call(0, 0, "use", 0, 1, False), call(1, 0, "release", 2, 3, -1),
             call(2, 0, "release", 4, 5, None)]
    cells = [cells[0].strip() for _, cells in grid(transcript([Pack(5, 0)], calls, [])).rows]
    assert cells[1::2] == ["-> false", "-> -1", "-> null"]


def test_schedule_transcript_has_a_column_per_session_and_numbered_steps() -> None:
    @dataclass
    class Action:
        session: int
        text: str

    actions = [Action(0, "release(p0) <paused after read>"), Action(1, "release(p0)"),
               Action(0, "<waiting on a row lock>" + "x" * 40)]
    lines = schedule_transcript(actions, 2)
    assert lines[0].split() == ["step", "t0", "t1"]
    t1_at = lines[0].index("t1")
    assert re.match(r"\s+1  release\(p0\) <paused after read>$", lines[1])
    assert lines[2].index("release(p0)") == t1_at and lines[2][:t1_at].strip() == "2"
    assert lines[3].endswith("..>") and len(lines[3]) < t1_at  # long text cut to its column
