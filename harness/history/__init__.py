"""The history: what the executor saw, and the contract between running and checking.

A history is a list of events, Jepsen-style: an ``Invoke`` when a worker sends
an operation and a ``Complete`` when it learns the outcome. Outcomes are

* ``ok``   -- the call returned a result;
* ``fail`` -- the call certainly did not take effect (an error with an SQLSTATE
  that aborts the transaction: serialization failure, deadlock, timeout...);
* ``info`` -- unknown: the connection was lost, or the call never completed.
  It may or may not have taken effect, and checkers must allow both.

Timestamps are ``time.monotonic_ns()`` of the harness process, so real-time
order between calls is exact for the checkers. ``txids`` are the transaction ids
of the writes a call committed (read from the server in the same statement), so
a call can be matched with the rows it left in the audit trail.

This module never imports psycopg: checkers and their tests run offline on
hand-written histories.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Iterable, Iterator, Union

__all__ = [
    "Pack",
    "Outcome",
    "Invoke",
    "Complete",
    "Event",
    "Call",
    "AuditRow",
    "History",
]


class Outcome(str, Enum):
    OK = "ok"
    FAIL = "fail"
    INFO = "info"


Result = Union[bool, int, None]


@dataclass(frozen=True)
class Pack:
    """The initial state of one purchase, as the workload created it.

    ``expiry`` is ``"none"`` (expires_at null), ``"future"`` or ``"past"``.
    ``total`` and ``used`` may be None: the app's columns are nullable.
    """

    total: int | None
    used: int | None
    expiry: str = "none"

    @property
    def expired(self) -> bool:
        return self.expiry == "past"


@dataclass(frozen=True)
class Invoke:
    call: int  # unique id of the call within the history
    thread: int  # worker index
    op: str  # operation name: "use", "release", "reinstate_naive", ...
    purchase: int  # index of the purchase in the workload
    at: int  # monotonic ns
    pid: int | None = None  # backend pid of the worker's connection

    type: str = field(default="invoke", init=False)


@dataclass(frozen=True)
class Complete:
    call: int
    outcome: Outcome
    at: int
    result: Result = None
    sqlstate: str | None = None
    error: str | None = None
    txids: tuple[int, ...] = ()  # transactions whose writes this call committed

    type: str = field(default="complete", init=False)


Event = Union[Invoke, Complete]


@dataclass(frozen=True)
class Call:
    """An invoke paired with its completion (``completed_at`` None: never returned)."""

    call: int
    thread: int
    op: str
    purchase: int
    invoked_at: int
    completed_at: int | None
    outcome: Outcome
    result: Result = None
    sqlstate: str | None = None
    error: str | None = None
    txids: tuple[int, ...] = ()
    pid: int | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    def describe(self) -> str:
        """``t1 release(p0) -> 0`` / ``t2 use(p0) -> fail 40001``."""
        head = f"t{self.thread} {self.op}(p{self.purchase})"
        if self.outcome is Outcome.OK:
            return f"{head} -> {_fmt_result(self.result)}"
        if self.outcome is Outcome.FAIL:
            return f"{head} -> fail {self.sqlstate or ''}".rstrip()
        return f"{head} -> unknown (info)"


@dataclass(frozen=True)
class AuditRow:
    """One committed write of the counter, as the audit trigger recorded it.

    ``seq`` orders writes of one purchase in commit order: a writer of a row
    holds its lock until it commits, so the next writer's trigger fires later.
    """

    seq: int
    purchase: int
    old: int | None
    new: int | None
    txid: int
    pid: int


def _fmt_result(result: Result) -> str:
    if isinstance(result, bool):
        return "true" if result else "false"
    return "null" if result is None else str(result)


class History:
    """An append-only list of events; ``calls()`` pairs them up."""

    def __init__(self, events: Iterable[Event] = ()) -> None:
        self.events: list[Event] = list(events)

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def calls(self) -> list[Call]:
        invokes: dict[int, Invoke] = {}
        completes: dict[int, Complete] = {}
        for e in self.events:
            if isinstance(e, Invoke):
                invokes[e.call] = e
            else:
                completes[e.call] = e
        out = []
        for cid, inv in invokes.items():
            c = completes.get(cid)
            out.append(
                Call(
                    call=cid,
                    thread=inv.thread,
                    op=inv.op,
                    purchase=inv.purchase,
                    invoked_at=inv.at,
                    completed_at=c.at if c else None,
                    outcome=c.outcome if c else Outcome.INFO,
                    result=c.result if c else None,
                    sqlstate=c.sqlstate if c else None,
                    error=c.error if c else None,
                    txids=c.txids if c else (),
                    pid=inv.pid,
                )
            )
        out.sort(key=lambda c: (c.invoked_at, c.call))
        return out

    # -- JSONL -----------------------------------------------------------

    def to_jsonl(self, path: Path) -> None:
        with open(path, "w") as f:
            for e in self.events:
                d = asdict(e)
                if isinstance(e, Complete):
                    d["outcome"] = e.outcome.value
                    d["txids"] = list(e.txids)
                f.write(json.dumps(d) + "\n")

    @classmethod
    def from_jsonl(cls, path: Path) -> "History":
        events: list[Event] = []
        with open(path) as f:
            for line in f:
                d = json.loads(line)
                kind = d.pop("type")
                if kind == "invoke":
                    events.append(Invoke(**d))
                else:
                    d["outcome"] = Outcome(d["outcome"])
                    d["txids"] = tuple(d.get("txids", ()))
                    events.append(Complete(**d))
        return cls(events)
