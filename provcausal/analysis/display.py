"""How analysis and query results show themselves in a notebook.

Jupyter calls ``_repr_html_`` on the value of a cell; the result classes
(:class:`~provcausal.analysis.attribution.Attribution` and the types in
:mod:`provcausal.results`) delegate to the functions here. The figures are the report page's
own (:mod:`provcausal.analysis.report`: the graph coloured by score, the score bars with their
intervals), so a notebook and the page shared with colleagues show the same picture. The HTML
is a fragment with a style block scoped to ``.provcausal``: no script, nothing loaded.
"""

from __future__ import annotations

import html
import math
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from provcausal.analysis.attribution import Attribution

__all__ = [
    "attribution_html",
    "attribution_repr",
    "attribution_frame",
    "attribution_axes",
    "attribution_report",
    "reproduce_command",
    "anomaly_html",
    "listing_html",
    "lineage_html",
    "causal_graph_html",
]

#: A lineage with more tasks and entities than this is listed, not drawn.
MAX_DRAWN = 150

#: Scoped to the fragment's own ``div`` so a notebook's page keeps its look.
_CSS = """<style>
.provcausal{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;
color:#1d2330;line-height:1.4;max-width:980px}
.provcausal .verdict{font-size:1.1rem;background:#fff4e8;border-left:6px solid #e07b24;
padding:.5rem .8rem;margin:.4rem 0}
.provcausal .sub{color:#5b6475;margin:.2rem 0}
.provcausal table.scores{border-collapse:collapse;margin:.4rem 0}
.provcausal table.scores th,.provcausal table.scores td{padding:.2rem .5rem;text-align:left;
border:none}
.provcausal table.scores tr+tr{border-top:1px solid #e3e6eb}
.provcausal table.scores td.n{text-align:right;font-variant-numeric:tabular-nums}
.provcausal .graph text{font-size:12px}
.provcausal ul.notes{color:#5b6475;margin:.2rem 0}
</style>"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _shift_text(shift: Any) -> str:
    """A ``shift`` (however the analysis describes it) as one line of text."""
    if isinstance(shift, dict):
        return "; ".join(f"{k}: {v}" for k, v in shift.items())
    to_dict = getattr(shift, "to_dict", None)
    if callable(to_dict) and not isinstance(shift, (pd.DataFrame, pd.Series)):
        try:
            return _shift_text(to_dict())
        except Exception:  # noqa: BLE001 - a display never fails on an odd value
            pass
    return str(shift)


def attribution_html(result: Attribution) -> str:
    """The rich display of an attribution: verdict, graph coloured by score, the scores with
    their intervals as bars, the other changed outputs and the notes."""
    from provcausal.analysis import report

    medians = result.medians().set_index("node")
    scores = dict(zip(result.table["node"], result.table["score"].astype(float), strict=False))
    labels = dict(zip(result.table["node"], result.table["label"].astype(str), strict=False))
    names = {**result.node_labels, **labels}
    target = labels.get(result.target, result.target)
    shift = getattr(result, "shift", None)
    parts = [
        _CSS,
        '<div class="provcausal attribution">',
        f'<p class="sub">Workflow <b>{_e(result.workflow)}</b>: which node changed '
        f"<b>{_e(target)}</b> ({_e(result.metric)})? {result.baseline_samples} samples before "
        f"({_e(result.baseline_selection or 'baseline')}), {result.comparison_samples} after "
        f"({_e(result.comparison_selection or 'comparison')}); quality {_e(result.quality)}, "
        f"seed {result.seed}, {result.seconds:.1f} s.</p>",
        f'<p class="verdict">{_e(result.verdict)}</p>',
    ]
    if shift is not None:
        parts.append(f'<p class="sub shift">shift: {_e(_shift_text(shift))}</p>')
    parts += [
        report.graph_svg(result.graph, scores, labels, result.target),
        '<table class="scores"><tr><th>node</th><th>score</th><th>share and interval</th>'
        "<th>interval</th><th>median before</th><th>median after</th><th>changed</th></tr>",
        report._score_rows(result, medians),
        "</table>",
        report._others(result).replace("<h2>", "<p><b>").replace("</h2>", "</b></p>"),
    ]
    if result.notes:
        notes = "".join(f"<li>{_e(report.readable_note(n, names))}</li>" for n in result.notes)
        parts.append(f'<ul class="notes">{notes}</ul>')
    parts.append("</div>")
    return "".join(parts)


def attribution_repr(result: Attribution) -> str:
    """One line: what was analysed and the verdict (the tables stay out of ``repr``)."""
    verdict = result.verdict if len(result.verdict) <= 90 else result.verdict[:89] + "…"
    target = result.node_labels.get(result.target, result.target)
    return (
        f"<Attribution {result.workflow}/{target} ({result.metric}): "
        f"{result.baseline_samples} vs {result.comparison_samples} samples, "
        f"{len(result.table)} nodes; {verdict}>"
    )


def attribution_frame(result: Attribution) -> pd.DataFrame:
    """The scores table with each node's baseline and comparison medians, one row per node."""
    return result.table.merge(result.medians(), on="node", how="left")


