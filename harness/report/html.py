"""``report.html``: one self-contained page a reviewer opens from CI.

The page is a pure function of the run's documents (``summary.json`` and, on
a failure, ``counterexample.json``): verdict, properties, figures and, on a
failure, the violations, a timeline of the counterexample drawn as inline SVG
(one lane per thread, one bar per call, the calls of the first violation
outlined, the window where they ran together shaded) over the counter's
committed values, and the text transcript.

Everything is inline -- CSS, SVG, a few lines of JS -- so the file can be
archived as a CI artifact and opened anywhere without a network.

The helpers ``property_rows``, ``first_violation``, ``violations`` and
``transcript_lines`` read the documents the same way for every writer
(JUnit and Markdown use them too).
"""

from __future__ import annotations

import math
from html import escape
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterable, Sequence

from ..check.verdict import PROPERTIES
from ..history import AuditRow, Call, Outcome, Pack
from .transcript import schedule_transcript, transcript

__all__ = [
    "write_html",
    "property_rows",
    "violations",
    "first_violation",
    "transcript_lines",
]

Doc = dict[str, Any]


# -- reading the documents (shared with junit.py and markdown.py) ------------------


def property_rows(summary: Doc) -> list[tuple[str, str, str]]:
    """``(property, status, meaning)`` for every known property, in PROPERTIES
    order, then any the summary names that this version does not know.
    Status is ``pass``, ``fail`` or ``not checked``."""
    status: dict[str, str] = dict(summary.get("properties") or {})
    rows = [(p, status.get(p, "not checked"), meaning) for p, meaning in PROPERTIES.items()]
    rows += [(p, s, "") for p, s in status.items() if p not in PROPERTIES]
    return rows


def violations(summary: Doc, counterexample: Doc | None) -> list[Doc]:
    """The violations, from the counterexample or else from the summary."""
    if counterexample and counterexample.get("violations") is not None:
        return list(counterexample["violations"])
    return list((summary.get("counterexample") or {}).get("violations") or [])


def first_violation(vs: Sequence[Doc]) -> Doc | None:
    """The one a report leads with: the most fundamental property broken."""
    order = list(PROPERTIES)
    rank = {p: i for i, p in enumerate(order)}
    return min(vs, key=lambda v: rank.get(v.get("property", ""), len(order)), default=None)


def _calls(cx: Doc) -> list[Call]:
    out = []
    for d in cx.get("calls") or []:
        out.append(Call(
            call=d["call"], thread=d["thread"], op=d["op"], purchase=d["purchase"],
            invoked_at=d["invoked_at"], completed_at=d.get("completed_at"),
            outcome=Outcome(d.get("outcome", "info")), result=d.get("result"),
            sqlstate=d.get("sqlstate"), error=d.get("error"),
            txids=tuple(d.get("txids") or ()), pid=d.get("pid"),
        ))
    out.sort(key=lambda c: (c.invoked_at, c.call))
    return out


def _packs(cx: Doc) -> list[Pack]:
    return [Pack(p.get("total"), p.get("used"), p.get("expiry", "none"))
            for p in (cx.get("program") or {}).get("packs") or []]


def _audit(cx: Doc) -> list[AuditRow]:
    rows = [AuditRow(**r) for r in cx.get("audit") or []]
    rows.sort(key=lambda r: r.seq)
    return rows


def transcript_lines(report_dir: Path, counterexample: Doc | None) -> list[str]:
    """The counterexample as text, rebuilt from the document exactly as the CLI
    prints it; ``transcript.txt`` of ``report_dir`` when the document cannot be
    read; ``[]`` when there is neither."""
    if counterexample and "calls" in counterexample and "program" in counterexample:
        try:
            first = first_violation(violations({}, counterexample))
            lines = transcript(_packs(counterexample), _calls(counterexample),
                               _audit(counterexample),
                               highlight=tuple(first.get("calls") or ()) if first else ())
            if counterexample.get("schedule") is not None:
                actions = [SimpleNamespace(session=a["session"], text=a["text"])
                           for a in counterexample.get("actions") or []]
                threads = len((counterexample.get("program") or {}).get("threads") or [])
                threads = max([threads] + [a.session + 1 for a in actions])
                lines += ["", f"schedule {list(counterexample['schedule'])}, step by step:"]
                lines += schedule_transcript(actions, threads)
            return lines
        except (KeyError, TypeError, ValueError):
            pass
    path = Path(report_dir) / "transcript.txt"
    if path.is_file():
        return path.read_text().rstrip("\n").splitlines()
    return []


# -- small formatting helpers ---------------------------------------------------------


def _e(x: object) -> str:
    return escape(str(x), quote=True)


def _result(c: Call) -> str:
    if c.outcome is Outcome.OK:
        r = c.result
        if isinstance(r, bool):
            return "true" if r else "false"
        return "null" if r is None else str(r)
    if c.outcome is Outcome.FAIL:
        return f"ERROR {c.sqlstate or ''}".rstrip()
    return "unknown"


def _label(c: Call) -> str:
    return f"{c.op}(p{c.purchase}) -> {_result(c)}"


def _val(v: object) -> str:
    return "null" if v is None else str(v)


def _seconds(x: object) -> str:
    return f"{x:.2f} s" if isinstance(x, (int, float)) else "\u2014"


def _count(x: object) -> str:
    return f"{x:,}" if isinstance(x, int) else _e("\u2014" if x is None else x)


def _nice_step(span: float, target: int = 8) -> float:
    raw = span / max(target, 1)
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def _fmt_ms(v: float, step: float) -> str:
    decimals = max(0, min(4, -math.floor(math.log10(step)) if step < 1 else 0))
    return f"{v:.{decimals}f}"


# -- the timeline ---------------------------------------------------------------------

_W = 1140  # svg width (scaled down by CSS when the page is narrower)
_L = 134  # left gutter: lane and panel names
_R = 78  # right gutter: total / final labels
_LANE_H = 62
_BAR_Y, _BAR_H = 22, 18
_PANEL_H = 150
_CHAR = 6.7  # px per character of the 11px monospace labels
_FILL = {Outcome.OK: "#2f9e5b", Outcome.FAIL: "#d64545", Outcome.INFO: "#9aa0a6"}


