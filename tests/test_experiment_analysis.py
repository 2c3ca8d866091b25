"""``atomic analyze`` against SciPy and statsmodels on generated data (to 1e-9), including a
sample-ratio-mismatch case and a no-effect case; the reports; the demo analysis; the HTML
report with its plots in real Chromium.
"""

from __future__ import annotations

import contextlib
import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from atomic_content.build import build
from atomic_content.cli import main
from atomic_content.experiment_analysis import (
    Verdict,
    adjust,
    analyze,
    analyze_file,
    read_results,
)
from atomic_content.experiment_report import (
    format_analysis_html,
    format_analysis_json,
    format_analysis_markdown,
    format_analysis_text,
)
from atomic_content.manifest import Manifest
from atomic_content.models import ArmKind, Correction, Experiment
from contentkit import write_tree

REPO = Path(__file__).resolve().parent.parent
DEMO_RESULTS = REPO / "benchmarks" / "data" / "welcome-results.csv"
TOL = 1e-9

BASE_EXPERIMENT: dict[str, Any] = {
    "id": "t",
    "journey": "welcome",
    "hypothesis": "h",
    "null_hypothesis": "h0",
    "mde": 0.02,
    "start": "2026-09-01",
    "arms": [
        {"id": "control", "weight": 0.45},
        {"id": "personalized", "weight": 0.45},
        {"id": "holdout", "weight": 0.1},
    ],
}


def experiment(**changes: Any) -> Experiment:
    return Experiment.model_validate({**BASE_EXPERIMENT, **changes})


# segment -> (control rate, lift)
SEGMENTS = {"vip": (0.08, 0.04), "new": (0.05, 0.03), "dach": (0.05, 0.0), "generic": (0.04, 0.0)}


def generate(
    path: Path,
    *,
    seed: int = 7,
    customers: int = 24_000,
    weights: tuple[float, float, float] = (0.45, 0.45, 0.1),
    segments: dict[str, tuple[float, float]] | None = None,
) -> Path:
    """Per-customer results with known effects (numpy's seeded generator)."""
    rng = np.random.default_rng(seed)
    segments = segments or SEGMENTS
    names = list(segments)
    arms = rng.choice(["control", "personalized", "holdout"], size=customers, p=list(weights))
    where = rng.choice(names, size=customers)
    keen = rng.random(customers)
    pre = np.maximum(0.0, rng.normal(150 * keen, 30))
    days = rng.integers(1, 29, size=customers)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["customer", "arm", "segment", "converted", "revenue", "pre", "date"])
        for index in range(customers):
            rate, lift = segments[where[index]]
            chance = rate * (0.4 + 1.2 * keen[index])
            if arms[index] == "personalized":
                chance += lift
            elif arms[index] == "holdout":
                chance *= 0.7
            converted = rng.random() < chance
            revenue = round(float(rng.lognormal(4, 0.5)), 2) if converted else 0.0
            writer.writerow(
                [f"C-{index}", arms[index], where[index], int(converted), revenue,
                 round(float(pre[index]), 2), f"2026-09-{days[index]:02d}"]
            )  # fmt: skip
    return path


def columns(path: Path) -> dict[str, np.ndarray]:
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {
        "arm": np.array([r["arm"] for r in rows]),
        "segment": np.array([r["segment"] for r in rows]),
        "converted": np.array([float(r["converted"]) for r in rows]),
        "revenue": np.array([float(r["revenue"]) for r in rows]),
        "pre": np.array([float(r["pre"]) for r in rows]),
    }


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("results") / "results.csv")


