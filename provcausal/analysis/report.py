"""The attribution report: one self-contained HTML page for people who never met Shapley values.

The page holds the verdict, the causal graph with each node coloured by its score, the scores
with their intervals, small before/after distribution plots of the top nodes and the target,
what the analysis contracted or dropped and why, and the command that reproduces it. Everything
is inline (HTML, CSS, SVG drawn here): no script, no font, no network request, so it opens the
same from an e-mail attachment, an air-gapped machine or a CI artifact.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np
import pandas as pd

if TYPE_CHECKING:  # annotations only: attribution's display methods import this module
    from provcausal.analysis.attribution import Attribution

__all__ = [
    "report_html",
    "write_report",
    "plain_summary",
    "graph_svg",
    "distribution_svg",
    "readable_note",
]

BLUE, ORANGE, GREY = "#3b6ea8", "#e07b24", "#8a94a3"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _num(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _heat(score: float, top: float) -> str:
    """White (no share) to deep orange (the largest share): the node colour in the graph."""
    share = 0.0 if top <= 0 or not math.isfinite(score) else max(0.0, min(1.0, score / top))
    r, g, b = (255 + (c - 255) * share for c in (224, 123, 36))
    return f"#{int(r):02x}{int(g):02x}{int(b):02x}"


def _layers(graph: nx.DiGraph) -> dict[str, int]:
    """Column of each node: the length of the longest path reaching it (sources at 0)."""
    depth: dict[str, int] = {}
    for node in nx.topological_sort(graph):
        preds = list(graph.predecessors(node))
        depth[node] = 1 + max(depth[p] for p in preds) if preds else 0
    return depth


def graph_svg(
    graph: nx.DiGraph, scores: dict[str, float], labels: dict[str, str], target: str
) -> str:
    """The causal graph, left to right, nodes filled by score; laid out here (no Graphviz)."""
    depth = _layers(graph)
    columns: dict[int, list[str]] = {}
    for node in sorted(graph.nodes, key=lambda n: (depth[n], labels.get(n, n))):
        columns.setdefault(depth[node], []).append(node)
    box_w, box_h, gap_x, gap_y, pad = 120, 34, 60, 18, 16
    rows = max(len(c) for c in columns.values()) if columns else 1
    width = pad * 2 + len(columns) * box_w + (len(columns) - 1) * gap_x
    height = pad * 2 + rows * box_h + (rows - 1) * gap_y
    pos: dict[str, tuple[float, float]] = {}
    for col, nodes in columns.items():
        offset = (height - (len(nodes) * box_h + (len(nodes) - 1) * gap_y)) / 2
        for i, node in enumerate(nodes):
            pos[node] = (pad + col * (box_w + gap_x), offset + i * (box_h + gap_y))
    top = max([s for s in scores.values() if math.isfinite(s)] + [0.0])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" role="img" '
        f'aria-label="causal graph" width="{width}" height="{height}" '
        'style="max-width:100%;height:auto" '
        f'viewBox="0 0 {width} {height}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        f'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{GREY}"/>'
        "</marker></defs>",
    ]
    for a, b in sorted(graph.edges):
        (x1, y1), (x2, y2) = pos[a], pos[b]
        parts.append(
            f'<line x1="{x1 + box_w:.0f}" y1="{y1 + box_h / 2:.0f}" x2="{x2:.0f}" '
            f'y2="{y2 + box_h / 2:.0f}" stroke="{GREY}" stroke-width="1.3" '
            'marker-end="url(#arrow)"/>'
        )
    for node, (x, y) in sorted(pos.items()):
        score = scores.get(node, 0.0)
        name = labels.get(node, node)
        shown = name if len(name) <= 16 else name[:15] + "…"
        stroke = "#222" if node == target else "#556"
        dash = ' stroke-dasharray="4 2"' if node == target else ""
        parts.append(
            f'<g class="node"><title>{_e(name)}: score {_num(score)}</title>'
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{box_w}" height="{box_h}" rx="7" '
            f'fill="{_heat(score, top)}" stroke="{stroke}"{dash}/>'
            f'<text x="{x + box_w / 2:.0f}" y="{y + box_h / 2 + 4:.0f}" '
            f'text-anchor="middle">{_e(shown)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def distribution_svg(before: Sequence[float], after: Sequence[float], width: int = 260) -> str:
    """Two overlaid histograms on shared bins: baseline (blue) and comparison (orange)."""
    old = np.asarray([v for v in before if math.isfinite(v)], float)
    new = np.asarray([v for v in after if math.isfinite(v)], float)
    height, pad, axis = 96, 6, 16
    if not len(old) and not len(new):
        return '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'
    both = np.concatenate([old, new])
    lo, hi = float(both.min()), float(both.max())
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, 21)
    hist = [np.histogram(x, bins=edges)[0] / max(len(x), 1) for x in (old, new)]
    peak = max(float(h.max()) for h in hist) or 1.0
    plot_h = height - axis - pad
    bar_w = (width - 2 * pad) / 20
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="dist" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">'
    ]
    for counts, colour in zip(hist, (BLUE, ORANGE), strict=True):
        for i, c in enumerate(counts):
            if c <= 0:
                continue
            h = plot_h * float(c) / peak
            parts.append(
                f'<rect x="{pad + i * bar_w:.1f}" y="{pad + plot_h - h:.1f}" '
                f'width="{bar_w:.1f}" height="{h:.1f}" fill="{colour}" fill-opacity="0.45"/>'
            )
    for values, colour in ((old, BLUE), (new, ORANGE)):
        if len(values):
            x = pad + (float(np.median(values)) - lo) / (hi - lo) * (width - 2 * pad)
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{pad}" y2="{pad + plot_h}" '
                f'stroke="{colour}" stroke-width="2"/>'
            )
    base = height - axis
    parts.append(
        f'<line x1="{pad}" x2="{width - pad}" y1="{base}" y2="{base}" stroke="#999"/>'
        f'<text x="{pad}" y="{height - 3}" class="tick">{_e(_num(lo))}</text>'
        f'<text x="{width - pad}" y="{height - 3}" class="tick" text-anchor="end">'
        f"{_e(_num(hi))}</text></svg>"
    )
    return "".join(parts)


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:2rem auto;
max-width:980px;padding:0 1rem;color:#1d2330;line-height:1.45}
h1{font-size:1.5rem;margin-bottom:.2rem} h2{font-size:1.15rem;margin-top:2rem}
.sub{color:#5b6475;margin-top:0}
.verdict{font-size:1.25rem;background:#fff4e8;border-left:6px solid #e07b24;padding:.8rem 1rem}
.plain{font-size:1.1rem}
.noise{background:#eef1f5;border-left:6px solid #8a94a3;padding:.5rem 1rem}
.explain{background:#f4f6f9;padding:.6rem 1rem;border-radius:6px}
table{border-collapse:collapse;width:100%} th,td{padding:.3rem .5rem;text-align:left}
tr+tr{border-top:1px solid #e3e6eb} td.n{text-align:right;font-variant-numeric:tabular-nums}
.graph text{font-size:12px} .tick{font-size:10px;fill:#555}
.dists{display:flex;flex-wrap:wrap;gap:1rem} .dists figure{margin:0}
figcaption{font-size:.85rem;color:#333}
.key{display:inline-block;width:.8em;height:.8em;border-radius:2px;vertical-align:middle}
code,pre{background:#f4f6f9;border-radius:4px} pre{padding:.6rem;white-space:pre-wrap}
.scale{display:inline-block;width:120px;height:10px;vertical-align:middle;
background:linear-gradient(90deg,#ffffff,#e07b24);border:1px solid #ccc}
"""


