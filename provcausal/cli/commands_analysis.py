"""``attribute`` and ``anomalies``: the causal questions."""

from __future__ import annotations

import click

from provcausal.cli.output import emit, json_option, table_text

QUALITY = click.Choice(["fast", "good", "better"])
METRIC = click.Choice(["value", "duration", "latency"])


def _attribution_text(result, show_graph: bool) -> str:
    lines = [
        f"workflow {result.workflow!r}: which node explains the change of {result.target!r} "
        f"({result.metric})?",
        f"baseline {result.baseline_samples} samples, comparison {result.comparison_samples} "
        f"samples; {len(result.graph)} nodes, quality {result.quality}, seed {result.seed}",
        "",
        table_text(
            result.table[
                ["label", "score", "ci_low", "ci_high", "top_frequency", "changed"]
            ].rename(columns={"label": "node"})
        ),
        "",
        result.verdict,
    ]
    lines += [f"note: {n}" for n in result.notes]
    if show_graph:
        lines.append("graph used (cause -> effect):")
        lines += [f"  {a} -> {b}" for a, b in sorted(result.graph.edges)]
    for other in result.also:
        lines += ["", _attribution_text(other, False)]
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
    ax.barh(table["label"], table["score"], xerr=[low, high], color="#4C72B0", capsize=3)
    ax.set_xlabel(f"contribution to the change of {result.target} ({result.metric})")
    import textwrap

    ax.set_title("\n".join(textwrap.wrap(f"{result.workflow}: {result.verdict}", 90)), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


@click.command("attribute")
@click.option("--workflow", "-w", required=True, metavar="NAME", help="The workflow.")
@click.option(
    "--baseline",
    "-b",
    required=True,
    metavar="SEL",
    help="Baseline runs: a label, comma-separated labels or run ids, or T1..T2.",
)
@click.option(
    "--comparison",
    "-c",
    required=True,
    metavar="SEL",
    help="Comparison runs, selected like --baseline.",
)
@click.option(
    "--target",
    "-t",
    metavar="NODE",
    help="Default: the declared output (a Seldon pipeline's outputs), else the single sink; "
    "with several sinks, each sink whose distribution changed.",
)
@click.option(
    "--metric",
    "-m",
    type=METRIC,
    help="value (node outputs), duration (own time) or latency (from sample start). "
    "Default: value when nodes have values, else latency.",
)
@click.option(
    "--quality",
    type=QUALITY,
    default="fast",
    show_default=True,
    help="Mechanism model selection: fast, or gcm.auto's good / better.",
)
@click.option(
    "--repeats",
    type=click.IntRange(0, 1000),
    help="Bootstrap resamples of both sets (default 20 for fast).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--jobs", type=click.IntRange(1, 64), help="Processes (default: up to 2).")
@click.option("--show-graph", is_flag=True, help="Also print the graph's edges.")
@click.option(
    "--plot",
    type=click.Path(dir_okay=False),
    metavar="FILE.png",
    help="Write a bar chart of scores with their intervals.",
)
@json_option
@click.pass_obj
def attribute_cmd(
    app,
    workflow,
    baseline,
    comparison,
    target,
    metric,
    quality,
    repeats,
    seed,
    jobs,
    show_graph,
    plot,
    as_json,
):
    """Rank the nodes by how much of the change of the target's distribution between the
    baseline and comparison runs they account for (Paleyes et al., EuroMLSys 2023)."""
    import sys

    from provcausal.analysis import attribute

    bar = None
    if not app.quiet and sys.stderr.isatty():

        def bar(done, total):
            click.echo(f"\rattributing: {done}/{total} repeats", err=True, nl=done == total)

    result = attribute(
        app.store(),
        workflow,
        baseline,
        comparison,
        target=target,
        metric=metric,
        quality=quality,
        repeats=repeats,
        seed=seed,
        n_jobs=jobs,
        progress=bar,
    )
    if plot:
        _plot(result, plot)
    emit(result.to_dict(), as_json, text=_attribution_text(result, show_graph))


@click.command("anomalies")
@click.option("--workflow", "-w", required=True, metavar="NAME", help="The workflow.")
@click.option(
    "--sample",
    "-s",
    required=True,
    metavar="ID",
    help="The bad sample: RUN/SAMPLE, a run id, a Seldon request id, line-N.",
)
@click.option(
    "--baseline", "-b", metavar="SEL", help="Normal runs to learn from (default: every other run)."
)
@click.option("--target", "-t", metavar="NODE", help="Default: the workflow's single sink.")
@click.option("--metric", "-m", type=METRIC, help="As for attribute.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@json_option
@click.pass_obj
def anomalies_cmd(app, workflow, sample, baseline, target, metric, seed, as_json):
    """Rank the nodes by their contribution to one sample's anomalous target value
    (gcm.attribute_anomalies, fitted on the baseline)."""
    from provcausal.analysis import anomalies

    table = anomalies(
        app.store(), workflow, sample, baseline=baseline, target=target, metric=metric, seed=seed
    )
    doc = {**table.attrs, "attributions": table.to_dict(orient="records")}
    text = (
        f"sample {table.attrs['sample']}: contributions to its {table.attrs['target']} "
        f"({table.attrs['metric']})\n" + table_text(table)
    )
    emit(doc, as_json, text=text)


def register(group: click.Group) -> None:
    group.add_command(attribute_cmd)
    group.add_command(anomalies_cmd)
