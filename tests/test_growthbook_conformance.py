"""GrowthBook's cross-SDK bucketing vectors must all pass: ``hash``, ``getBucketRange``,
``chooseVariation``, ``inNamespace`` and ``getEqualWeights``.

The vectors live in ``tests/conformance/growthbook/cases.json`` (MIT, see the LICENSE beside it,
copied from the shared conformance folder). GrowthBook's own tests compare bucket ranges and
equal weights rounded (to 6 and 8 digits); hashes and choices exactly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from atomic_content.growthbook import (
    choose_variation,
    fnv1a32,
    gb_hash,
    get_bucket_range,
    get_equal_weights,
    in_namespace,
)

CASES: dict[str, Any] = json.loads(
    (Path(__file__).parent / "conformance" / "growthbook" / "cases.json").read_text("utf-8")
)


def test_every_section_has_vectors() -> None:
    for section in ("hash", "getBucketRange", "chooseVariation", "inNamespace"):
        assert len(CASES[section]) >= 10, section
    assert len(CASES["getEqualWeights"]) >= 5


@pytest.mark.parametrize(
    "row", CASES["hash"], ids=[f"{r[0]}|{r[1]}|v{r[2]}" for r in CASES["hash"]]
)
def test_hash(row: list[Any]) -> None:
    seed, value, version, expected = row
    assert gb_hash(seed, value, version) == expected


@pytest.mark.parametrize(
    "row", CASES["getBucketRange"], ids=[r[0] for r in CASES["getBucketRange"]]
)
def test_get_bucket_range(row: list[Any]) -> None:
    _name, (count, coverage, weights), expected = row
    ranges = get_bucket_range(count, coverage, weights)
    assert [[round(a, 6), round(b, 6)] for a, b in ranges] == expected
    for (start, end), (want_start, want_end) in zip(ranges, expected, strict=True):
        assert start == pytest.approx(want_start, abs=1e-9)
        assert end == pytest.approx(want_end, abs=1e-9)


@pytest.mark.parametrize(
    "row", CASES["chooseVariation"], ids=[r[0] for r in CASES["chooseVariation"]]
)
def test_choose_variation(row: list[Any]) -> None:
    _name, value, ranges, expected = row
    assert choose_variation(value, [tuple(r) for r in ranges]) == expected


@pytest.mark.parametrize("row", CASES["inNamespace"], ids=[r[0] for r in CASES["inNamespace"]])
def test_in_namespace(row: list[Any]) -> None:
    _name, hash_value, (namespace, start, end), expected = row
    assert in_namespace(hash_value, (namespace, start, end)) is expected


@pytest.mark.parametrize(
    "row", CASES["getEqualWeights"], ids=[str(r[0]) for r in CASES["getEqualWeights"]]
)
def test_get_equal_weights(row: list[Any]) -> None:
    count, expected = row
    weights = get_equal_weights(count)
    assert [round(w, 8) for w in weights] == expected
    if weights:
        assert sum(weights) == pytest.approx(1.0)


def test_fnv1a32_reference_values() -> None:
    # Published FNV-1a 32-bit test values (Fowler/Noll/Vo).
    assert fnv1a32("") == 0x811C9DC5
    assert fnv1a32("a") == 0xE40C292C
    assert fnv1a32("foobar") == 0xBF9CF968