def _interval_svg(score: float, low: float, high: float, top: float) -> str:
    """A bar for the score and a whisker for its interval, on the page's common scale."""
    width, height = 160, 14
    span = max(top, max((abs(v) for v in (low, high) if math.isfinite(v)), default=0.0), 1e-12)

    def x(v: float) -> float:
        return 4 + (width - 8) * max(0.0, min(1.0, (v / span + 1) / 2))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">',
        f'<line x1="{x(0):.1f}" x2="{x(0):.1f}" y1="0" y2="{height}" stroke="#bbb"/>',
    ]
    if math.isfinite(score):
        a, b = sorted((x(0), x(score)))
        parts.append(f'<rect x="{a:.1f}" y="3" width="{b - a:.1f}" height="8" fill="{ORANGE}"/>')
    if math.isfinite(low) and math.isfinite(high):
        parts.append(f'<line x1="{x(low):.1f}" x2="{x(high):.1f}" y1="7" y2="7" stroke="#222"/>')
    parts.append("</svg>")
    return "".join(parts)


def _score_rows(result: Attribution, medians: pd.DataFrame) -> str:
    top = float(result.table["score"].abs().max() or 0.0)
    rows = []
    for r in result.table.itertuples(index=False):
        med = medians.loc[r.node] if r.node in medians.index else None
        rows.append(
            "<tr>"
            f"<td>{_e(r.label)}</td>"
            f'<td class="n">{_num(r.score)}</td>'
            f"<td>{_interval_svg(r.score, r.ci_low, r.ci_high, top)}</td>"
            f'<td class="n">{_num(r.ci_low)} to {_num(r.ci_high)}</td>'
            f'<td class="n">{_num(med["baseline_median"]) if med is not None else "–"}</td>'
            f'<td class="n">{_num(med["comparison_median"]) if med is not None else "–"}</td>'
            f"<td>{'yes' if r.changed else 'no'}</td>"
            "</tr>"
        )
    return "".join(rows)


