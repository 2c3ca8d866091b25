"""``atomic experiments plan`` (power before launch) and ``atomic analyze`` (results)."""

from __future__ import annotations

from pathlib import Path

import click

from . import LazyHelpOption, content_option, force_option, main, output_file


def _srm_help() -> str:
    from ..experiment_analysis import SRM_ALPHA

    return (
        "Sample-ratio-mismatch threshold: a chi-square p-value below it blocks the verdict.  "
        f"[default: {SRM_ALPHA}]"
    )


@main.group()
def experiments() -> None:
    """Experiments: plan their power before launch (docs/experiments.md)."""


@experiments.command("plan")
@content_option
@click.option("--experiment", "experiment_id", help="Experiment id (default: every experiment).")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.pass_context
def plan_command(ctx: click.Context, content: Path, experiment_id: str | None, fmt: str) -> None:
    """Sample size per arm and expected duration per segment, from each segment's baseline
    rate, the experiment's α, power and minimum detectable effect."""
    from ..experiment_report import format_power_text
    from ..experiments import plan_experiments

    ctx.meta["content_root"] = content
    plans = plan_experiments(content, experiment_id)
    if fmt == "json":
        import json

        click.echo(json.dumps([p.to_dict() for p in plans], indent=2, ensure_ascii=False))
    else:
        click.echo(format_power_text(plans), nl=False)


@main.command()
@click.argument("results", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@content_option
@click.option("--experiment", "experiment_id", help="Experiment id (default: the only one).")
@click.option("--covariate", metavar="COLUMN", help="Pre-period covariate column for CUPED.")
@click.option(
    "--build",
    type=click.Path(path_type=Path, exists=True),
    help="A build (dist folder or manifest.json): cost side of the ROI and --by atom.",
)
@click.option(
    "--by", "by", type=click.Choice(["segment", "atom"]), default="segment", show_default=True
)
@click.option(
    "--srm-alpha",
    type=click.FloatRange(min=0, max=1, min_open=True, max_open=True),
    cls=LazyHelpOption,
    help_factory=_srm_help,
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown", "html"]),
    default="text",
    show_default=True,
)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Write to this file.")
@force_option
@click.pass_context
def analyze(
    ctx: click.Context, results: Path, content: Path, experiment_id: str | None,
    covariate: str | None, build: Path | None, by: str, srm_alpha: float | None, fmt: str,
    out: Path | None, force: bool,
) -> None:  # fmt: skip
    """Analyze an experiment's RESULTS (CSV or Parquet) against its pre-registered hypothesis:
    per arm and segment, lift with confidence intervals, p-values, SRM check, correction across
    segments, CUPED and a decision in plain words."""
    from ..experiment_analysis import SRM_ALPHA, analyze_file
    from ..experiment_report import (
        format_analysis_html,
        format_analysis_json,
        format_analysis_markdown,
        format_analysis_text,
    )

    ctx.meta["content_root"] = content
    target = (
        output_file(
            out, force, ("content folder", content), ("results file", results), ("build", build)
        )
        if out is not None
        else None
    )
    analysis = analyze_file(
        results, content, experiment_id=experiment_id, covariate=covariate, build=build,
        by_atom=by == "atom", srm_alpha=SRM_ALPHA if srm_alpha is None else srm_alpha,
    )  # fmt: skip
    formatters = {
        "text": format_analysis_text,
        "json": format_analysis_json,
        "markdown": format_analysis_markdown,
        "html": format_analysis_html,
    }
    output = formatters[fmt](analysis)
    if target is not None:
        target.write(output)
        click.echo(f"wrote {target.path.as_posix()}", err=True)
    else:
        click.echo(output, nl=False)
