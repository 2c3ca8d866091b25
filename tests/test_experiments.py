"""Experiments: files, checks, GrowthBook assignment in routing, build output, preview --arm,
power planning (against statsmodels) and governance in ``atomic diff``.

Real files in temp folders (tests/contentkit.py), real builds and bundles, real git repos.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from atomic_content.build import build
from atomic_content.bundle import load_bundle
from atomic_content.cli import main
from atomic_content.experiments import (
    assign,
    power_plan,
    samplesize_conversion,
    samplesize_mean,
)
from atomic_content.growthbook import choose_variation, gb_hash, get_bucket_range
from atomic_content.manifest import Manifest
from atomic_content.models import ArmKind
from atomic_content.plan import Holdout, Route
from atomic_content.runtime import render_batch
from atomic_content.validate import load_library, static_check
from contentkit import write_tree

DAY = dt.date(2026, 11, 22)
REPO = Path(__file__).resolve().parent.parent

EXPERIMENT = """\
key: welcome-test
journey: welcome
hypothesis: The VIP welcome wins more first orders than the generic one.
null_hypothesis: Personalization does not change first orders.
metric: conversion
alpha: 0.05
power: 0.8
mde: 0.02
arms:
  - {id: control, weight: 0.45}
  - {id: personalized, weight: 0.45}
  - {id: holdout, weight: 0.1}