def test_conversion_matches_statsmodels(data: Path) -> None:
    analysis = analyze(read_results(data), experiment())
    cols = columns(data)
    for result in analysis.segments:
        mask = cols["segment"] == result.segment
        treated = cols["converted"][mask & (cols["arm"] == "personalized")]
        control = cols["converted"][mask & (cols["arm"] == "control")]
        x1, n1, x2, n2 = int(treated.sum()), len(treated), int(control.sum()), len(control)
        c = result.primary
        assert c is not None
        _z, p_value = proportions_ztest([x1, x2], [n1, n2])
        assert c.p_value == pytest.approx(p_value, rel=TOL, abs=1e-15)
        low, high = confint_proportions_2indep(x1, n1, x2, n2, method="wald", compare="diff")
        assert (c.low, c.high) == (pytest.approx(low, abs=TOL), pytest.approx(high, abs=TOL))
        assert c.estimate == pytest.approx(x1 / n1 - x2 / n2, abs=TOL)
        r_low, r_high = confint_proportions_2indep(x1, n1, x2, n2, method="log", compare="ratio")
        assert c.relative_low == pytest.approx(r_low - 1, abs=TOL)
        assert c.relative_high == pytest.approx(r_high - 1, abs=TOL)
    # Holm across the segments, as statsmodels does it.
    raw = [r.primary.p_value for r in analysis.segments if r.primary]
    _reject, holm, _s, _b = multipletests(raw, alpha=0.05, method="holm")
    got = [r.primary.adjusted_p for r in analysis.segments if r.primary]
    assert got == pytest.approx(list(holm), abs=TOL)
    verdicts = {r.segment: r.verdict for r in analysis.segments}
    assert verdicts == {
        "dach": Verdict.FAIL_TO_REJECT,
        "generic": Verdict.FAIL_TO_REJECT,
        "new": Verdict.REJECT,
        "vip": Verdict.REJECT,
    }


def test_srm_matches_scipy_and_passes(data: Path) -> None:
    analysis = analyze(read_results(data), experiment())
    cols = columns(data)
    observed = [int((cols["arm"] == arm).sum()) for arm in ("control", "personalized", "holdout")]
    expected = [sum(observed) * w for w in (0.45, 0.45, 0.1)]
    chi2, p_value = stats.chisquare(observed, expected)
    srm = analysis.overall.srm
    assert srm is not None and srm.passed
    assert srm.chi2 == pytest.approx(chi2, rel=TOL)
    assert srm.p_value == pytest.approx(p_value, rel=TOL)


def test_revenue_matches_scipy_welch(data: Path) -> None:
    analysis = analyze(
        read_results(data), experiment(metric="revenue_per_recipient", revenue_sd=20)
    )
    cols = columns(data)
    for result in analysis.segments:
        mask = cols["segment"] == result.segment
        a = cols["revenue"][mask & (cols["arm"] == "personalized")]
        b = cols["revenue"][mask & (cols["arm"] == "control")]
        test = stats.ttest_ind(a, b, equal_var=False)
        interval = test.confidence_interval(0.95)
        c = result.primary
        assert c is not None
        assert c.p_value == pytest.approx(test.pvalue, rel=TOL)
        assert c.estimate == pytest.approx(a.mean() - b.mean(), abs=TOL)
        assert c.low == pytest.approx(interval.low, abs=TOL)
        assert c.high == pytest.approx(interval.high, abs=TOL)


def test_cuped_matches_numpy_and_scipy(data: Path) -> None:
    analysis = analyze(read_results(data, covariate="pre"), experiment())
    cols = columns(data)
    for result in analysis.segments:
        mask = cols["segment"] == result.segment
        both = mask & np.isin(cols["arm"], ["personalized", "control"])
        x, y = cols["pre"][both], cols["converted"][both]
        theta = np.cov(x, y, ddof=1)[0, 1] / np.var(x, ddof=1)
        adjusted = y - theta * (x - x.mean())
        arms = cols["arm"][both]
        test = stats.ttest_ind(
            adjusted[arms == "personalized"], adjusted[arms == "control"], equal_var=False
        )
        c = result.primary
        assert c is not None and c.cuped_theta == pytest.approx(theta, rel=TOL)
        assert c.p_value == pytest.approx(test.pvalue, rel=TOL)
        interval = test.confidence_interval(0.95)
        assert (c.low, c.high) == (
            pytest.approx(interval.low, abs=TOL),
            pytest.approx(interval.high, abs=TOL),
        )
    plain = analyze(read_results(data), experiment())
    # The covariate explains part of the variance: CUPED intervals are narrower.
    for with_cuped, without in zip(analysis.segments, plain.segments, strict=True):
        assert with_cuped.primary and without.primary
        width = with_cuped.primary.high - with_cuped.primary.low
        assert width < without.primary.high - without.primary.low