def readable_note(note: str, labels: dict[str, str]) -> str:
    """A note with node ids that have a name written as ``name (id)``. One pass over the
    note, and the name is inserted as data (a replacement function, never a replacement
    template): ``C:\\logs\\l`` stays itself, and a name that contains another node's id
    is not rewritten again."""
    named = {node: label for node, label in labels.items() if label != node and node in note}
    if not named:
        return note
    ids = "|".join(re.escape(node) for node in sorted(named, key=len, reverse=True))
    pattern = re.compile(rf"(?<![\w-])(?:{ids})(?![\w-])")
    return pattern.sub(lambda m: f"{named[m.group()]} ({m.group()})", note)


def _plots(result: Attribution, count: int = 3) -> str:
    old, new = result.baseline_data, result.comparison_data
    if old is None or new is None:
        return "<p>(the sample data is not available)</p>"
    ranked = [r for r in result.table.itertuples(index=False) if r.score > 0][:count]
    nodes = [r.node for r in ranked if r.node != result.target] + [result.target]
    labels = dict(zip(result.table["node"], result.table["label"], strict=False))
    figures = []
    for node in nodes:
        if node not in old.columns or node not in new.columns:
            continue
        role = "the target" if node == result.target else "a top node"
        figures.append(
            f"<figure>{distribution_svg(old[node].tolist(), new[node].tolist())}"
            f"<figcaption><b>{_e(labels.get(node, node))}</b> ({role}): median "
            f"{_num(float(old[node].median()))} before, {_num(float(new[node].median()))} "
            "after</figcaption></figure>"
        )
    return f'<div class="dists">{"".join(figures)}</div>'


def plain_summary(result: Attribution) -> str:
    """The answer in plain words, from the scores and medians (no statistics vocabulary)."""
    medians = result.medians().set_index("node")
    labels = dict(zip(result.table["node"], result.table["label"].astype(str), strict=False))
    target = labels.get(result.target, result.target)

    def moved(node: str) -> str:
        if node not in medians.index:
            return ""
        row = medians.loc[node]
        return (
            f" (typical value {_num(row['baseline_median'])} before, "
            f"{_num(row['comparison_median'])} after)"
        )

    positive = result.table[result.table["score"] > 0]
    if result.scores_are_noise:
        changed = [
            labels.get(n, n)
            for n, flag in zip(result.table["node"], result.table["changed"], strict=False)
            if bool(flag) and n != result.target
        ]
        aside = (
            f" The own behaviour of {', '.join(changed)} did test as changed, but it did not "
            f"move {target} detectably; to look at it, analyse it as the target."
            if changed
            else ""
        )
        return (
            f"Nothing to look at: {target}{moved(result.target)} did not change between the "
            "two sets of runs, so no step is to blame for a change; the scores below are noise."
            + aside
        )
    if positive.empty:
        return (
            f"No step stands out: the analysis cannot pin the change of {target}"
            f"{moved(result.target)} on any one step."
        )
    top = positive.iloc[0]
    others = len(positive) - 1
    return (
        f"Look at {labels.get(top['node'], top['node'])} first: its behaviour changed"
        f"{moved(top['node'])}, and the analysis puts "
        + ("the whole" if others == 0 else "the largest")
        + f" part of the change of {target}{moved(result.target)} on it."
    )


def _shift_html(result: Attribution, target: str) -> str:
    """The shift test's answer, a line under the verdict (empty when it was not run)."""
    from provcausal.analysis.verdict import shift_text

    if result.shift is None:
        return ""
    return f'<p class="sub" id="shift">Shift test: {_e(shift_text(result.shift, target))}.</p>'


