"""Query commands: tasks, nodes, lineage, export, graph."""

from __future__ import annotations

import sys

import click

from provcausal import queries  # its submodules load on first use (pandas, networkx)
from provcausal.cli.outfiles import refuse_store_files
from provcausal.cli.output import (
    command_error,
    emit,
    json_option,
    output_file_option,
    table_text,
)
from provcausal.cli.params import NAME
from provcausal.errors import InvalidParameterError
from provcausal.queries import FORMATS, format_for_path, write_atomic


@click.command("tasks")
@click.option("--run", "-r", "run_id", metavar="RUN_ID", help="Tasks of this run.")
@click.option(
    "--workflow", "-w", type=NAME, metavar="NAME", help="With --node: that node in every run."
)
@click.option("--node", "-n", metavar="NODE", help="Only this node (its id or its name).")
@click.option("--ids", "ids_only", is_flag=True, help="Print only the task ids, one a line.")
@json_option
@click.pass_obj
def tasks_cmd(app, run_id, workflow, node, ids_only, as_json):
    """List tasks: id, node, sample, start, end, duration, status, value(s)."""
    frame = queries.list_tasks(app.store(), run=run_id, workflow=workflow, node=node)
    if ids_only and not as_json:
        click.echo("\n".join(frame["task_id"]))
        return
    emit(frame, as_json, text=table_text(frame.drop(columns=["values"])) if not as_json else None)


@click.command("nodes")
@click.option("--workflow", "-w", type=NAME, required=True, metavar="NAME", help="The workflow.")
@json_option
@click.pass_obj
def nodes_cmd(app, workflow, as_json):
    """List a workflow's nodes with how many runs and samples have data for each."""
    emit(queries.list_nodes(app.store(), workflow), as_json)


@click.command("lineage")
@click.argument("item_id", metavar="ID")
@click.option(
    "--upstream/--downstream",
    default=True,
    help="What ID derives from (default) or what it leads to.",
)
@click.option(
    "--depth", type=click.IntRange(0, None), metavar="N", help="At most N task generations away."
)
@click.option(
    "--run",
    "-r",
    "run_id",
    metavar="RUN_ID",
    help="The run ID belongs to: look it up there only (one shard on a sharded MongoDB).",
)
@json_option
@click.pass_obj
def lineage_cmd(app, item_id, upstream, depth, run_id, as_json):
    """The tasks and entities that task or entity ID derives from or leads to."""
    direction = "upstream" if upstream else "downstream"
    g = queries.lineage(app.store(), item_id, direction, depth, run=run_id)
    table = queries.lineage_table(g)
    doc = {
        "root": item_id,
        "direction": "upstream" if upstream else "downstream",
        "depth": depth,
        "nodes": table,
        "edges": [list(e) for e in sorted(g.edges)],
    }
    emit(doc, as_json, text=table_text(table))


@click.command("export")
@click.option("--run", "-r", "run_id", metavar="RUN_ID", help="One run.")
@click.option("--workflow", "-w", type=NAME, metavar="NAME", help="Every run of a workflow…")
@click.option(
    "--label", "-l", "labels", type=NAME, multiple=True, metavar="LABEL", help="…with a label."
)
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(sorted(FORMATS)),
    help="PROV-JSON, PROV-N, PROV-XML, Turtle (PROV-O), JSON-LD. Default: from the -o "
    "file's extension (.json .provn .xml .ttl .jsonld), else json.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="File (default stdout).")
@json_option
@click.pass_obj
def export_cmd(app, run_id, workflow, labels, fmt, output, as_json):
    """Export W3C PROV: a run exactly as imported, or a workflow's runs merged."""
    if as_json and not output:
        raise command_error("--json reports what was written: give -o FILE as well", 2)
    refuse_store_files(app.store_uri, output=output)
    fmt = fmt or (format_for_path(output) if output else "json")
    text = queries.export_prov(
        app.store(), run_id, fmt, workflow=workflow, labels=list(labels) or None
    )
    if not output:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    write_atomic(output, text)
    emit({"written": [output], "format": fmt}, as_json, text=f"wrote {output} ({fmt})")


@click.command("graph")
@click.option("--workflow", "-w", type=NAME, metavar="NAME", help="The workflow (kind nodes).")
@click.option(
    "--kind",
    type=click.Choice(["nodes", "prov"]),
    default="nodes",
    show_default=True,
    help="nodes: the dataflow/causal graph from lineage; prov: one run's PROV graph.",
)
@click.option("--run", "-r", "run_id", metavar="RUN_ID", help="The run (kind prov).")
@output_file_option("FILE.dot, FILE.svg or FILE.png (SVG/PNG need Graphviz's dot).")
@json_option
@click.pass_obj
def graph_cmd(app, workflow, kind, run_id, output, as_json):
    """Draw a workflow's node-level graph or a run's PROV graph."""
    from provcausal.cli.imports import heavy_imports

    with heavy_imports():
        from provcausal.analysis import causal_graph

    refuse_store_files(app.store_uri, output=output)
    store = app.store()
    if kind == "prov":
        if not run_id:
            raise InvalidParameterError("kind prov draws one run: give a run", "run")
        dot = queries.prov_dot(store, run_id)
        edges = None
    else:
        if not workflow:
            raise InvalidParameterError("kind nodes draws a workflow: give a workflow", "workflow")
        from provcausal.queries.listings import require_workflow

        require_workflow(store, workflow)  # a typo is exit 2, not an empty picture
        g = causal_graph(store, workflow)
        dot = queries.nodes_dot(g, workflow, queries.node_labels(store, workflow))
        edges = [list(e) for e in sorted(g.edges)]
    path = queries.write_picture(dot, output)
    emit({"written": [str(path)], "kind": kind, "edges": edges}, as_json, text=f"wrote {path}")


def register(group: click.Group) -> None:
    for command in (tasks_cmd, nodes_cmd, lineage_cmd, export_cmd, graph_cmd):
        group.add_command(command)
