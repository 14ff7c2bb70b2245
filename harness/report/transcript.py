"""A counterexample as text a reviewer reads without the code: the starting
state, one column per thread with each call's invoke and completion in real
time order, and the values the database committed."""

from __future__ import annotations

from typing import Sequence

from ..history import AuditRow, Call, Outcome, Pack

__all__ = ["transcript", "committed_line", "schedule_transcript"]

_COL = 26


def _result(c: Call) -> str:
    if c.outcome is Outcome.OK:
        r = c.result
        return ("true" if r else "false") if isinstance(r, bool) else ("null" if r is None else str(r))
    if c.outcome is Outcome.FAIL:
        return f"ERROR {c.sqlstate}"
    return "unknown"


def committed_line(p: int, pack: Pack, rows: Sequence[AuditRow], calls: Sequence[Call]) -> str:
    owner = {t: c for c in calls if c.outcome is Outcome.OK for t in c.txids}
    parts = ["null" if pack.used is None else str(pack.used)]
    for r in rows:
        c = owner.get(r.txid)
        tag = f"t{c.thread} {c.op}" if c else f"txid {r.txid}"
        parts.append(f"{'null' if r.new is None else r.new} ({tag})")
    return f"p{p} committed: " + " -> ".join(parts)


def transcript(
    packs: Sequence[Pack],
    calls: Sequence[Call],
    audit: Sequence[AuditRow],
    highlight: Sequence[int] = (),
) -> list[str]:
    """Lines of the transcript; calls in ``highlight`` are marked with ``*``."""
    lines = []
    for i, p in enumerate(packs):
        total = "null" if p.total is None else p.total
        used = "null" if p.used is None else p.used
        lines.append(f"start   p{i}: sessions_used={used}, sessions_total={total}, expires={p.expiry}")
    threads = sorted({c.thread for c in calls})
    col = {t: i for i, t in enumerate(threads)}
    t0 = min((c.invoked_at for c in calls), default=0)
    events: list[tuple[int, int, Call, bool]] = []
    for c in calls:
        events.append((c.invoked_at, 0, c, True))
        if c.completed_at is not None:
            events.append((c.completed_at, 1, c, False))
    events.sort(key=lambda e: (e[0], e[1]))
    lines.append("")
    lines.append(("  ms     " + "".join(f"t{t}".ljust(_COL) for t in threads)).rstrip())
    marked = set(highlight)
    for at, _, c, is_invoke in events:
        star = "*" if c.call in marked else " "
        text = f"{star}{c.op}(p{c.purchase})" if is_invoke else f"{star} -> {_result(c)}"
        cells = [""] * len(threads)
        cells[col[c.thread]] = text
        lines.append(f"{(at - t0) / 1e6:7.3f} " + "".join(x.ljust(_COL) for x in cells).rstrip())
    lines.append("")
    by_p: dict[int, list[AuditRow]] = {}
    for r in audit:
        by_p.setdefault(r.purchase, []).append(r)
    for i, p in enumerate(packs):
        lines.append(committed_line(i, p, by_p.get(i, []), calls))
    return lines


def schedule_transcript(actions: Sequence[object], sessions: int) -> list[str]:
    """The scheduler's actions, one column per session, in the order they
    happened: ``<paused ...>`` where a session waits at a pause point,
    ``<waiting ...>`` / ``<... completed>`` where it waits on a lock."""
    width = 40
    head = "step  " + "".join(f"t{i}".ljust(width) for i in range(sessions))
    lines = [head.rstrip()]
    for n, a in enumerate(actions, 1):
        cells = [""] * sessions
        text = str(getattr(a, "text"))
        cells[getattr(a, "session")] = text if len(text) < width - 1 else text[: width - 4] + "..>"
        lines.append(f"{n:4d}  " + "".join(c.ljust(width) for c in cells).rstrip())
    return lines