def _explain(result: Attribution, target: str) -> str:
    """The first sentence of the explanation: whether there is a change to split."""
    if result.scores_are_noise:
        return (
            f"The distribution of <b>{_e(target)}</b> did <b>not</b> change between the two "
            "sets of runs (see the shift test above), so there is nothing to split: the scores "
            "below are noise, shown only for completeness; read none of them as a cause."
        )
    return f"The distribution of <b>{_e(target)}</b> differs between the two sets of runs."


def _noise_mark(result: Attribution) -> str:
    if not result.scores_are_noise:
        return ""
    return (
        '<p class="noise" id="noise"><b>Noise:</b> no shift was detected, so these scores '
        "split a change that is not there; they are not evidence against any step.</p>"
    )


def _others(result: Attribution) -> str:
    """With several outputs analysed: each other output's verdict (the page details the
    first)."""
    others = getattr(result, "also", None) or []
    if not others:
        return ""
    items = "".join(
        f"<li><b>{_e(o.node_labels.get(o.target, o.target))}</b>: {_e(o.verdict)}</li>"
        for o in others
    )
    moved = not any(o.scores_are_noise for o in others)
    heading = "Other outputs that changed" if moved else "Other outputs analysed"
    return (
        f"<h2>{heading}</h2><p>This page details the first; name another "
        f"as the target to detail it.</p><ul>{items}</ul>"
    )


def report_html(result: Attribution, command: str) -> str:
    """The report page for ``result``; ``command`` is the command line that reproduces it."""
    medians = result.medians().set_index("node")
    scores = dict(zip(result.table["node"], result.table["score"].astype(float), strict=False))
    labels = dict(zip(result.table["node"], result.table["label"].astype(str), strict=False))
    target = labels.get(result.target, result.target)
    base_sel = result.baseline_selection or "baseline"
    comp_sel = result.comparison_selection or "comparison"
    names = {**result.node_labels, **labels}
    notes = "".join(f"<li>{_e(readable_note(n, names))}</li>" for n in result.notes)
    notes = notes or "<li>nothing</li>"
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(result.workflow)}: what changed {_e(target)}?</title>
<style>{_CSS}</style></head>
<body>
<h1>Workflow {_e(result.workflow)}: which step changed {_e(target)}?</h1>
<p class="sub">{result.baseline_samples} samples before ({_e(base_sel)}) and
{result.comparison_samples} after ({_e(comp_sel)}); measured: {_e(result.metric)}.
Written {when}.</p>
<p class="verdict" id="verdict">{_e(result.verdict)}</p>
{_shift_html(result, target)}
<p class="plain" id="plain">{_e(plain_summary(result))}</p>
<div class="explain"><p>{_explain(result, target)}
Each step (node) of the dataflow gets a <b>score</b>: how much of that difference
its own behaviour explains; 0 means none. The step with the largest score is where to look
first. The <b>interval</b> is the range the score took when the analysis was repeated on
resampled runs (95&nbsp;%); an interval far from 0 is firm evidence. <b>Changed</b> says whether
the step's output, given its inputs, differs between the two sets.</p></div>

<h2>The dataflow, coloured by score</h2>
<p>Arrows go from cause to effect. <span class="scale"></span> white: no share of the change,
orange: the largest share. The dashed box is {_e(target)}, the output analysed.</p>
{graph_svg(result.graph, scores, labels, result.target)}

<h2>Scores</h2>
{_noise_mark(result)}
<table><tr><th>step</th><th>score</th><th>share (bar) and interval (line)</th>
<th>interval</th><th>median before</th><th>median after</th><th>changed</th></tr>
{_score_rows(result, medians)}</table>

<h2>Before and after</h2>
<p><span class="key" style="background:{BLUE}"></span> before ({_e(base_sel)}),
<span class="key" style="background:{ORANGE}"></span> after ({_e(comp_sel)});
vertical lines are the medians.</p>
{_plots(result)}

{_others(result)}
<h2>What the analysis left out, and why</h2>
<ul>{notes}</ul>

<h2>Reproduce</h2>
<pre><code>{_e(command)}</code></pre>
<p class="sub">quality {_e(result.quality)}, seed {result.seed}; the same store and command
give the same page (except this date).</p>
</body></html>
"""


def write_report(result: Attribution, path: str | Path, command: str) -> Path:
    """Write the report page to ``path`` (UTF-8) and return the path."""
    path = Path(path)
    path.write_text(report_html(result, command), encoding="utf-8")
    return path