@pytest.mark.parametrize("method", [Correction.HOLM, Correction.BH])
def test_corrections_match_statsmodels(method: Correction) -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        p_values = list(rng.random(7) ** 3)
        name = "holm" if method is Correction.HOLM else "fdr_bh"
        _r, expected, _s, _b = multipletests(p_values, method=name)
        assert adjust(p_values, method) == pytest.approx(list(expected), abs=TOL)


def test_sample_ratio_mismatch_blocks_the_verdict(tmp_path: Path) -> None:
    skewed = generate(tmp_path / "srm.csv", weights=(0.40, 0.50, 0.10))
    analysis = analyze(read_results(skewed), experiment())
    srm = analysis.overall.srm
    assert srm is not None and not srm.passed and srm.p_value < 0.001
    assert all(r.verdict is Verdict.NO_VERDICT for r in (*analysis.segments, analysis.overall))
    assert analysis.segments[0].decision.startswith(
        "no verdict for `dach`: sample ratio mismatch in the whole experiment (chi-square p < 0.001"
    )
    cols = columns(skewed)
    observed = [int((cols["arm"] == arm).sum()) for arm in ("control", "personalized", "holdout")]
    chi2, p_value = stats.chisquare(observed, [sum(observed) * w for w in (0.45, 0.45, 0.1)])
    assert srm.chi2 == pytest.approx(chi2, rel=TOL)
    assert srm.p_value == pytest.approx(p_value, rel=TOL, abs=1e-300)


def test_no_effect_fails_to_reject(tmp_path: Path) -> None:
    flat = {name: (rate, 0.0) for name, (rate, _lift) in SEGMENTS.items()}
    path = generate(tmp_path / "flat.csv", seed=11, segments=flat)
    analysis = analyze(read_results(path), experiment())
    assert all(r.verdict is Verdict.FAIL_TO_REJECT for r in analysis.segments)
    text = analysis.segments[0].decision
    assert text.startswith(
        "fail to reject the null hypothesis that personalization does not change conversion "
        "for `dach`: "
    )
    assert "Holm-adjusted p = " in text and "(α = 0.05)" in text


def test_aggregated_counts_give_the_same_figures(data: Path, tmp_path: Path) -> None:
    per_customer = analyze(read_results(data), experiment())
    cols = columns(data)
    aggregated = tmp_path / "counts.csv"
    with aggregated.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["arm", "segment", "customers", "conversions"])
        for arm in ("control", "personalized", "holdout"):
            for segment in SEGMENTS:
                mask = (cols["arm"] == arm) & (cols["segment"] == segment)
                writer.writerow([arm, segment, int(mask.sum()), int(cols["converted"][mask].sum())])
    from_counts = analyze(read_results(aggregated), experiment())
    for one, two in zip(from_counts.segments, per_customer.segments, strict=True):
        assert [(a.arm, a.customers, a.conversions) for a in one.arms] == [
            (a.arm, a.customers, a.conversions) for a in two.arms
        ]
        assert one.primary == two.primary and one.others == two.others
        assert one.decision == two.decision and one.srm == two.srm


def test_parquet_reads_like_csv(data: Path, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with data.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    table = pa.table(
        {
            "customer": [r["customer"] for r in rows],
            "arm": [r["arm"] for r in rows],
            "segment": [r["segment"] for r in rows],
            "converted": [r["converted"] == "1" for r in rows],
            "revenue": [float(r["revenue"]) for r in rows],
        }
    )
    target = tmp_path / "results.parquet"
    pq.write_table(table, target)
    assert (
        analyze(read_results(target), experiment()).to_dict()["segments"]
        == analyze(read_results(data), experiment()).to_dict()["segments"]
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("customer,arm,segment,converted\nC-1,treatment,vip,1\n", "results.csv:2: arm 'treatment'"),
        (
            "customer,arm,segment,converted\nC-1,control,vip,maybe\n",
            "results.csv:2: converted 'maybe'",
        ),
        ("customer,arm,converted\nC-1,control,1\n", "(missing: segment)"),
    ],
)
def test_bad_results_are_usage_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "results.csv"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["analyze", str(path), "--content", str(REPO / "content")])
    assert result.exit_code == 2
    assert message in result.stderr