start: 2026-11-01
end: 2026-12-31
status: running
"""


def tree(
    tmp_path: Path, experiment: str | None = EXPERIMENT, extra: dict[str, str | None] | None = None
) -> Path:
    files: dict[str, str | bytes | None] = {"experiments/welcome-test.yaml": experiment}
    files.update(extra or {})
    return write_tree(tmp_path / "content", files)


def codes(diagnostics: Any) -> list[tuple[str, int, str]]:
    return [(d.path, d.line, d.code) for d in diagnostics]


# ----------------------------------------------------------------------------- files


def test_an_experiment_loads(tmp_path: Path) -> None:
    library, diagnostics = static_check(tree(tmp_path), DAY)
    assert not diagnostics.has_errors, codes(diagnostics)
    experiment = library.experiments["welcome-test"]
    assert experiment.tracking_key == "welcome-test"
    assert [a.id for a in experiment.arms] == [
        ArmKind.CONTROL,
        ArmKind.PERSONALIZED,
        ArmKind.HOLDOUT,
    ]
    assert experiment.active_on(DAY)
    assert not experiment.active_on(dt.date(2027, 1, 1))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("hypothesis:", "hypothesys:"),
            ("experiments/welcome-test.yaml", 3, "schema.unknown_field"),
        ),
        (
            ("weight: 0.1}", "weight: 0.2}"),
            ("experiments/welcome-test.yaml", 1, "schema.invalid_value"),
        ),
        (
            ("{id: control, weight: 0.45}", "{id: contrl, weight: 0.45}"),
            ("experiments/welcome-test.yaml", 10, "schema.invalid_value"),
        ),
        (
            ("alpha: 0.05", "alpha: 0.7"),
            ("experiments/welcome-test.yaml", 6, "schema.invalid_value"),
        ),
        (
            ("journey: welcome", "journey: welcom"),
            ("experiments/welcome-test.yaml", 2, "ref.unknown_journey"),
        ),
        (
            ("status: running", "status: running\nsteps: [day-9]"),
            ("experiments/welcome-test.yaml", 16, "ref.unknown_step"),
        ),
    ],
)
def test_problems_are_positioned(
    tmp_path: Path, change: tuple[str, str], expected: tuple[str, int, str]
) -> None:
    _library, diagnostics = static_check(tree(tmp_path, EXPERIMENT.replace(*change)), DAY)
    assert expected in codes(diagnostics.errors)


def test_weights_must_sum_to_one_and_arms_need_control(tmp_path: Path) -> None:
    text = EXPERIMENT.replace("weight: 0.1}", "weight: 0.2}")
    _library, diagnostics = static_check(tree(tmp_path, text), DAY)
    assert any("sum to 1.1, not 1" in d.message for d in diagnostics.errors)
    text = EXPERIMENT.replace("  - {id: control, weight: 0.45}\n", "").replace("0.45}", "0.9}")
    _library, diagnostics = static_check(tree(tmp_path / "b", text), DAY)
    assert any("needs a control and a personalized arm" in d.message for d in diagnostics.errors)


def test_two_running_experiments_on_one_step_are_an_error(tmp_path: Path) -> None:
    second = {"experiments/second.yaml": EXPERIMENT.replace("welcome-test", "second")}
    _library, diagnostics = static_check(tree(tmp_path, extra=second), DAY)
    # Reported once, at the later of the two by id.
    assert codes(diagnostics.errors) == [("experiments/welcome-test.yaml", 2, "experiment.overlap")]


def test_an_underpowered_segment_is_a_warning(tmp_path: Path) -> None:
    text = EXPERIMENT.replace("mde: 0.02", "mde: 0.005\nbaseline_rate: 0.05")
    library, diagnostics = static_check(tree(tmp_path, text), DAY)
    found = [d for d in diagnostics if d.code == "experiment.underpowered"]
    assert found and all(d.severity.value == "warning" for d in found)
    assert {d.line for d in found} == {8}  # the mde line
    assert any("segment 'vip' is too small" in d.message for d in found)
    plan = power_plan(library, library.experiments["welcome-test"])
    vip = next(row for row in plan.segments if row.segment == "vip")
    assert vip.enough is False and vip.needed is not None and vip.needed > 1000


def test_schema_lists_the_experiment_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["schema", "--out", str(tmp_path)])
    assert result.exit_code == 0
    schema = json.loads((tmp_path / "experiment.schema.json").read_text())
    assert set(schema["required"]) >= {"journey", "hypothesis", "null_hypothesis", "arms", "mde"}
    committed = REPO / "schemas"
    for name in ("experiment", "manifest", "segment", "settings"):
        assert (tmp_path / f"{name}.schema.json").read_text() == (
            committed / f"{name}.schema.json"
        ).read_text(), f"schemas/{name}.schema.json is stale: run atomic schema"


# ----------------------------------------------------------------------------- assignment


def test_assignment_is_growthbooks() -> None:
    library, _ = load_library(REPO / "content")
    experiment = library.experiments["welcome-personalization"]
    ranges = get_bucket_range(3, 1.0, [0.45, 0.45, 0.1])
    counts = dict.fromkeys(ArmKind, 0)
    for number in range(6000):
        customer = f"NW-{number}"
        got = assign(experiment, {"id": customer}, library.profile)
        value = gb_hash("welcome-personalization-2026", customer, 2)
        assert value is not None
        index = choose_variation(value, ranges)
        assert got.arm is experiment.arms[index].id
        counts[got.arm] += 1
    assert abs(counts[ArmKind.HOLDOUT] / 6000 - 0.1) < 0.02
    assert abs(counts[ArmKind.CONTROL] / 6000 - 0.45) < 0.03


def test_namespace_coverage_and_missing_hash_value(tmp_path: Path) -> None:
    text = EXPERIMENT + "namespace: {id: ns, start: 0, end: 0.5}\ncoverage: 0.5\n"
    library, _ = load_library(tree(tmp_path, text), DAY)
    experiment = library.experiments["welcome-test"]
    reasons = [assign(experiment, {"id": f"C-{n}"}, library.profile) for n in range(400)]
    outside = [a for a in reasons if a.arm is None]
    assert any("outside namespace 'ns'" in a.reason for a in outside)
    assert any("outside the coverage 0.5" in a.reason for a in outside)
    assert 0.6 < len(outside) / 400 < 0.9  # about 1 - 0.5 * 0.5
    missing = assign(experiment, {"tier": "gold"}, library.profile)
    assert missing.arm is None and "no 'id' to hash" in missing.reason


# ----------------------------------------------------------------------------- routing & build


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("experiment-build")
    content = tree(root)
    out = root / "dist"
    build(content, out, on=DAY)
    return content, out


def customers(count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"C-{n}",
            "locale": ["en", "de"][n % 2],
            "tier": ["gold", "silver", "bronze"][n % 3],
            "orders": n % 4,
        }
        for n in range(count)
    ]


def test_arms_route_to_build_variants_and_stay_constant(built: tuple[Path, Path]) -> None:
    _content, out = built
    bundle = load_bundle(out)
    manifest = Manifest.from_json((out / "manifest.json").read_bytes())
    seen: dict[str, int] = {}
    for record in customers(600):
        arms = set()
        for channel in ("email", "app"):
            route = bundle.route(record, journey="welcome", step="day-0", channel=channel, on=DAY)
            arms.add(route.arm)
            if isinstance(route, Holdout):
                rendered = bundle.render(
                    record, journey="welcome", step="day-0", channel=channel, on=DAY
                )
                assert isinstance(rendered, Holdout)
                continue
            assert isinstance(route, Route)
            # The runtime guarantee: every routed variant is a build variant.
            assert route.variant_id in manifest.by_id
            audience = route.variant_id.rsplit("/", 1)[1]
            if route.arm == "control":
                assert audience == "generic"
            else:
                assert audience == route.audience.id
            assert f"welcome-test/{route.arm}" in manifest.by_id[route.variant_id].arms
        assert len(arms) == 1, "the arm is the same on every channel"
        arm = arms.pop() or "none"
        seen[arm] = seen.get(arm, 0) + 1
    assert set(seen) >= {"control", "personalized", "holdout"}


def test_no_arm_outside_the_window(built: tuple[Path, Path], tmp_path: Path) -> None:
    content, _out = built
    out = tmp_path / "dist"
    build(content, out, on=dt.date(2027, 1, 2))
    bundle = load_bundle(out)
    manifest = Manifest.from_json((out / "manifest.json").read_bytes())
    assert manifest.experiments == ()
    route = bundle.route(
        customers(1)[0], journey="welcome", step="day-0", channel="email", on=dt.date(2027, 1, 2)
    )
    assert isinstance(route, Route) and route.assignment is None


def test_manifest_and_bundle_carry_the_experiment(built: tuple[Path, Path]) -> None:
    _content, out = built
    manifest = Manifest.from_json((out / "manifest.json").read_bytes())
    (entry,) = manifest.experiments
    assert entry.key == "welcome-test" and entry.hash_attribute == "id"
    assert [(a.arm, a.sends) for a in entry.arms] == [
        ("control", "generic"),
        ("personalized", "audience"),
        ("holdout", "none"),
    ]
    generic = manifest.by_id["welcome/day-0/email/en/generic"]
    assert generic.arms == ("welcome-test/control", "welcome-test/personalized")
    assert manifest.by_id["welcome/day-0/email/en/vip"].arms == ("welcome-test/personalized",)
    index = json.loads((out / "bundle" / "bundle.json").read_text())
    assert [e["id"] for e in index["experiments"]] == ["welcome-test"]


def test_batch_render_counts_holdout_and_writes_the_arm(
    built: tuple[Path, Path], tmp_path: Path
) -> None:
    _content, out = built
    records = customers(300)
    source = tmp_path / "customers.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    target = tmp_path / "out.jsonl"
    result = render_batch(
        load_bundle(out), source, journey="welcome", step="day-0", channel="email", out=target,
        on=DAY,
    )  # fmt: skip
    assert result.holdout > 0 and result.failed == 0
    assert result.total == len(records)
    assert result.to_dict()["holdout"] == result.holdout
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert len(lines) == result.rendered
    assert {line["arm"] for line in lines} == {"control", "personalized"}
    assert {line["experiment"] for line in lines} == {"welcome-test"}
    for line in lines:
        if line["arm"] == "control":
            assert line["variant"].endswith("/generic")


def preview(content: Path, *args: str) -> Any:
    return CliRunner().invoke(
        main,
        ["preview", "--content", str(content), "--customer", "ada", "--journey", "welcome",
         "--step", "day-0", "--channel", "email", "--date", DAY.isoformat(), *args],
    )  # fmt: skip


def test_preview_arm_and_explain(built: tuple[Path, Path]) -> None:
    content, _out = built
    control = preview(content, "--arm", "control")
    assert control.exit_code == 0, control.output
    assert "variant: welcome/day-0/email/en/generic" in control.stdout
    assert "arm: control (welcome-test)" in control.stdout
    assert "Gear for every trail" in control.stdout
    personalized = preview(content, "--arm", "personalized")
    assert "variant: welcome/day-0/email/en/vip" in personalized.stdout
    assert "Your VIP gear is waiting" in personalized.stdout
    holdout = preview(content, "--arm", "holdout")
    assert "holdout: no message is sent" in holdout.stdout
    explained = preview(content, "--explain")
    assert "note: arm: experiment 'welcome-test': hash of 'id' (v2) is" in explained.stdout
    explained_control = preview(content, "--explain", "--arm", "control", "--format", "json")
    data = json.loads(explained_control.stdout)[0]
    assert data["experiment"]["arm"] == "control" and data["experiment"]["forced"] is True
    assert data["variant"] == "welcome/day-0/email/en/generic"


def test_arm_without_experiment_is_a_usage_error(tmp_path: Path) -> None:
    result = preview(tree(tmp_path, None), "--arm", "control")
    assert result.exit_code == 2
    assert "no experiment covers welcome/day-0" in result.stderr


# ----------------------------------------------------------------------------- power


POWER_CASES = [
    (0.05, 0.02, 0.05, 0.8, 1.0),
    (0.04, 0.01, 0.05, 0.9, 1.0),
    (0.12, 0.03, 0.01, 0.8, 1.0),
    (0.30, -0.05, 0.05, 0.8, 1.0),
    (0.05, 0.02, 0.05, 0.8, 0.5),
    (0.02, 0.004, 0.1, 0.95, 2.0),
]


@pytest.mark.parametrize(("baseline", "mde", "alpha", "power", "ratio"), POWER_CASES)
def test_conversion_sample_size_matches_statsmodels(
    baseline: float, mde: float, alpha: float, power: float, ratio: float
) -> None:
    from statsmodels.stats.proportion import samplesize_proportions_2indep_onetail

    ours = samplesize_conversion(baseline, mde, alpha, power, ratio)
    theirs = samplesize_proportions_2indep_onetail(
        mde, baseline, power, ratio=ratio, alpha=alpha, alternative="two-sided"
    )
    assert ours == pytest.approx(float(theirs), rel=1e-9)


@pytest.mark.parametrize(("sd", "mde", "alpha", "power", "ratio"), [
    (40.0, 2.0, 0.05, 0.8, 1.0), (12.5, 1.0, 0.01, 0.9, 1.0), (80.0, 5.0, 0.05, 0.8, 0.25),
])  # fmt: skip
def test_revenue_sample_size_matches_statsmodels(
    sd: float, mde: float, alpha: float, power: float, ratio: float
) -> None:
    from statsmodels.stats.power import NormalIndPower, normal_sample_size_one_tail

    ours = samplesize_mean(sd, mde, alpha, power, ratio)
    explicit = normal_sample_size_one_tail(
        mde, power, alpha / 2, std_null=sd * math.sqrt(1 + 1 / ratio)
    )
    assert ours == pytest.approx(float(explicit), rel=1e-9)
    # statsmodels' solver also counts the far tail (tiny here): close, not identical.
    solved = NormalIndPower().solve_power(
        effect_size=mde / sd, alpha=alpha, power=power, ratio=ratio
    )
    assert ours == pytest.approx(float(solved), rel=1e-4)


def test_experiments_plan_on_the_demo() -> None:
    result = CliRunner().invoke(main, ["experiments", "plan", "--content", str(REPO / "content")])
    assert result.exit_code == 0, result.output
    assert "two-proportion z-test, two-sided; α = 0.05, power 0.8, MDE 2 pp" in result.stdout
    assert "TOO SMALL" in result.stdout
    data = json.loads(
        CliRunner()
        .invoke(
            main, ["experiments", "plan", "--content", str(REPO / "content"), "--format", "json"]
        )
        .stdout
    )
    rows = {row["segment"]: row for row in data[0]["segments"]}
    expected = math.ceil(samplesize_conversion(0.05, 0.02, 0.05, 0.8))
    assert rows["new-customer"]["per_arm"] == {"personalized": expected, "control": expected}
    assert rows["new-customer"]["needed"] == math.ceil(expected / 0.45)
    assert rows["dach"]["enough"] is True


# ----------------------------------------------------------------------------- governance


def test_diff_freezes_running_experiments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from test_diff import make_project

    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    project = make_project(
        tmp_path / "repo", monkeypatch, **{"experiments/welcome-test.yaml": EXPERIMENT}
    )
    headline = (project.content / "atoms" / "headline-vip.yaml").read_text()
    project.commit(
        "vip headline", {"atoms/headline-vip.yaml": headline.replace("is waiting", "ships free")}
    )
    run = project.diff("HEAD~1", "HEAD")
    found = [d for d in run.data["governance"] if d["code"] == "experiment.frozen_content"]
    assert found and found[0]["severity"] == "error", run.data["governance"]
    assert found[0]["path"] == "atoms/headline-vip.yaml"
    assert "running experiment 'welcome-test'" in found[0]["message"]
    assert run.exit_code == 1

    project.commit(
        "new hypothesis",
        {"experiments/welcome-test.yaml": EXPERIMENT.replace("alpha: 0.05", "alpha: 0.1")},
    )
    run = project.diff("HEAD~1", "HEAD")
    (changed,) = [
        d for d in run.data["governance"] if d["code"] == "experiment.preregistration_changed"
    ]
    assert changed["severity"] == "error" and changed["line"] == 6
    assert "alpha of experiment 'welcome-test' changed after its start" in changed["message"]


def test_freeze_level_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from test_diff import make_project, settings

    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    project = make_project(
        tmp_path / "repo",
        monkeypatch,
        **{
            "experiments/welcome-test.yaml": EXPERIMENT,
            "atomic.yaml": settings('{owner_required: "off", experiment_freeze: warning}'),
        },
    )
    headline = (project.content / "atoms" / "headline-vip.yaml").read_text()
    project.commit(
        "vip headline", {"atoms/headline-vip.yaml": headline.replace("is waiting", "ships free")}
    )
    run = project.diff("HEAD~1", "HEAD")
    found = [d for d in run.data["governance"] if d["code"] == "experiment.frozen_content"]
    assert [d["severity"] for d in found] == ["warning"]
