"""A workload file (TOML) declares another counter for the same engine:
credits, stock, seats, invite-code uses.

    name = "credit wallet"
    migrations = "migrations"          # relative to this file

    [counter]
    table = "public.credit_wallets"    # the row the functions move
    key = "id"                         # its uuid primary key
    column = "credits_used"            # the counter
    expires = false                    # does the increment refuse expired rows?
    nullable = false                   # may the counter or its total be NULL?

    [rows]
    setup = "insert into ... on conflict do nothing"   # once per database
    # one row to test on; %(total)s %(used)s %(expires_at)s; returns the key
    row = "insert into public.credit_wallets (...) values (...) returning id"

    [[operation]]
    name = "spend"
    function = "public.spend_credit(uuid)"
    direction = "up"                   # up: +1, bounded by total; down: -1, bounded by 0
    returns = "boolean"                # or "new_value" (-1 for a no-op)

Loading registers each operation with the executor and the model.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from .. import model
from ..errors import HarnessError
from ..target import Operation, Target
from . import ops

__all__ = ["load"]

_DIRECTIONS = {"up": +1, "down": -1, "+1": +1, "-1": -1, 1: +1, -1: -1}


def _need(table: dict[str, Any], key: str, where: str, path: Path) -> Any:
    if key not in table:
        raise HarnessError(f"{path}: [{where}] needs '{key}'")
    return table[key]


def load(path: Path) -> tuple[Target, Path | None]:
    """The target a workload file declares, and its migrations folder (if it names one)."""
    try:
        doc = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise HarnessError(f"--workload {path}: no such file") from None
    except tomllib.TOMLDecodeError as e:
        raise HarnessError(f"{path}: not valid TOML: {e}") from None
    counter = doc.get("counter") or {}
    rows = doc.get("rows") or {}
    table = str(_need(counter, "table", "counter", path))
    column = str(_need(counter, "column", "counter", path))
    row_sql = str(_need(rows, "row", "rows", path))
    operations = []
    for i, op in enumerate(doc.get("operation") or []):
        where = f"operation {i + 1}"
        name = str(_need(op, "name", where, path))
        direction = _DIRECTIONS.get(_need(op, "direction", where, path))
        if direction is None:
            raise HarnessError(f"{path}: [{where}] direction is 'up' or 'down'")
        returns = op.get("returns", "boolean")
        if returns not in ("boolean", "new_value"):
            raise HarnessError(f"{path}: [{where}] returns is 'boolean' or 'new_value'")
        function = str(_need(op, "function", where, path))
        if "(" not in function:
            raise HarnessError(f"{path}: [{where}] function is schema.name(argtypes), "
                               f"e.g. public.spend_credit(uuid)")
        operations.append(Operation(name, function, direction, returns))
    if not operations:
        raise HarnessError(f"{path}: declare at least one [[operation]]")
    target = Target(
        table=table,
        key=str(counter.get("key", "id")),
        counter=column,
        fixtures_sql=str(rows.get("setup", "select 1")),
        row_sql=row_sql,
        operations=tuple(operations),
        per_row=True,
        has_expiry=bool(counter.get("expires", False)),
        nullable=bool(counter.get("nullable", False)),
        name=str(doc.get("name", path.stem)),
    )
    for o in operations:
        ops.register(o.name, o.function)
        model.register(o.name, model.OpSpec(o.direction, o.returns))
    migrations = doc.get("migrations")
    return target, (path.parent / migrations) if migrations else None
