"""GrowthBook's cross-SDK ``evalCondition`` cases must all pass, compiled and uncompiled.

The cases live in ``tests/conformance/growthbook/cases.json`` (MIT, see the LICENSE beside it);
rows are ``[name, condition, attributes, expected, savedGroups?]``. The hashing and bucketing
sections of that file are out of scope for this module.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from atomic_content.conditions import compile_condition, evaluate

pytestmark = pytest.mark.filterwarnings("error")

CASES_FILE = Path(__file__).parent / "conformance" / "growthbook" / "cases.json"
ROWS: list[list[Any]] = json.loads(CASES_FILE.read_text(encoding="utf-8"))["evalCondition"]


def test_the_shared_file_has_eval_condition_rows() -> None:
    assert len(ROWS) >= 100
    assert len({row[0] for row in ROWS}) <= len(ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[row[0] for row in ROWS])
def test_eval_condition(row: list[Any]) -> None:
    _name, condition, attributes, expected = row[:4]
    saved_groups = row[4] if len(row) > 4 else None
    assert evaluate(condition, attributes, saved_groups) is expected
    compiled = compile_condition(condition)
    assert compiled(attributes, saved_groups) is expected
    # A compiled condition is reusable: a second call gives the same answer.
    assert compiled(attributes, saved_groups) is expected
