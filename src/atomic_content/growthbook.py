"""GrowthBook-compatible bucketing: the one home of experiment hashing.

The functions follow GrowthBook's SDK specification (``packages/sdk-js/src/util.ts``), so a
customer lands in the same arm here as in a company's GrowthBook set-up with the same key,
hash attribute, weights, coverage and namespace. ``tests/test_growthbook_conformance.py`` runs
GrowthBook's cross-SDK vectors (``tests/conformance/growthbook/cases.json``).

Strings are hashed as the JavaScript SDK reads them: one UTF-16 code unit at a time (so a
character outside the Basic Multilingual Plane counts as its two surrogates).
"""

from __future__ import annotations

from collections.abc import Sequence

BucketRange = tuple[float, float]

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


def fnv1a32(text: str) -> int:
    """The 32-bit FNV-1a hash of ``text``'s UTF-16 code units."""
    value = _FNV_OFFSET
    if text.isascii():  # the usual case: one code unit per character
        for char in text.encode("ascii"):
            value = ((value ^ char) * _FNV_PRIME) & 0xFFFFFFFF
        return value
    data = text.encode("utf-16-le", "surrogatepass")
    for index in range(0, len(data), 2):
        value = ((value ^ (data[index] | (data[index + 1] << 8))) * _FNV_PRIME) & 0xFFFFFFFF
    return value


def gb_hash(seed: str, value: str, version: int) -> float | None:
    """GrowthBook's ``hash``: a number in [0, 1) for ``value`` under ``seed``.

    Version 2 (the default of current SDKs) hashes twice and has 10 000 buckets; version 1
    has 1 000. Any other version gives None (GrowthBook then skips the experiment).
    """
    if version == 2:
        return (fnv1a32(str(fnv1a32(seed + value))) % 10000) / 10000
    if version == 1:
        return (fnv1a32(value + seed) % 1000) / 1000
    return None


def get_equal_weights(count: int) -> list[float]:
    """``count`` equal weights summing to 1 (none for ``count`` <= 0)."""
    if count <= 0:
        return []
    return [1 / count] * count


def get_bucket_range(
    count: int, coverage: float = 1.0, weights: Sequence[float] | None = None
) -> list[BucketRange]:
    """The [start, end) hash range of each of ``count`` variations.

    ``coverage`` (clamped to 0..1) shrinks every range from its start; ``weights`` that do not
    match ``count`` or do not sum to 1 (within 0.01) are replaced by equal weights.
    """
    coverage = min(max(coverage, 0.0), 1.0)
    equal = get_equal_weights(count)
    chosen = list(weights) if weights is not None else equal
    if len(chosen) != count:
        chosen = equal
    total = sum(chosen)
    if total < 0.99 or total > 1.01:
        chosen = equal
    ranges: list[BucketRange] = []
    cumulative = 0.0
    for weight in chosen:
        start = cumulative
        cumulative += weight
        ranges.append((start, start + coverage * weight))
    return ranges


def in_range(value: float, bucket: BucketRange) -> bool:
    return bucket[0] <= value < bucket[1]


def choose_variation(value: float, ranges: Sequence[BucketRange]) -> int:
    """The index of the range ``value`` falls in, or -1 (not in the experiment)."""
    for index, bucket in enumerate(ranges):
        if in_range(value, bucket):
            return index
    return -1


def in_namespace(hash_value: str, namespace: tuple[str, float, float]) -> bool:
    """Whether ``hash_value`` falls in the namespace ``(id, start, end)``."""
    number = gb_hash("__" + namespace[0], hash_value, 1)
    assert number is not None
    return namespace[1] <= number < namespace[2]


__all__ = [
    "BucketRange",
    "choose_variation",
    "fnv1a32",
    "gb_hash",
    "get_bucket_range",
    "get_equal_weights",
    "in_namespace",
    "in_range",
]
