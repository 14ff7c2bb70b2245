"""Workload files: what they declare, and one-line errors for what they lack."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import model
from harness.errors import HarnessError
from harness.workload.file import load
from harness.workload.ops import FUNCTIONS

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "credits" / "workload.toml"


def test_example_declares_its_counter_and_registers_operations() -> None:
    target, migrations = load(EXAMPLE)
    assert target.table == "public.credit_wallets" and target.counter == "credits_used"
    assert [o.name for o in target.operations] == ["spend", "refund"]
    assert migrations == EXAMPLE.parent / "migrations"
    assert FUNCTIONS["spend"] == "public.spend_credit(uuid)"
    assert model.SPECS["refund"] == model.OpSpec(-1, "new_value")
    # The model now knows what a refund promises.
    ok, _ = model.step(model.PackState(5, 0), "refund", -1)
    assert ok and not model.step(model.PackState(5, 2), "refund", -1)[0]


@pytest.mark.parametrize("text, needle", [
    ("[counter]\ntable='t'\n", "column"),
    ("[counter]\ntable='t'\ncolumn='c'\n[rows]\nrow='x'\n", "operation"),
    ("[counter]\ntable='t'\ncolumn='c'\n[rows]\nrow='x'\n[[operation]]\nname='a'\n"
     "function='f(uuid)'\ndirection='sideways'\n", "direction"),
    ("[counter]\ntable='t'\ncolumn='c'\n[rows]\nrow='x'\n[[operation]]\nname='a'\n"
     "function='f'\ndirection='up'\n", "argtypes"),
    ("this is = = not toml", "TOML"),
])
def test_bad_files_say_what_is_missing(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "w.toml"
    path.write_text(text)
    with pytest.raises(HarnessError, match=needle):
        load(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="no such file"):
        load(tmp_path / "nope.toml")
