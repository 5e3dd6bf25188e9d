"""``attribute`` and ``anomalies``: the causal questions."""

from __future__ import annotations

import shlex
import warnings

import click

from provcausal.cli.imports import heavy_imports
from provcausal.cli.outfiles import refuse_store_files, save_figure, write_report_file
from provcausal.cli.output import (
    Bar,
    emit,
    json_option,
    output_file_option,
    plot_text,
    shown,
    table_text,
)
from provcausal.cli.params import NAME, SEED
from provcausal.errors import BadInputError

QUALITY = click.Choice(["fast", "good", "better"])
METRIC = click.Choice(["value", "duration", "latency"])


LEGEND = (
    "score: the node's share of the change of {target} (0 = none); ci_low..ci_high: its 95% "
    "range over resamples; changed: the node's output given its inputs differs between the sets"
)


def _attribution_table(result):
    table = result.table.merge(result.medians(), on="node", how="left")
    return table[
        ["label", "score", "ci_low", "ci_high", "baseline_median", "comparison_median", "changed"]
    ].rename(
        columns={
            "label": "node",
            "baseline_median": "median_before",
            "comparison_median": "median_after",
        }
    )


NOISE = (
    "no shift: these scores split a change that is not there; they are noise, not evidence "
    "against any node"
)


def _shift_lines(result) -> list[str]:
    """``shift: …`` (the test's answer), and the noise mark when it found no change."""
    from provcausal.analysis.verdict import shift_text

    if result.shift is None:
        return []
    target = result.node_labels.get(result.target, result.target)
    lines = [f"shift: {shown(shift_text(result.shift, target))}"]
    return [*lines, f"scores: {NOISE}"] if result.scores_are_noise else lines


def _attribution_text(result, show_graph: bool, written: list[str]) -> str:
    target = result.table.set_index("node")["label"].get(result.target, result.target)
    lines = [
        f"workflow {result.workflow!r}: which node explains the change of {target!r} "
        f"({result.metric})?",
        f"baseline ({result.baseline_selection}) {result.baseline_samples} samples, comparison "
        f"({result.comparison_selection}) {result.comparison_samples} samples; "
        f"{len(result.graph)} nodes, quality {result.quality}, seed {result.seed}",
        "",
        table_text(_attribution_table(result)),
        LEGEND.format(target=shown(target)),
        "",
        *_shift_lines(result),
        f"verdict: {shown(result.verdict)}",
    ]
    from provcausal.analysis.report import readable_note

    lines += [f"note: {shown(readable_note(n, result.node_labels))}" for n in result.notes]
    lines += [f"wrote {path}" for path in written]
    if show_graph:
        lines.append("graph used (cause -> effect):")
        lines += [f"  {shown(a)} -> {shown(b)}" for a, b in sorted(result.graph.edges)]
    for other in result.also:
        lines += ["", _attribution_text(other, False, [])]
    return "\n".join(lines)


def _plot(result, path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        from provcausal.errors import MissingDependencyError

        raise MissingDependencyError(
            "--plot needs matplotlib: pip install 'provcausal[plot]'"
        ) from None
    table = result.table.iloc[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(table) + 1.5))
    low = (table["score"] - table["ci_low"]).clip(lower=0)
    high = (table["ci_high"] - table["score"]).clip(lower=0)
    # Names are text, never TeX ($…$) and never merged categories: one bar per row.
    rows = range(len(table))
    ax.barh(rows, table["score"], xerr=[low, high], color="#4C72B0", capsize=3)
    ax.set_yticks(rows, [plot_text(label) for label in table["label"]])
    ax.set_xlabel(plot_text(f"contribution to the change of {result.target} ({result.metric})"))
    import textwrap

    title = textwrap.wrap(plot_text(f"{result.workflow}: {result.verdict}"), 90)
    ax.set_title("\n".join(title), fontsize=8)
    for text in [*ax.get_yticklabels(), ax.title, ax.xaxis.label]:
        text.set_parse_math(False)
    fig.tight_layout()
    try:
        with warnings.catch_warnings():  # a name in a script the font lacks: drawn as a box
            warnings.filterwarnings("ignore", message="Glyph .* missing from")
            save_figure(fig, path, dpi=120)
    except ValueError as exc:  # an extension matplotlib cannot write
        raise BadInputError(str(exc), path=path) from None
    finally:
        plt.close(fig)