def _race_windows(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Intervals during which at least two of ``spans`` ran at once."""
    pairs = []
    for i, (a0, a1) in enumerate(spans):
        for b0, b1 in spans[i + 1:]:
            lo, hi = max(a0, b0), min(a1, b1)
            if hi > lo:
                pairs.append((lo, hi))
    pairs.sort()
    merged: list[tuple[float, float]] = []
    for lo, hi in pairs:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


class _Timeline:
    """Geometry and drawing of the counterexample's timeline."""

    def __init__(self, cx: Doc, involved: set[int], summary: Doc) -> None:
        self.calls = _calls(cx)
        self.packs = _packs(cx)
        self.audit = _audit(cx)
        self.finals = list(cx.get("finals") or [])
        self.involved = involved
        self.use_audit = (cx.get("settings") or summary.get("settings") or {}).get("use_audit", True)
        threads = {c.thread for c in self.calls}
        threads |= set(range(len((cx.get("program") or {}).get("threads") or [])))
        self.threads = sorted(threads)
        self.t0 = min((c.invoked_at for c in self.calls), default=0)
        ends = [c.completed_at if c.completed_at is not None else c.invoked_at for c in self.calls]
        last = max(ends, default=self.t0)
        self.open = any(c.completed_at is None for c in self.calls)
        span = max(last - self.t0, 1_000)  # at least 1 microsecond
        self.t_end = last + (0.1 * span if self.open else 0.05 * span)
        self.plot_w = _W - _L - _R
        self.interpolated = 0
        self.has_waits = False
        self.reordered = 0
        self.race_windows: list[tuple[float, float]] = []
        self.waits = self._schedule_waits(cx.get("actions") or [])
        self.pack_ids = sorted(set(range(len(self.packs))) | {c.purchase for c in self.calls}
                               | {r.purchase for r in self.audit})

    def _schedule_waits(self, actions: Sequence[Doc]) -> dict[int, list[tuple[float, float, str]]]:
        """Where each call of a scheduled run waited: ``call -> [(start, end, what)]``.

        The scheduler does not timestamp its actions, but its invocations and
        completions are the history's events: those anchor the actions, and a
        pause, resume or lock wait is placed between its anchored neighbours."""
        by_thread: dict[int, list[Call]] = {}
        for c in self.calls:
            by_thread.setdefault(c.thread, []).append(c)
        nxt = {t: 0 for t in by_thread}
        current: dict[int, Call | None] = {}
        times: list[float | None] = []
        owner: list[Call | None] = []
        for a in actions:
            t, text = a.get("session"), str(a.get("text", ""))
            plain = text.removeprefix("<... completed> ")
            queue = by_thread.get(t, [])
            if not text.startswith(("<", "->", "ERROR", "resumes", "step done")) and nxt.get(t, 0) < len(queue):
                c = queue[nxt[t]]
                nxt[t] += 1
                current[t] = c
                times.append(float(c.invoked_at))
                owner.append(c)
                continue
            c = current.get(t)
            owner.append(c)
            if c is not None and plain.startswith(("->", "ERROR")):
                times.append(float(c.completed_at) if c.completed_at is not None else None)
                current[t] = None
            else:
                times.append(None)
        # interpolate the actions with no time of their own
        filled: list[float] = []
        i = 0
        while i < len(times):
            if times[i] is not None:
                filled.append(max(float(times[i]), filled[-1] if filled else float(self.t0)))  # type: ignore[arg-type]
                i += 1
                continue
            j = i
            while j < len(times) and times[j] is None:
                j += 1
            lo = filled[-1] if filled else float(self.t0)
            hi = max(float(times[j]) if j < len(times) else float(self.t_end), lo)  # type: ignore[arg-type]
            for k in range(j - i):
                filled.append(lo + (k + 1) / (j - i + 1) * (hi - lo))
            i = j
        out: dict[int, list[tuple[float, float, str]]] = {}
        open_: dict[int, tuple[float, str]] = {}
        for a, at, c in zip(actions, filled, owner):
            if c is None:
                continue
            text = str(a.get("text", ""))
            if text.startswith("<paused at "):
                open_[c.call] = (at, "paused at " + text[len("<paused at "):].rstrip(">"))
            elif text.startswith("<waiting"):
                open_[c.call] = (at, "waiting on a lock")
            elif c.call in open_ and (text == "resumes" or text.startswith("<... completed>")):
                start, what = open_.pop(c.call)
                out.setdefault(c.call, []).append((start, at, what))
        for cid, (start, what) in open_.items():
            c = next(c for c in self.calls if c.call == cid)
            end = c.completed_at if c.completed_at is not None else self.t_end
            out.setdefault(cid, []).append((start, float(end), what))
        return out

    # time -> x
    def x(self, t: float | None) -> float:
        if t is None:
            t = self.t_end
        return _L + (t - self.t0) / (self.t_end - self.t0) * self.plot_w

    def ms(self, t: int) -> float:
        return (t - self.t0) / 1e6

    def lane_y(self, thread: int) -> float:
        return self.lanes_top + self.threads.index(thread) * _LANE_H

    def render(self) -> str:
        self.band_top = 4
        self.axis_y = 40
        self.lanes_top = 48
        lanes_bottom = self.lanes_top + len(self.threads) * _LANE_H
        self.lanes_bottom = lanes_bottom
        panels_top = lanes_bottom + 26
        touched = {c.purchase for c in self.calls} | {r.purchase for r in self.audit}
        self.panel_h = {p: _PANEL_H if p in touched else 80 for p in self.pack_ids}
        self.panel_tops = {}
        y = panels_top
        for p in self.pack_ids:
            self.panel_tops[p] = y
            y += self.panel_h[p] + 34
        self.bottom = y - 34 + 8
        height = y - 34 + 28
        out: list[str] = [
            f'<svg id="timeline" width="{_W}" height="{height:.0f}" viewBox="0 0 {_W} {height:.0f}" '
            'role="img" aria-label="timeline of the counterexample">',
            '<defs><pattern id="hatch" patternUnits="userSpaceOnUse" width="7" height="7" '
            'patternTransform="rotate(45)"><rect width="7" height="7" fill="#c9cdd2"/>'
            '<line x1="0" y1="0" x2="0" y2="7" stroke="#6b7178" stroke-width="3"/></pattern></defs>',
        ]
        out += self._lane_backgrounds()
        out += self._grid(height)
        out += self._race_bands()
        out += self._lanes()
        commits = self._commit_positions()
        out += self._connectors(commits)
        for p in self.pack_ids:
            out += self._panel(p, commits.get(p, []))
        out.append("</svg>")
        return "\n".join(out)

    def _grid(self, height: float) -> list[str]:
        span_ms = (self.t_end - self.t0) / 1e6
        step = _nice_step(span_ms)
        out = [f'<text class="axis-title" x="{_L - 26}" y="{self.axis_y - 8}" text-anchor="end">ms</text>',
               f'<line class="axis" x1="{_L}" y1="{self.axis_y}" x2="{_L + self.plot_w}" '
               f'y2="{self.axis_y}"/>']
        k = 0
        while k * step <= span_ms + 1e-9:
            v = k * step
            x = _L + v / span_ms * self.plot_w
            out.append(f'<line class="grid" x1="{x:.1f}" y1="{self.axis_y}" x2="{x:.1f}" '
                       f'y2="{self.bottom:.0f}"/>')
            out.append(f'<text class="tick" x="{x:.1f}" y="{self.axis_y - 8}" '
                       f'text-anchor="middle">{_fmt_ms(v, step)}</text>')
            k += 1
        return out

    def _race_bands(self) -> list[str]:
        spans = [(c.invoked_at, c.completed_at if c.completed_at is not None else self.t_end)
                 for c in self.calls if c.call in self.involved]
        out = []
        self.race_windows = _race_windows(spans)
        for lo, hi in self.race_windows:
            x0, x1 = self.x(lo), self.x(hi)
            out.append(f'<rect class="race" x="{x0:.1f}" y="{self.axis_y}" width="{max(x1 - x0, 2):.1f}" '
                       f'height="{self.lanes_bottom - self.axis_y:.1f}"><title>the calls of the first '
                       f'violation ran at the same time from {self.ms(int(lo)):.3f} to '
                       f'{self.ms(int(hi)):.3f} ms</title></rect>')
            out.append(f'<text class="race-label" x="{(x0 + x1) / 2:.1f}" y="{self.band_top + 11}" '
                       'text-anchor="middle">ran concurrently</text>')
        return out

    def _lane_backgrounds(self) -> list[str]:
        return [f'<rect class="lane-bg{" odd" if i % 2 else ""}" x="0" y="{self.lane_y(t)}" '
                f'width="{_W}" height="{_LANE_H}"/>' for i, t in enumerate(self.threads)]

    def _lanes(self) -> list[str]:
        out = []
        for t in self.threads:
            y = self.lane_y(t)
            pids = sorted({c.pid for c in self.calls if c.thread == t and c.pid is not None})
            out.append(f'<g class="lane" data-thread="{t}">')
            out.append(f'<text class="lane-name" x="12" y="{y + _BAR_Y + 14}">t{t}</text>')
            if pids:
                out.append(f'<text class="lane-pid" x="12" y="{y + _BAR_Y + 30}">pid '
                           f'{_e(", ".join(map(str, pids)))}</text>')
            out += self._bars(t, y)
            out.append("</g>")
        return out

    def _bars(self, thread: int, y: float) -> list[str]:
        out = []
        row_end = [-1e9, -1e9]  # right edge of the last label above / below the bars
        right_limit = _W - 4
        for c in (c for c in self.calls if c.thread == thread):
            x0 = self.x(c.invoked_at)
            x1 = self.x(c.completed_at)
            w = max(x1 - x0, 3)
            hot = c.call in self.involved
            cls = "bar" + (" involved" if hot else "") + (" open" if c.completed_at is None else "")
            fill = "url(#hatch)" if c.completed_at is None else _FILL[c.outcome]
            done = (f"{self.ms(c.completed_at):.3f} ms" if c.completed_at is not None
                    else "never (still running at the end)")
            tip = (f"call {c.call}: t{c.thread} {c.op}(p{c.purchase}) -> {_result(c)}\n"
                   f"invoked {self.ms(c.invoked_at):.3f} ms, completed {done}\n"
                   f"outcome {c.outcome.value}"
                   + (f", {c.sqlstate}: {c.error}" if c.sqlstate or c.error else "")
                   + (f"\ntxids {', '.join(map(str, c.txids))}" if c.txids else "")
                   + (f"\nbackend pid {c.pid}" if c.pid is not None else ""))
            out.append(f'<g class="call{" involved" if hot else ""}" data-call="{c.call}">'
                       f'<title>{_e(tip)}</title>')
            if c.completed_at is None:
                color = _FILL[c.outcome]
                out.append(f'<rect class="{cls}" x="{x0:.1f}" y="{y + _BAR_Y}" width="{w:.1f}" '
                           f'height="{_BAR_H}" rx="3" fill="{fill}" stroke="{color}" '
                           'stroke-dasharray="5 3"/>')
            else:
                out.append(f'<rect class="{cls}" x="{x0:.1f}" y="{y + _BAR_Y}" width="{w:.1f}" '
                           f'height="{_BAR_H}" rx="3" fill="{fill}"/>')
            for start, end, what in self.waits.get(c.call, []):
                wx0, wx1 = self.x(start), self.x(end)
                out.append(f'<rect class="wait" x="{wx0:.1f}" y="{y + _BAR_Y + 3}" '
                           f'width="{max(wx1 - wx0, 2):.1f}" height="{_BAR_H - 6}" rx="2"/>')
                if (wx1 - wx0) > len(what) * 6.1 + 8:
                    out.append(f'<text class="wait-label" x="{wx0 + 5:.1f}" y="{y + _BAR_Y + 13}">'
                               f'{_e(what)}</text>')
                self.has_waits = True
            if hot:  # the outline again, over the wait marks
                out.append(f'<rect class="outline" x="{x0:.1f}" y="{y + _BAR_Y}" width="{w:.1f}" '
                           f'height="{_BAR_H}" rx="3"/>')
            text = _label(c) + (" \u2026 never returned" if c.completed_at is None else "")
            tw = len(text) * _CHAR
            lx = min(x0, right_limit - tw)
            if lx >= row_end[0] + 6:
                row = 0
            elif lx >= row_end[1] + 6:
                row = 1
            else:
                row = 0 if row_end[0] <= row_end[1] else 1
                lx = min(row_end[row] + 6, right_limit - tw)
            row_end[row] = lx + tw
            ly = y + (_BAR_Y - 6 if row == 0 else _BAR_Y + _BAR_H + 14)
            out.append(f'<text class="bar-label{" involved" if hot else ""}" x="{lx:.1f}" '
                       f'y="{ly:.1f}">{_e(text)}</text>')
            out.append("</g>")
        return out

    def _commit_positions(self) -> dict[int, list[tuple[AuditRow, float, Call | None]]]:
        """Each committed value of each purchase with the time it is drawn at:
        the completion of the call whose transaction wrote it, else a time
        interpolated between its neighbours."""
        owner = {t: c for c in self.calls for t in c.txids}
        out: dict[int, list[tuple[AuditRow, float, Call | None]]] = {}
        for p in self.pack_ids:
            rows = [r for r in self.audit if r.purchase == p]
            known: list[float | None] = []
            for r in rows:
                c = owner.get(r.txid)
                known.append(None if c is None else (c.completed_at if c.completed_at is not None
                                                     else self.t_end))
            times: list[float] = []
            i = 0
            while i < len(rows):
                if known[i] is not None:
                    t = float(known[i])  # type: ignore[arg-type]
                    if times and t < times[-1]:
                        self.reordered += 1
                        t = times[-1]
                    times.append(t)
                    i += 1
                    continue
                j = i
                while j < len(rows) and known[j] is None:
                    j += 1
                lo = times[-1] if times else float(self.t0)
                hi = float(known[j]) if j < len(rows) else float(self.t_end)  # type: ignore[arg-type]
                hi = max(hi, lo)
                n = j - i
                for k in range(n):
                    times.append(lo + (k + 1) / (n + 1) * (hi - lo))
                self.interpolated += n
                i = j
            out[p] = [(r, t, owner.get(r.txid)) for r, t in zip(rows, times)]
        return out

    def _panel_scale(self, p: int, values: Iterable[int | None]) -> tuple[float, float, int | None]:
        total = self.packs[p].total if p < len(self.packs) else None
        vs = [v for v in values if v is not None]
        hi = max(vs + [total if total is not None else 0, 1])
        lo = min(vs + [0])
        top = max(hi, (total if total is not None else hi) + 1) + 0.45
        bottom = lo - 0.7
        return bottom, top, total

    def _panel(self, p: int, commits: list[tuple[AuditRow, float, Call | None]]) -> list[str]:
        top = self.panel_tops[p]
        ph = self.panel_h[p]
        pack = self.packs[p] if p < len(self.packs) else Pack(None, None)
        final = self.finals[p] if p < len(self.finals) else None
        values = [pack.used] + [r.new for r, _, _ in commits] + [final]
        lo, hi, total = self._panel_scale(p, values)

        def y(v: float) -> float:
            return top + (hi - v) / (hi - lo) * ph

        def bad(v: int | None) -> bool:
            return v is not None and (v < 0 or (total is not None and v > total))

        def jump(r: AuditRow | None) -> bool:  # a write that did not move the counter by 1
            return r is not None and r.old is not None and r.new is not None and abs(r.new - r.old) != 1

        x_left, x_right = _L, _L + self.plot_w
        out = [f'<g class="counter" data-purchase="{p}">',
               f'<rect class="panel-bg" x="{x_left}" y="{top}" width="{self.plot_w}" height="{ph}"/>']
        # out-of-bounds zones
        if total is not None:
            out.append(f'<rect class="oob" x="{x_left}" y="{top}" width="{self.plot_w}" '
                       f'height="{y(total) - top:.1f}"/>')
        out.append(f'<rect class="oob" x="{x_left}" y="{y(0):.1f}" width="{self.plot_w}" '
                   f'height="{top + ph - y(0):.1f}"/>')
        # y ticks
        step = max(1, math.ceil((hi - lo) / 8))
        v = math.ceil(lo)
        while v <= hi:
            if v % step == 0:
                out.append(f'<text class="tick" x="{x_left - 6}" y="{y(v) + 4:.1f}" '
                           f'text-anchor="end">{v}</text>')
                out.append(f'<line class="ygrid" x1="{x_left}" y1="{y(v):.1f}" x2="{x_right}" '
                           f'y2="{y(v):.1f}"/>')
            v += 1
        out.append(f'<line class="zero" x1="{x_left}" y1="{y(0):.1f}" x2="{x_right}" y2="{y(0):.1f}"/>')
        if total is not None:
            out.append(f'<line class="total" x1="{x_left}" y1="{y(total):.1f}" x2="{x_right}" '
                       f'y2="{y(total):.1f}"/>')
            out.append(f'<text class="total-label" x="{x_right + 6}" y="{y(total) + 4:.1f}">'
                       f'total {total}</text>')
        out.append(f'<text class="zero-label" x="{x_right + 6}" y="{y(0) + 4:.1f}">0</text>')
        out.append(f'<text class="lane-name" x="12" y="{top + 18}">p{p}</text>')
        out.append(f'<text class="lane-pid" x="12" y="{top + 34}">sessions_used</text>')
        expiry = f"expires: {pack.expiry}"
        out.append(f'<text class="lane-pid" x="12" y="{top + 50}">{_e(expiry)}</text>')

        # the step line: start value, then each committed value at its time
        pts: list[tuple[float, int | None, AuditRow | None, Call | None]] = [
            (x_left, pack.used, None, None)]
        for r, t, c in commits:
            pts.append((self.x(t), r.new, r, c))
        for i, (x, val, _, _) in enumerate(pts):
            nx = pts[i + 1][0] if i + 1 < len(pts) else x_right
            if val is not None:
                cls = "step bad" if bad(val) else "step"
                out.append(f'<line class="{cls}" x1="{x:.1f}" y1="{y(val):.1f}" x2="{nx:.1f}" '
                           f'y2="{y(val):.1f}"/>')
            if i + 1 < len(pts):
                nval = pts[i + 1][1]
                if val is not None and nval is not None:
                    cls = "riser bad" if bad(nval) or jump(pts[i + 1][2]) else "riser"
                    out.append(f'<line class="{cls}" x1="{nx:.1f}" y1="{y(val):.1f}" x2="{nx:.1f}" '
                               f'y2="{y(nval):.1f}"/>')
        # obstacles for the labels: the step line itself, the dots, labels already placed
        boxes: list[tuple[float, float, float, float]] = [(x_left, y(0) - 1.5, x_right, y(0) + 1.5)]
        if total is not None:
            boxes.append((x_left, y(total) - 1.5, x_right, y(total) + 1.5))
        for i, (x, val, _, _) in enumerate(pts):
            nx = pts[i + 1][0] if i + 1 < len(pts) else x_right
            if val is not None:
                boxes.append((x, y(val) - 2, nx, y(val) + 2))
                boxes.append((x - 6, y(val) - 6, x + 6, y(val) + 6))
            if i + 1 < len(pts) and val is not None and pts[i + 1][1] is not None:
                a, b = sorted((y(val), y(pts[i + 1][1])))  # type: ignore[arg-type]
                boxes.append((nx - 2, a, nx + 2, b))

        def free(box: tuple[float, float, float, float]) -> bool:
            x0, y0, x1, y1 = box
            if x0 < x_left + 2 or x1 > x_right + _R - 2 or y0 < top + 1 or y1 > top + ph - 1:
                return False
            return not any(x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1 for b in boxes)

        for i, (x, val, r, c) in enumerate(pts):
            vy = y(val) if val is not None else top + ph - 6
            if r is None:
                text = f"start {_val(val)}"
            else:
                who = f"t{c.thread} {c.op}" if c is not None else f"txid {r.txid}"
                text = f"{_val(val)}"
                if bad(val):
                    text += f" > total {total}" if total is not None and val > total else " < 0"
                text += f" ({who})"
                if jump(r):
                    text += f": {_val(r.old)} -> {_val(r.new)} in one write"
            flagged = bad(val) or jump(r)
            cls = "pt bad" if flagged else "pt"
            tip = f"<title>{_e(text)}</title>"
            if r is not None and c is None:
                out.append(f'<rect class="{cls} guessed" x="{x - 5:.1f}" y="{vy - 5:.1f}" width="10" '
                           f'height="10" transform="rotate(45 {x:.1f} {vy:.1f})">{tip}</rect>')
            else:
                out.append(f'<circle class="{cls}" cx="{x:.1f}" cy="{vy:.1f}" r="{5.5 if r else 4}">'
                           f'{tip}</circle>')
            # the full label where it fits; in a crowd, only the value; else the tooltip alone
            for shown in (text, _val(val)):
                tw = len(shown) * (_CHAR * 1.14 if flagged else _CHAR)
                th = 14
                candidates = []
                for k in range(4):
                    for side in (1, -1):
                        lx = x + 8 if side > 0 else x - 8 - tw
                        candidates.append((lx, vy - 7 - th - k * th, lx + tw, vy - 7 - k * th))
                        candidates.append((lx, vy + 7 + k * th, lx + tw, vy + 7 + th + k * th))
                box = next((b for b in candidates if free(b)), None)
                if box is not None:
                    boxes.append(box)
                    out.append(f'<text class="pt-label{" bad" if flagged else ""}" x="{box[0]:.1f}" '
                               f'y="{box[3] - 3:.1f}">{_e(shown)}</text>')
                    break
        last = commits[-1][0].new if commits else pack.used
        if final is not None and final != last:
            out.append(f'<text class="lane-pid" x="12" y="{top + 66}">final {final}</text>')
        out.append("</g>")
        return out

    def _connectors(self, commits: dict[int, list[tuple[AuditRow, float, Call | None]]]) -> list[str]:
        """Dotted lines from the end of each writing call down to its committed value."""
        out = []
        crowded = sum(len(rows) for rows in commits.values()) > 12
        for p, rows in commits.items():
            pack = self.packs[p] if p < len(self.packs) else Pack(None, None)
            final = self.finals[p] if p < len(self.finals) else None
            lo, hi, _ = self._panel_scale(p, [pack.used, final] + [r.new for r, _, _ in rows])
            top = self.panel_tops[p]
            for r, t, c in rows:
                if c is None or r.new is None or (crowded and c.call not in self.involved):
                    continue
                x = self.x(t)
                y0 = self.lane_y(c.thread) + _BAR_Y + _BAR_H / 2
                y1 = top + (hi - r.new) / (hi - lo) * self.panel_h[p]
                cls = "link involved" if c.call in self.involved else "link"
                # down to the bottom of the lanes, then inside the purchase's own panel:
                # never across another purchase's panel
                if p == self.pack_ids[0]:
                    out.append(f'<line class="{cls}" x1="{x:.1f}" y1="{y0:.1f}" x2="{x:.1f}" '
                               f'y2="{y1:.1f}"/>')
                    continue
                out.append(f'<line class="{cls}" x1="{x:.1f}" y1="{y0:.1f}" x2="{x:.1f}" '
                           f'y2="{self.lanes_bottom + 6:.1f}"/>')
                out.append(f'<line class="{cls}" x1="{x:.1f}" y1="{top - 6:.1f}" x2="{x:.1f}" '
                           f'y2="{y1:.1f}"/>')
        return out


# -- the page -------------------------------------------------------------------------

_CSS = """
:root { --ok:#2f9e5b; --fail:#c62828; --info:#7a8087; --ink:#1d2430; --muted:#5d6675;
  --line:#dde1e7; --bg:#f4f6f9; --mono: ui-monospace, "SFMono-Regular", Menlo, Consolas,
  "Liberation Mono", "DejaVu Sans Mono", monospace; }
* { box-sizing: border-box; }
html { background: var(--bg); }
body { margin: 0; color: var(--ink); font: 15px/1.5 system-ui, -apple-system, "Segoe UI",
  Roboto, "Helvetica Neue", Arial, "Liberation Sans", sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 0 24px 48px; }
header.verdict { color: #fff; padding: 22px 24px 20px; }
header.verdict.pass { background: var(--ok); }
header.verdict.fail { background: var(--fail); }
header .inner { max-width: 1192px; margin: 0 auto; display: flex; align-items: baseline; gap: 28px;
  flex-wrap: wrap; }
header .word { font-size: 56px; font-weight: 800; letter-spacing: .04em; line-height: 1; }
header .what { font-size: 18px; max-width: 900px; }
header .what b { font-family: var(--mono); font-weight: 600; }
header .sub { font-size: 14px; opacity: .92; margin-top: 4px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; margin-top: 20px;
  padding: 18px 22px; }
h2 { font-size: 19px; margin: 0 0 12px; }
h3 { font-size: 15px; margin: 16px 0 8px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: baseline; }
th { font-size: 13px; color: var(--muted); font-weight: 600; }
td.prop, .mono, code { font-family: var(--mono); font-size: 13.5px; }
.status { display: inline-block; min-width: 92px; text-align: center; font-weight: 700; font-size: 12.5px;
  border-radius: 4px; padding: 1px 8px; letter-spacing: .03em; }
.status.pass { background: #e3f4ea; color: #1e6e3e; }
.status.fail { background: var(--fail); color: #fff; }
.status.not-checked { background: #eef0f3; color: var(--muted); }
tr.fail td { background: #fff4f4; }
dl.figures { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 10px 18px; margin: 0; }
dl.figures div { border-left: 3px solid var(--line); padding-left: 10px; }
dl.figures dt { font-size: 12.5px; color: var(--muted); }
dl.figures dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
.violation { border-left: 5px solid var(--fail); background: #fff6f6; padding: 10px 14px; margin: 10px 0;
  border-radius: 0 6px 6px 0; }
.violation .prop { font-family: var(--mono); font-weight: 700; color: var(--fail); }
.violation .meaning { color: var(--muted); font-size: 13.5px; }
.violation.first { border-left-width: 8px; }
.violation .msg { margin-top: 4px; }
.cmd { display: flex; gap: 10px; align-items: center; background: #1d2430; color: #e8edf3;
  border-radius: 6px; padding: 10px 14px; font-family: var(--mono); font-size: 14px; }
.cmd code { flex: 1; color: inherit; overflow-wrap: anywhere; }
.cmd button { font: inherit; font-size: 12px; border: 1px solid #56606e; background: #2c3441; color: #e8edf3;
  border-radius: 4px; padding: 2px 10px; cursor: pointer; }
pre { font-family: var(--mono); font-size: 13px; line-height: 1.45; background: #fbfcfd;
  border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; overflow-x: auto; margin: 0; }
pre .hl { background: #fff0b3; font-weight: 700; display: inline-block; min-width: 100%; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 20px; font-size: 13px; color: var(--muted);
  margin: 4px 0 10px; align-items: center; }
.legend span.sw { display: inline-block; width: 26px; height: 12px; border-radius: 2px;
  vertical-align: -1px; margin-right: 6px; }
.timeline-wrap { overflow-x: auto; }
#timeline { display: block; width: 100%; height: auto; }
ul.involved { margin: 6px 0 0; padding-left: 20px; }
ul.involved li { font-family: var(--mono); font-size: 13.5px; }
ul.involved li.hot, tr.hot td { background: #fff0b3; }
.foot { font-size: 13px; color: var(--muted); margin-top: 8px; }
.note { font-size: 14px; color: var(--muted); }
details { margin-top: 12px; }
summary { cursor: pointer; color: var(--muted); font-size: 14px; }
svg text { font-family: var(--mono); }
svg .axis { stroke: #8b93a0; }
svg .grid { stroke: #e8ebf0; }
svg .ygrid { stroke: #edf0f4; }
svg .tick { font-size: 11px; fill: #6b7380; }
svg .axis-title { font-size: 11px; fill: #6b7380; }
svg .lane-bg { fill: #ffffff; }
svg .lane-bg.odd { fill: #f6f8fa; }
svg .lane-name { font-size: 15px; font-weight: 700; fill: var(--ink); }
svg .lane-pid { font-size: 11px; fill: #6b7380; }
svg .race { fill: #ffd54f; opacity: .38; }
svg .race-label { font-size: 11.5px; font-weight: 700; fill: #8a6400; }
svg .bar { opacity: .5; }
svg .bar.involved { opacity: 1; stroke: #111; stroke-width: 3; }
svg .bar.open { stroke-width: 2; }
svg .bar.open.involved { stroke: #111; stroke-width: 3; }
svg .bar-label { font-size: 11px; fill: #59616d; }
svg .wait { fill: #fff; opacity: .92; }
svg .wait-label { font-size: 10px; fill: #1d2430; font-weight: 600; }
svg .outline { fill: none; stroke: #111; stroke-width: 3; }
svg .bar-label.involved { font-weight: 700; fill: #111; }
svg g.call.hot .bar { opacity: 1; stroke: #1565c0; stroke-width: 3; }
svg .link { stroke: #9aa3ae; stroke-dasharray: 2 3; stroke-width: 1.2; }
svg .link.involved { stroke: #333; stroke-width: 1.5; }
svg .panel-bg { fill: #fff; stroke: #d5dae1; }
svg .oob { fill: #fdecec; }
svg .zero { stroke: #39414d; stroke-width: 1.5; }
svg .total { stroke: #39414d; stroke-width: 1.5; stroke-dasharray: 7 5; }
svg .total-label, svg .zero-label { font-size: 12px; fill: #39414d; font-weight: 600; }
svg .step { stroke: #1f5fbf; stroke-width: 3; }
svg .step.bad { stroke: #d32f2f; stroke-width: 4; }
svg .riser { stroke: #1f5fbf; stroke-width: 1.5; }
svg .riser.bad { stroke: #d32f2f; stroke-width: 2; }
svg .pt { fill: #1f5fbf; stroke: #fff; stroke-width: 1.5; }
svg .pt.bad { fill: #d32f2f; }
svg .pt.guessed { fill: #fff; stroke: #1f5fbf; stroke-width: 2; }
svg .pt.bad.guessed { stroke: #d32f2f; }
svg .pt-label { font-size: 11.5px; fill: #1f3f73; }
svg .pt-label.bad { fill: #c62828; font-weight: 700; font-size: 12.5px; }
@media (max-width: 1000px) { dl.figures { grid-template-columns: repeat(2, minmax(0, 1fr)); } }
"""

_JS = """
(function () {
  function same(id) { return document.querySelectorAll('[data-call="' + id + '"]'); }
  var linked = document.querySelectorAll('[data-call]');
  for (var i = 0; i < linked.length; i++) {
    (function (el) {
      el.addEventListener('mouseenter', function () {
        var s = same(el.getAttribute('data-call'));
        for (var j = 0; j < s.length; j++) s[j].classList.add('hot');
      });
      el.addEventListener('mouseleave', function () {
        var s = same(el.getAttribute('data-call'));
        for (var j = 0; j < s.length; j++) s[j].classList.remove('hot');
      });
    })(linked[i]);
  }
  var btn = document.getElementById('copy-reproduce');
  if (btn) {
    btn.addEventListener('click', function () {
      var text = document.getElementById('reproduce').textContent;
      if (navigator.clipboard) {
        navigator.clipboard.writeText(text).then(function () { btn.textContent = 'copied'; },
                                                 function () { btn.textContent = 'select it'; });
      }
    });
  }
  document.documentElement.setAttribute('data-report-ready', 'yes');
})();
"""


def _header(summary: Doc, vs: list[Doc]) -> str:
    failed = summary.get("verdict") == "fail"
    word = "FAIL" if failed else "PASS"
    rows = property_rows(summary)
    checked = [r for r in rows if r[1] != "not checked"]
    if failed:
        broken = [p for p, s, _ in rows if s == "fail"]
        what = (f"{len(broken)} of {len(checked)} properties broke: "
                + ", ".join(f"<b>{_e(p)}</b>" for p in broken))
    else:
        what = f"all {len(checked)} checked properties held"
    pg = summary.get("postgres_version")
    sub = " \u00b7 ".join(x for x in [
        f"mode {_e(summary.get('mode', '?'))}",
        f"seed {_e(summary.get('seed', '?'))}",
        f"{_count(summary.get('examples'))} examples, {_count(summary.get('operations'))} calls "
        f"in {_seconds(summary.get('elapsed_seconds'))}",
        f"PostgreSQL {_e(pg)}" if pg else "",
    ] if x)
    return (f'<header class="verdict {word.lower()}"><div class="inner">'
            f'<div class="word" id="verdict">{word}</div>'
            f'<div><div class="what">{what}</div><div class="sub">{sub}</div></div>'
            '</div></header>')


def _properties(summary: Doc, vs: list[Doc]) -> str:
    messages: dict[str, int] = {}
    for v in vs:
        messages[v.get("property", "")] = messages.get(v.get("property", ""), 0) + 1
    out = ['<section id="properties"><h2>Properties</h2><table><thead><tr><th>property</th>'
           '<th>status</th><th>meaning</th></tr></thead><tbody>']
    for p, status, meaning in property_rows(summary):
        cls = status.replace(" ", "-")
        out.append(f'<tr class="{_e(cls)}" data-property="{_e(p)}"><td class="prop">{_e(p)}</td>'
                   f'<td><span class="status {_e(cls)}">{_e(status.upper())}</span></td>'
                   f'<td>{_e(meaning)}</td></tr>')
    out.append("</tbody></table>")
    if any(s == "not checked" for _, s, _ in property_rows(summary)):
        out.append('<p class="foot">"not checked": the run did not check this property '
                   '(with <code>--no-audit</code> only the history is checked).</p>')
    out.append("</section>")
    return "".join(out)


def _security(summary: Doc) -> str:
    """Who may call the functions: the static findings of `harness security`."""
    findings = summary.get("security")
    if findings is None:
        return ""
    out = ['<section id="security"><h2>Security of the functions</h2>']
    if not findings:
        out.append('<p class="note">No static findings (python -m harness security also '
                   'acts as anon, another org and the client).</p>')
    else:
        out.append('<table class="props"><thead><tr><th>code</th><th>function</th><th>finding</th>'
                   '<th>fix</th></tr></thead><tbody>')
        for f in findings:
            out.append(f'<tr><td class="mono">{_e(f.get("code"))}</td><td class="mono">'
                       f'{_e(f.get("function"))}</td><td>{_e(f.get("message"))}</td>'
                       f'<td class="mono">{_e(f.get("fix"))}</td></tr>')
        out.append("</tbody></table><p class=\"note\">python -m harness security adds the "
                   "dynamic checks: calls as anon, as another org and as the pack's client.</p>")
    out.append("</section>")
    return "".join(out)


def _figures(summary: Doc) -> str:
    settings = summary.get("settings") or {}
    iso = summary.get("isolation")
    errors = summary.get("failed_calls_by_sqlstate") or {}
    rate = summary.get("calls_per_second")
    items = [
        ("verdict", str(summary.get("verdict", "?")).upper()),
        ("seed", summary.get("seed", "\u2014")),
        ("mode", {"free": "free (threads race)",
                  "schedule": "schedule (drawn interleavings)"}.get(summary.get("mode"),
                                                                   summary.get("mode", "\u2014"))),
        *([("coverage", summary["exhaustive"])] if summary.get("exhaustive") else []),
        ("isolation", iso if iso else "autocommit (as the app calls them)"),
        ("examples", _count(summary.get("examples"))),
        ("operations (calls)", _count(summary.get("operations"))),
        ("elapsed", _seconds(summary.get("elapsed_seconds"))),
        ("set-up", _seconds(summary.get("setup_seconds"))),
        ("calls / s", f"{rate:,.1f}" if isinstance(rate, (int, float)) else "\u2014"),
        ("failed calls by SQLSTATE",
         ", ".join(f"{k} \u00d7{v}" for k, v in sorted(errors.items())) or "none"),
        ("PostgreSQL", summary.get("postgres_version", "\u2014")),
        ("backend", summary.get("backend", "\u2014")),
        ("operations called", ", ".join(settings.get("ops") or []) or "\u2014"),
        ("audit trail", "checked" if settings.get("use_audit", True) else "not checked (--no-audit)"),
        ("migrations", summary.get("migrations", "\u2014")),
        ("overlays", ", ".join(summary.get("overlays") or []) or "none"),
    ]
    out = ['<section id="figures"><h2>Run</h2><dl class="figures">']
    for k, v in items:
        out.append(f"<div><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>")
    out.append("</dl>")
    sums = summary.get("checksums") or {}
    overlays = set(summary.get("overlays") or [])
    if sums:
        out.append('<h3>Migrations applied, in order</h3><table class="checksums"><thead><tr>'
                   '<th>file</th><th>sha256</th></tr></thead><tbody>')
        for f, s in sums.items():
            tag = " (overlay)" if f in overlays or any(f.startswith(o.rstrip("/") + "/")
                                                       for o in overlays) else ""
            out.append(f'<tr><td class="mono">{_e(f)}{_e(tag)}</td><td class="mono">{_e(s)}</td></tr>')
        out.append("</tbody></table>")
    for note in summary.get("notes") or []:
        out.append(f'<p class="note">note: {_e(note)}</p>')
    faults = summary.get("faults") or {}
    if faults.get("injected"):
        out.append(f'<p class="note">faults ({_e(", ".join(faults.get("kinds") or []))}): '
                   f'{_e(faults["injected"])} injected; {_e(faults.get("calls_ending_unknown", 0))} '
                   'calls ended unknown, and the checkers let each go either way.</p>')
    failed_sql = summary.get("migration_failures") or []
    if failed_sql:
        out.append("<h3>Migration statements that failed and were skipped</h3><ul>")
        out += [f'<li class="mono">{_e(f)}</li>' for f in failed_sql]
        out.append("</ul>")
    reproduce = summary.get("reproduce")
    if reproduce:
        out.append('<h3>Reproduce</h3><div class="cmd"><code id="reproduce">'
                   f'{_e(reproduce)}</code><button id="copy-reproduce" type="button">copy</button></div>')
    out.append("</section>")
    return "".join(out)


def _violations(summary: Doc, vs: list[Doc]) -> str:
    first = first_violation(vs)
    info = summary.get("counterexample") or {}
    out = ['<section id="violations"><h2>What broke</h2>']
    for v in vs:
        p = v.get("property", "?")
        meaning = v.get("meaning") or PROPERTIES.get(p, "")
        cls = "violation first" if v is first else "violation"
        out.append(f'<div class="{cls}" data-property="{_e(p)}"><span class="prop">{_e(p)}</span> '
                   f'<span class="meaning">\u2014 {_e(meaning)}</span>'
                   f'<div class="msg">{_e(v.get("message", ""))}</div></div>')
    facts = []
    program = info.get("program") or {}
    threads = program.get("threads")
    if threads is not None:
        calls = sum(len(t) for t in threads)
        facts.append(f"Minimal counterexample: {len(threads)} threads, {calls} calls")
    if info.get("found_after_seconds") is not None:
        facts.append(f"found after {info['found_after_seconds']:.2f} s and "
                     f"{_count(info.get('found_after_calls'))} calls")
    if info.get("shrinking"):
        facts.append(str(info["shrinking"]))
    rep = info.get("reproduced") or {}
    if rep.get("runs"):
        facts.append(f"it broke a property again in {rep.get('failing_runs')} of {rep['runs']} replays")
    if facts:
        out.append(f'<p class="note">{_e("; ".join(facts))}.</p>')
    if info.get("describe"):
        out.append(f'<pre class="program">{_e(chr(10).join(info["describe"]))}</pre>')
    out.append("</section>")
    return "".join(out)


def _timeline_section(summary: Doc, cx: Doc, vs: list[Doc]) -> str:
    first = first_violation(vs)
    involved = set(first.get("calls") or ()) if first else set()
    tl = _Timeline(cx, involved, summary)
    svg = tl.render()
    out = ['<section id="timeline-section"><h2>Timeline of the counterexample</h2>',
           '<div class="legend">'
           f'<span><span class="sw" style="background:{_FILL[Outcome.OK]}"></span>ok</span>'
           f'<span><span class="sw" style="background:{_FILL[Outcome.FAIL]}"></span>fail (error)</span>'
           f'<span><span class="sw" style="background:{_FILL[Outcome.INFO]}"></span>info (unknown)</span>'
           + ('<span><span class="sw" style="background:repeating-linear-gradient(45deg,#c9cdd2 0 3px,'
              '#6b7178 3px 5px);border:1px dashed #555"></span>never returned</span>' if tl.open else '')
           + ('<span><span class="sw" style="background:#fff;border:2px solid #2f9e5b"></span>'
              'waiting (paused, or on a lock)</span>' if tl.has_waits else '')
           + '<span><span class="sw" style="background:#888;outline:3px solid #111"></span>'
           + (f'call of <b>{_e(first.get("property"))}</b></span>' if first else 'involved</span>')
           + ('<span><span class="sw" style="background:#ffd54f;opacity:.6"></span>'
              'those calls running at the same time</span>' if tl.race_windows else '')
           + '<span><span class="sw" style="background:#fdecec;border:1px solid #f3c3c3"></span>'
           'out of bounds: above total, below 0</span>'
           '<span><span class="sw" style="height:4px;background:#1f5fbf;vertical-align:3px"></span>'
           'committed sessions_used</span>'
           '<span><span class="sw" style="height:4px;background:#d32f2f;vertical-align:3px"></span>'
           'out of bounds, or moved by more than 1 in one write</span>'
           '<span><span class="sw" style="height:0;border-top:2px dashed #39414d;vertical-align:3px">'
           '</span>sessions_total</span></div>',
           f'<div class="timeline-wrap">{svg}</div>']
    by_id = {c.call: c for c in tl.calls}
    if first:
        out.append(f'<h3>Calls of the first violation ({_e(first.get("property"))})</h3>'
                   '<ul class="involved">')
        for cid in first.get("calls") or ():
            c = by_id.get(cid)
            if c is None:
                out.append(f'<li data-call="{_e(cid)}">call {_e(cid)} (not in the history)</li>')
                continue
            done = (f"{tl.ms(c.completed_at):.3f} ms" if c.completed_at is not None else "never")
            out.append(f'<li data-call="{c.call}">t{c.thread} {_e(c.op)}(p{c.purchase}) -> '
                       f'{_e(_result(c))} \u00b7 invoked {tl.ms(c.invoked_at):.3f} ms, '
                       f'completed {done}'
                       + (f' \u00b7 txid {_e(", ".join(map(str, c.txids)))}' if c.txids else "")
                       + "</li>")
        out.append("</ul>")
    foot = ("Times are milliseconds from the first invocation, as the harness saw them. The audit "
            "trail has no timestamps of its own: each committed value is drawn at the completion "
            "of the call whose transaction wrote it (audit txid matched with the call's txids), "
            "so a step may appear a little after the real commit.")
    if tl.interpolated:
        foot += (f" {tl.interpolated} committed value(s) matched no call and are placed "
                 "between their neighbours (hollow diamonds): their times are estimates.")
    if tl.reordered:
        foot += (f" {tl.reordered} value(s) committed before an earlier-drawn one completed "
                 "are drawn at that time, to keep the commit order.")
    if not tl.use_audit:
        foot += (" This run did not check the audit trail (--no-audit): the committed values "
                 "are drawn as recorded, but no property was judged on them.")
    if tl.has_waits:
        foot += (" White inside a bar: the call waited there (paused by the scheduler at a pause "
                 "point, or on a row lock); the scheduler does not timestamp these, so they are "
                 "placed between the neighbouring invocations and completions.")
    if not tl.calls:
        foot = "The counterexample holds no calls."
    out.append(f'<p class="foot">{_e(foot)}</p>')
    out.append(_tables(tl))
    out.append("</section>")
    return "".join(out)


def _tables(tl: _Timeline) -> str:
    out = ['<details><summary>All calls and committed writes</summary>',
           '<table class="calls"><thead><tr><th>call</th><th>thread</th><th>op</th><th>invoked ms</th>'
           '<th>completed ms</th><th>outcome</th><th>result</th><th>error</th><th>txids</th>'
           '<th>pid</th></tr></thead><tbody>']
    for c in tl.calls:
        done = f"{tl.ms(c.completed_at):.3f}" if c.completed_at is not None else "\u2014"
        err = f"{c.sqlstate or ''} {c.error or ''}".strip()
        out.append(f'<tr data-call="{c.call}"><td class="mono">{c.call}</td><td class="mono">t{c.thread}</td>'
                   f'<td class="mono">{_e(c.op)}(p{c.purchase})</td><td class="mono">'
                   f'{tl.ms(c.invoked_at):.3f}</td><td class="mono">{done}</td><td>{c.outcome.value}</td>'
                   f'<td class="mono">{_e(_result(c))}</td><td>{_e(err)}</td>'
                   f'<td class="mono">{_e(", ".join(map(str, c.txids)))}</td>'
                   f'<td class="mono">{_e(_val(c.pid))}</td></tr>')
    out.append('</tbody></table><h3>Audit trail (committed writes, in commit order)</h3>'
               '<table class="audit"><thead><tr><th>seq</th><th>purchase</th><th>old</th><th>new</th>'
               '<th>txid</th><th>pid</th></tr></thead><tbody>')
    for r in tl.audit:
        out.append(f'<tr><td class="mono">{r.seq}</td><td class="mono">p{r.purchase}</td>'
                   f'<td class="mono">{_val(r.old)}</td><td class="mono">{_val(r.new)}</td>'
                   f'<td class="mono">{r.txid}</td><td class="mono">{r.pid}</td></tr>')
    out.append("</tbody></table></details>")
    return "".join(out)


def _transcript_section(lines: list[str]) -> str:
    rendered = []
    for line in lines:
        # event lines of the transcript: "  1.234  ...": a '*' marks a call of the first violation
        head = line[:8].strip()
        is_event = bool(head) and head.replace(".", "", 1).isdigit() and "." in head
        if is_event and "*" in line[8:]:
            rendered.append(f'<span class="hl">{_e(line)}</span>')
        else:
            rendered.append(_e(line))
    return ('<section id="transcript"><h2>Transcript</h2><p class="note">One column per thread; '
            '<code>*</code> marks the calls of the first violation; the last lines are the values '
            'the database committed.</p><pre>' + "\n".join(rendered) + "</pre></section>")


def render_html(report_dir: Path, summary: Doc, counterexample: Doc | None) -> str:
    """The page as a string (``write_html`` writes it)."""
    vs = violations(summary, counterexample)
    failed = summary.get("verdict") == "fail"
    rows = property_rows(summary)
    broken = [p for p, s, _ in rows if s == "fail"]
    title = ("FAIL: " + ", ".join(broken) if failed else "PASS") + " \u2014 harness stress report"
    body = [_header(summary, vs), "<main>"]
    if failed:
        body.append(_violations(summary, vs))
        if counterexample and counterexample.get("calls"):
            body.append(_timeline_section(summary, counterexample, vs))
        else:
            body.append('<section id="timeline-section"><h2>Timeline</h2><p class="note">No '
                        'counterexample.json with calls was given: there is nothing to draw.</p></section>')
        lines = transcript_lines(report_dir, counterexample)
        if lines:
            body.append(_transcript_section(lines))
    body.append(_properties(summary, vs))
    body.append(_security(summary))
    body.append(_figures(summary))
    body.append("</main>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_e(title)}</title><style>{_CSS}</style></head>\n"
            f"<body data-verdict=\"{_e(summary.get('verdict', ''))}\">\n" + "\n".join(body)
            + f"\n<script>{_JS}</script>\n</body></html>\n")


def write_html(report_dir: Path, summary: Doc, counterexample: Doc | None) -> Path:
    """Write ``report.html`` into ``report_dir``; return its path."""
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    path = report_dir / "report.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render_html(report_dir, summary, counterexample), encoding="utf-8")
    tmp.replace(path)
    return path
