"""Pictures of graphs: the node-level dataflow graph of a workflow, or one run's PROV graph.

DOT is written here for both. SVG and PNG need Graphviz's ``dot`` program, which reads the DOT
on stdin (nothing but the named file is written); when it is missing the error says how to
install Graphviz or how to get the DOT source instead.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import networkx as nx
import prov.model as pm
from provcausal.queries.export import atomic_path, run_document, write_atomic

from provcausal.errors import BadInputError, MissingDependencyError
from provcausal.stores import Store

__all__ = ["nodes_dot", "prov_dot", "write_picture"]


#: Characters a picture cannot hold as they are: controls (XML 1.0 has no place for most,
#: SVG text none), line and paragraph separators, bidirectional overrides, lone surrogates
#: (a file name that is not UTF-8) and the non-characters XML refuses.
_UNSHOWABLE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)


def _visible(text: str) -> str:
    """``text`` with every character a picture cannot hold shown as its escape (``\\x1b``)."""
    return _UNSHOWABLE.sub(lambda m: repr(m.group())[1:-1], text)


def _dot_string(text: str) -> str:
    """Text inside a DOT quoted string, read back as exactly ``text``: Graphviz reads
    ``\\N``, ``\\l`` … and HTML entities (``&#1;`` becomes a raw control character in SVG)
    in labels, so backslashes are doubled and ``&`` written as ``&amp;``."""
    return text.replace("&", "&amp;").replace("\\", "\\\\").replace('"', '\\"')


def _quote(text: object, *more: object) -> str:
    """A DOT label: the name as data, never as Graphviz escapes, entities or XML; several
    texts are lines of one label."""
    return '"' + "\\n".join(_dot_string(_visible(str(t))) for t in (text, *more)) + '"'


def _id(name: object) -> str:
    """A DOT node id for a name: distinct names keep distinct ids (a backslash is doubled
    before control characters are escaped, so ``\\x1b`` and ESC differ)."""
    return '"' + _dot_string(_visible(str(name).replace("\\", "\\\\"))) + '"'


def nodes_dot(graph: nx.DiGraph, name: str, labels: dict[str, str] | None = None) -> str:
    """DOT for a node-level graph; contracted nodes and cut edges are listed in a note."""
    labels = labels or {}
    lines = [
        f"digraph {_id(name)} {{",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fillcolor="#EFF2F5", fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for node in sorted(graph.nodes):
        lines.append(f"  {_id(node)} [label={_quote(labels.get(node, node))}];")
    for a, b, data in sorted(graph.edges(data=True)):
        attrs = f" [label={_quote(data['samples'])}]" if data.get("samples") else ""
        lines.append(f"  {_id(a)} -> {_id(b)}{attrs};")
    notes = []
    if any(data.get("samples") for _, _, data in graph.edges(data=True)):
        notes.append("edge labels: samples in which data flowed along the edge")
    notes += [f"contracted {n} ({why})" for n, why in graph.graph.get("contracted", {}).items()]
    notes += [f"cut {c['from']} -> {c['to']} ({c['why']})" for c in graph.graph.get("cut", [])]
    if notes:
        lines.append(f"  label={_quote('; '.join(notes))}; labelloc=b; fontsize=9;")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _attr(record: pm.ProvRecord, *names: str) -> str | None:
    """The first attribute whose local name is one of ``names`` (any namespace)."""
    for key, value in record.attributes:
        local = getattr(key, "localpart", str(key))
        if local in names:
            return str(value)
    return None


def _short(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _local(record: pm.ProvRecord) -> str:
    ident = record.identifier
    return str(ident.localpart) if ident is not None else "?"


def _prov_label(record: pm.ProvRecord) -> list[str]:
    """What a person recognises, as lines: the node or file name (and value), never a hash."""
    if isinstance(record, pm.ProvActivity):
        return [_short(_attr(record, "node", "label") or _local(record))]
    name = _attr(record, "name", "label", "path") or _local(record)
    value = _attr(record, "value")
    if value is None:
        return [_short(name)]
    try:
        value = f"{float(value):.6g}"
    except ValueError:
        value = _short(value, 16)
    return [_short(name), f"= {value}"]


def prov_dot(store: Store, run_id: str) -> str:
    """DOT of one run's PROV graph, drawn to be read: activities (boxes, named by their node)
    and entities (ellipses, named by file or message and value), arrows in the direction the
    data flowed (entity -> activity that used it -> entity it generated), agents left out
    (each activity is labelled with its node), and a legend."""
    doc = run_document(store, run_id)
    flat = doc.flattened() if doc.has_bundles() else doc
    names: dict[str, str] = {}
    lines = [
        f"digraph {_id(run_id)} {{",
        '  rankdir=LR; size="16,10"; ranksep=0.3; nodesep=0.15;',
        '  node [fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=8, color="#667788"];',
    ]
    edges: list[str] = []
    for record in flat.get_records():
        if isinstance(record, (pm.ProvActivity, pm.ProvEntity)):
            key = str(record.identifier)
            names[key] = f"n{len(names)}"
            shape = (
                'shape=box, style="rounded,filled", fillcolor="#DCE6F2"'
                if isinstance(record, pm.ProvActivity)
                else 'shape=ellipse, style=filled, fillcolor="#FFF3C4"'
            )
            lines.append(f"  {names[key]} [label={_quote(*_prov_label(record))}, {shape}];")
    for record in flat.get_records(pm.ProvRelation):
        a, b = (str(v) if v is not None else "" for _, v in record.formal_attributes[:2])
        if a not in names or b not in names:
            continue
        # used(activity a, entity b): b -> a; wasGeneratedBy(entity a, activity b): b -> a
        if isinstance(record, (pm.ProvUsage, pm.ProvGeneration)):
            edges.append(f"  {names[b]} -> {names[a]};")
        elif isinstance(record, pm.ProvCommunication):  # a informed by b
            edges.append(f"  {names[b]} -> {names[a]} [style=dashed];")
    lines += sorted(set(edges))
    lines.append(
        "  label="
        + _quote(
            f"run {run_id}: boxes are tasks (named by node), ellipses data (name = value); "
            "arrows follow the data (used, generated), dashed: informed by"
        )
        + "; labelloc=b; fontsize=10;"
    )
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_picture(dot: str, path: str | Path) -> Path:
    """Write ``dot`` to ``path``: the DOT text itself for .dot/.gv, else the SVG/PNG Graphviz's
    ``dot`` renders from it (fed on stdin: no stray .dot file is left next to the picture)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".dot", ".gv", ".svg", ".png"):
        raise BadInputError("the picture must end in .dot, .svg or .png", path=str(path))
    if suffix in (".dot", ".gv"):
        write_atomic(path, dot)
        return path
    exe = shutil.which("dot")
    if exe is None:
        raise MissingDependencyError(
            f"{suffix[1:].upper()} needs Graphviz's dot program (apt-get install graphviz); "
            f"or write the DOT source with -o {path.with_suffix('.dot')}"
        )
    with atomic_path(path) as tmp:
        done = subprocess.run(
            [exe, f"-T{suffix[1:]}", "-o", str(tmp)],
            input=dot,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise BadInputError(f"dot failed: {done.stderr.strip()[:300]}", path=str(path))
    return path