def _attribute_options(func):
    """The options ``attribute`` and ``report`` share."""
    options = [
        click.option(
            "--workflow", "-w", type=NAME, required=True, metavar="NAME", help="The workflow."
        ),
        click.option(
            "--baseline",
            "-b",
            required=True,
            metavar="SEL",
            help="Baseline runs: a label, comma-separated labels or run ids, T1..T2, or "
            "FIELD=VALUE[&FIELD=VALUE…] on the workflow document (campaign_id=c1, "
            "used.mode=faulty).",
        ),
        click.option(
            "--comparison",
            "-c",
            required=True,
            metavar="SEL",
            help="Comparison runs, selected like --baseline.",
        ),
        click.option(
            "--target",
            "-t",
            metavar="NODE",
            help="Default: the declared output (a Seldon pipeline's outputs), else the single "
            "sink; with several sinks, each sink whose distribution changed.",
        ),
        click.option(
            "--metric",
            "-m",
            type=METRIC,
            help="value (node outputs), duration (own time) or latency (from sample start). "
            "Default: value when nodes have values, else latency.",
        ),
        click.option(
            "--quality",
            type=QUALITY,
            default="fast",
            show_default=True,
            help="Mechanism model selection: fast, or gcm.auto's good / better.",
        ),
        click.option(
            "--repeats",
            type=click.IntRange(0, 1000),
            help="Bootstrap resamples of both sets (default 20 for fast).",
        ),
        click.option("--seed", type=SEED, default=0, show_default=True, help="Random seed."),
        click.option("--jobs", type=click.IntRange(1, 64), help="Processes (default: up to 2)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _run_attribution(app, args: dict):
    with heavy_imports():
        from provcausal.analysis import attribute

    with Bar("attributing", app.quiet) as bar:
        return attribute(
            app.store(),
            args["workflow"],
            args["baseline"],
            args["comparison"],
            target=args["target"],
            metric=args["metric"],
            quality=args["quality"],
            repeats=args["repeats"],
            seed=args["seed"],
            n_jobs=args["jobs"],
            progress=bar,
        )


def reproduce_command(app, args: dict, report: str) -> str:
    """The ``provcausal report`` command line that writes the same page again."""
    words = ["provcausal"]
    if app.store_uri_given:
        words += ["--store", app.redact(app.store_uri)]
    words += ["report"]
    for key in ("workflow", "baseline", "comparison", "target", "metric"):
        if args.get(key):
            words += [f"--{key}", str(args[key])]
    words += ["--quality", args["quality"], "--seed", str(args["seed"])]
    if args.get("repeats") is not None:
        words += ["--repeats", str(args["repeats"])]
    return shlex.join([*words, "-o", report])


def _write_report(app, result, args: dict, path: str) -> str:
    try:
        write_report_file(result, path, reproduce_command(app, args, path))
    except OSError as exc:
        raise BadInputError(f"cannot write the report: {exc.strerror}", path=path) from None
    return path


@click.command("attribute")
@_attribute_options
@click.option("--show-graph", is_flag=True, help="Also print the graph's edges.")
@click.option(
    "--plot",
    type=click.Path(dir_okay=False),
    metavar="FILE.png",
    help="Write a bar chart of scores with their intervals.",
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False),
    metavar="FILE.html",
    help="Also write the report page (as `provcausal report` does).",
)
@json_option
@click.pass_obj
def attribute_cmd(app, show_graph, plot, report, as_json, **args):
    """Rank the nodes by how much of the change of the target's distribution between the
    baseline and comparison runs they account for (Paleyes et al., EuroMLSys 2023)."""
    refuse_store_files(app.store_uri, plot=plot, report=report)
    result = _run_attribution(app, args)
    written = []
    if plot:
        _plot(result, plot)
        written.append(plot)
    if report:
        written.append(_write_report(app, result, args, report))
    emit(
        {**result.to_dict(), "written": written},
        as_json,
        text=_attribution_text(result, show_graph, written),
    )


@click.command("report")
@_attribute_options
@output_file_option("The page to write.", metavar="FILE.html")
@json_option
@click.pass_obj
def report_cmd(app, output, as_json, **args):
    """Write one self-contained HTML page (no network needed to view it) that explains the
    attribution: verdict, graph coloured by score, scores with intervals, before/after
    distributions, what was left out, and the command that reproduces it."""
    refuse_store_files(app.store_uri, output=output)
    result = _run_attribution(app, args)
    _write_report(app, result, args, output)
    shift = result.shift.to_dict() if result.shift is not None else None
    emit(
        {
            "written": [output],
            "verdict": result.verdict,
            "shift": shift,
            "scores_are_noise": result.scores_are_noise,
        },
        as_json,
        text="\n".join(
            [*_shift_lines(result), f"verdict: {shown(result.verdict)}", f"wrote {shown(output)}"]
        ),
    )


ANOMALY_LEGEND = (
    "score: the node's share of how unusual the sample's {target} is; negative: the node made "
    "it look more normal; the row of {target} itself: the part its own inputs do not explain"
)


@click.command("anomalies")
@click.option("--workflow", "-w", type=NAME, required=True, metavar="NAME", help="The workflow.")
@click.option(
    "--sample",
    "-s",
    required=True,
    metavar="ID",
    help="The bad sample: RUN/SAMPLE, a run id, a Seldon request id, line-N.",
)
@click.option(
    "--baseline",
    "-b",
    metavar="SEL",
    help="Normal runs to learn from (the sample's own run is always left out). Default: runs "
    "labelled normal, else runs whose label differs from the sample's, else all other runs.",
)
@click.option(
    "--target",
    "-t",
    metavar="NODE",
    help="Default: the declared output (a Seldon pipeline's), else the single sink.",
)
@click.option("--metric", "-m", type=METRIC, help="As for attribute.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Random seed.")
@json_option
@click.pass_obj
def anomalies_cmd(app, workflow, sample, baseline, target, metric, seed, as_json):
    """Rank the nodes by their contribution to one sample's anomalous target value
    (gcm.attribute_anomalies, fitted on the baseline)."""
    with heavy_imports():
        from provcausal.analysis import anomalies

    with Bar("fitting", app.quiet) as bar:
        table = anomalies(
            app.store(),
            workflow,
            sample,
            baseline=baseline,
            target=target,
            metric=metric,
            seed=seed,
            progress=bar,
        )
    attrs = table.attrs
    doc = {**attrs, "attributions": table.to_dict(orient="records")}
    text = "\n".join(
        [
            f"sample {shown(attrs['sample'])}: contributions to its {shown(attrs['target'])} "
            f"({attrs['metric']})",
            f"baseline: {attrs['baseline']}: {attrs['baseline_runs']} runs, "
            f"{attrs['baseline_samples']} samples",
            "",
            table_text(table),
            ANOMALY_LEGEND.format(target=shown(attrs["target"])),
            "",
            f"verdict: {shown(attrs['verdict'])}",
        ]
    )
    emit(doc, as_json, text=text)


def register(group: click.Group) -> None:
    group.add_command(attribute_cmd)
    group.add_command(report_cmd)
    group.add_command(anomalies_cmd)