# ----------------------------------------------------------------------------- the demo


def test_the_demo_results_reproduce(tmp_path: Path) -> None:
    target = tmp_path / "welcome-results.csv"
    subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "experiment_results.py"), "--out", str(target)],
        check=True,
        capture_output=True,
        env={"PYTHONPATH": str(REPO / "src")},
    )
    assert target.read_bytes() == DEMO_RESULTS.read_bytes()


def test_the_demo_analysis() -> None:
    analysis = analyze_file(DEMO_RESULTS, REPO / "content", covariate="pre_revenue")
    verdicts = {r.segment: r.verdict for r in analysis.segments}
    assert verdicts == {
        "new-customer": Verdict.REJECT,
        "deal-seeker": Verdict.REJECT,
        "mobile-first": Verdict.FAIL_TO_REJECT,
        "dach": Verdict.FAIL_TO_REJECT,
        "generic": Verdict.FAIL_TO_REJECT,
    }
    new = next(r for r in analysis.segments if r.segment == "new-customer")
    assert new.roi is not None and new.roi.size == 31000 and new.roi.conversions is not None
    assert new.roi.conversions[1] > 0  # the interval of incremental conversions excludes 0
    text = format_analysis_text(analysis)
    docs = (REPO / "docs" / "experiments.md").read_text(encoding="utf-8")
    for result in analysis.segments:
        assert result.decision in text
        assert result.decision in docs, "docs/experiments.md shows the current demo analysis"


def test_by_atom_and_roi_cost_from_the_build(tmp_path: Path) -> None:
    content = write_tree(
        tmp_path / "content",
        {
            "experiments/t.yaml": "\n".join(
                f"{k}: {json.dumps(v)}" for k, v in BASE_EXPERIMENT.items() if k != "id"
            )
            + "\n"
        },
    )
    build(content, tmp_path / "dist", on=__import__("datetime").date(2026, 11, 22))
    results = tmp_path / "results.csv"
    generate(results, segments={"vip": (0.08, 0.04), "generic": (0.04, 0.0)})
    analysis = analyze_file(results, content, build=tmp_path / "dist", by_atom=True)
    vip = next(r for r in analysis.segments if r.segment == "vip")
    assert vip.roi is not None and vip.roi.atoms == 1
    assert [(a.atom, a.segment, a.verdict) for a in analysis.atoms] == [
        ("headline-vip", "vip", Verdict.REJECT)
    ]
    manifest = Manifest.from_json((tmp_path / "dist" / "manifest.json").read_bytes())
    assert manifest.by_id["welcome/day-0/email/en/vip"].slots["headline"].atom == "headline-vip"
    text = format_analysis_text(analysis)
    assert "atoms of one message are not separately randomized" in text


# ----------------------------------------------------------------------------- output


def test_outputs(data: Path) -> None:
    analysis = analyze(read_results(data), experiment())
    text = format_analysis_text(analysis)
    assert (
        "reject the null hypothesis that personalization does not change conversion for `vip`: +"
        in text
    )
    payload = json.loads(format_analysis_json(analysis))
    assert payload["segments"][0]["primary"]["test"] == "two-proportion z-test"
    markdown = format_analysis_markdown(analysis)
    assert "| `vip` | personalized |" in markdown
    html = format_analysis_html(analysis)
    assert html.count("data:image/png;base64,") == 2
    assert format_analysis_html(analysis) == html, "deterministic"


def test_the_core_imports_without_the_statistics_extra() -> None:
    code = (
        "import sys, atomic_content.cli, atomic_content.experiment_analysis, "
        "atomic_content.experiment_report\n"
        "heavy = {'scipy', 'statsmodels', 'matplotlib', 'pyarrow', 'numpy'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": str(REPO / "src")})