def attribution_axes(result: Attribution, ax: Axes | None = None) -> Axes:
    """The scores as horizontal bars with their intervals as error bars, on ``ax`` (a new
    figure when ``None``); returns the axes (``matplotlib`` is needed: ``provcausal[plot]``)."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        from provcausal.errors import MissingDependencyError

        raise MissingDependencyError(
            "plot() needs matplotlib: pip install 'provcausal[plot]'"
        ) from None
    table = result.table.iloc[::-1]
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.4 * len(table) + 1.5))
    low = (table["score"] - table["ci_low"]).clip(lower=0)
    high = (table["ci_high"] - table["score"]).clip(lower=0)
    ax.barh(table["label"].astype(str), table["score"], xerr=[low, high], color="#e07b24")
    ax.set_xlabel(f"share of the change of {result.target} ({result.metric})")
    ax.set_title(f"{result.workflow}: {result.target}", fontsize=10)
    return ax


def reproduce_command(result: Attribution, store_uri: str | None = None) -> str:
    """The ``provcausal report`` command line that writes the same page again."""
    words = ["provcausal"]
    if store_uri:
        words += ["--store", store_uri]
    words += ["report", "--workflow", result.workflow]
    words += ["--baseline", result.baseline_selection or "?"]
    words += ["--comparison", result.comparison_selection or "?"]
    words += ["--target", result.target, "--metric", result.metric]
    words += ["--quality", result.quality, "--seed", str(result.seed)]
    return shlex.join(words)


def attribution_report(result: Attribution, path: str | Path, command: str | None = None) -> Path:
    """Write the report page (:mod:`provcausal.analysis.report`) to ``path``; ``command`` is
    shown as the way to reproduce it (default: the equivalent ``provcausal report`` line)."""
    from provcausal.analysis.report import write_report

    if command is None:
        command = reproduce_command(result, getattr(result, "store_uri", None))
        command += " -o " + shlex.quote(str(path))
    return write_report(result, path, command)


def _num(value: Any) -> str:
    from provcausal.analysis.report import _num as number

    try:
        return number(float(value))
    except (TypeError, ValueError):
        return _e(value)


def anomaly_html(table: pd.DataFrame) -> str:
    """An anomaly result: its verdict, what it was compared with, and the scores as bars."""
    from provcausal.analysis.report import _interval_svg

    attrs = table.attrs
    top = float(table["score"].abs().max()) if len(table) else 0.0
    rows = "".join(
        f'<tr><td>{_e(r.label)}</td><td class="n">{_num(r.score)}</td>'
        f"<td>{_interval_svg(float(r.score), math.nan, math.nan, top)}</td>"
        f'<td class="n">{_num(r.value)}</td><td class="n">{_num(r.baseline_median)}</td></tr>'
        for r in table.itertuples(index=False)
    )
    return (
        f'{_CSS}<div class="provcausal anomaly"><p class="sub">Sample '
        f"<b>{_e(attrs.get('sample', '?'))}</b> of {_e(attrs.get('workflow', '?'))}: why is its "
        f"{_e(attrs.get('target', '?'))} ({_e(attrs.get('metric', '?'))}) unusual? Normal "
        f"behaviour learnt from {attrs.get('baseline_samples', '?')} samples: "
        f"{_e(attrs.get('baseline', '?'))}.</p>"
        f'<p class="verdict">{_e(attrs.get("verdict", ""))}</p>'
        '<table class="scores"><tr><th>node</th><th>score</th><th>share</th>'
        f"<th>value</th><th>baseline median</th></tr>{rows}</table></div>"
    )


def listing_html(title: str, table_html: str) -> str:
    """A listing (runs, workflows, tasks, nodes): a one-line caption over pandas' own table."""
    return f'{_CSS}<div class="provcausal listing"><p class="sub">{_e(title)}</p>{table_html}</div>'


def lineage_html(graph: nx.DiGraph, table_html: str) -> str:
    """A lineage: the walked graph (tasks and entities, cause → effect) over its table."""
    from provcausal.analysis.report import graph_svg

    root = str(graph.graph.get("root", ""))
    labels = {
        n: f"{d.get('label', n)}" + ("" if d.get("kind") == "task" else " (data)")
        for n, d in graph.nodes(data=True)
    }
    drawable = 0 < graph.number_of_nodes() <= MAX_DRAWN and nx.is_directed_acyclic_graph(graph)
    picture = graph_svg(graph, {}, labels, root) if drawable else ""
    direction = graph.graph.get("direction", "upstream")
    return (
        f'{_CSS}<div class="provcausal lineage"><p class="sub">{direction.capitalize()} '
        f"lineage of <b>{_e(root)}</b>: {graph.number_of_nodes()} tasks and entities, "
        f"{graph.number_of_edges()} links (cause → effect; the dashed box is the start).</p>"
        f"{picture}{table_html}</div>"
    )


def causal_graph_html(graph: nx.DiGraph, labels: dict[str, str]) -> str:
    """A derived causal graph: the picture, and what was contracted or cut to get it."""
    from provcausal.analysis.report import graph_svg

    sinks = [n for n in graph.nodes if graph.out_degree(n) == 0]
    names = {str(n): labels.get(str(n), str(n)) for n in graph.nodes}
    picture = graph_svg(graph, {}, names, sinks[0] if len(sinks) == 1 else "")
    notes = [
        f"contracted {n} ({why})" for n, why in sorted(graph.graph.get("contracted", {}).items())
    ]
    notes += [f"cut edge {c['from']} -> {c['to']} ({c['why']})" for c in graph.graph.get("cut", [])]
    items = "".join(f"<li>{_e(n)}</li>" for n in notes)
    return (
        f'{_CSS}<div class="provcausal causal-graph"><p class="sub">Causal graph derived from '
        f"the lineage: {graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges "
        f"(cause → effect).</p>{picture}"
        + (f'<ul class="notes">{items}</ul>' if items else "")
        + "</div>"
    )