def test_cli_analyze_formats(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = CliRunner().invoke(
        main,
        ["analyze", str(DEMO_RESULTS), "--content", str(REPO / "content"), "--format", "html",
         "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("<!doctype html>")
    result = CliRunner().invoke(
        main, ["analyze", str(DEMO_RESULTS), "--content", str(REPO / "content"), "--format", "json"]
    )
    assert json.loads(result.stdout)["experiment"] == "welcome-personalization"


PLOTS_CHECK = """
(() => Array.from(document.images).map(img => ({
  id: img.id, complete: img.complete, width: img.naturalWidth, height: img.naturalHeight,
})))()
"""


@pytest.mark.chromium
def test_the_html_report_renders_in_chromium(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, data: Path
) -> None:
    from test_chromium import Browser, chromium_path

    executable = chromium_path()
    if executable is None:
        pytest.skip("Chromium is not installed")
    page = tmp_path / "report.html"
    page.write_text(format_analysis_html(analyze(read_results(data), experiment())), "utf-8")
    browser = Browser(executable, tmp_path_factory.mktemp("chromium-profile"))
    try:
        report, images = browser.open(page, PLOTS_CHECK)
    finally:
        browser.stop()
    assert report.loaded and report.errors == []
    assert report.requests == [], "the report loads nothing from the network"
    assert [image["id"] for image in images] == ["lift-plot", "timeline-plot"]
    for image in images:
        assert image["complete"] and image["width"] >= 600 and image["height"] > 100


def test_arm_kinds_cover_the_report_order() -> None:
    assert [arm.value for arm in ArmKind] == ["control", "personalized", "holdout"]


def test_coverage_ranks_gaps_by_measured_lift(tmp_path: Path) -> None:
    content = str(REPO / "content")
    analysis_json = tmp_path / "analysis.json"
    result = CliRunner().invoke(
        main,
        ["analyze", str(DEMO_RESULTS), "--content", content, "--format", "json",
         "--out", str(analysis_json)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    analysis = json.loads(analysis_json.read_text())
    lifts = {s["segment"]: s["primary"]["lift"] for s in analysis["segments"]}
    args = ["coverage", "--content", content, "--date", "2026-11-22", "--journey", "welcome",
            "--fail-on", "never", "--format", "json"]  # fmt: skip
    plain = json.loads(CliRunner().invoke(main, args).stdout)
    measured = json.loads(
        CliRunner().invoke(main, [*args, "--analysis", str(analysis_json)]).stdout
    )
    segments = {s["id"]: s for s in measured["segments"]}
    assert segments["new-customer"]["value_source"] == "measured"
    assert segments["new-customer"]["value"] == pytest.approx(lifts["new-customer"] * 9.5)
    assert segments["mobile-first"]["value"] == 0.0  # measured: no gain
    assert {s["value_source"] for s in plain["segments"]} == {"segment"}
    for gap in measured["gaps"]:
        assert gap["value_source"] == segments[gap["segment"]]["value_source"]
    table = CliRunner().invoke(main, [*args[:-2], "--analysis", str(analysis_json)]).stdout
    assert "ranked by measured lift (experiment analysis): " in table


CELL = st.one_of(
    st.sampled_from(["control", "personalized", "holdout", "1", "0", "true", "", "x", "1e400"]),
    st.text(max_size=8),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(st.lists(CELL, min_size=4, max_size=4), max_size=6))
def test_any_results_file_is_read_or_refused_with_a_usage_error(
    tmp_path: Path, rows: list[list[str]]
) -> None:
    from atomic_content.errors import UsageError

    path = tmp_path / "results.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer", "arm", "segment", "converted"])
        writer.writerows(rows)
    try:
        results = read_results(path)
    except UsageError as exc:
        assert exc.message
        return
    assert len(results.rows) == len(rows)
    with contextlib.suppress(UsageError):  # e.g. an arm the experiment does not have
        analyze(results, experiment())
