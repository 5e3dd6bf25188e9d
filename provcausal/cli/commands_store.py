"""Commands that list and manage what the store holds: workflows, runs."""

from __future__ import annotations

import click

from provcausal import queries  # its submodules load on first use (pandas, networkx)
from provcausal.cli.output import command_error, emit, json_option, table_text
from provcausal.cli.params import NAME, TIME

#: Conditions on fields of the workflow document, as --baseline/--comparison accept them.
WHERE_OPTION = click.option(
    "--where",
    metavar="FIELD=VALUE",
    default="",
    help="Only runs whose workflow document matches, e.g. campaign_id=c1&used.mode=faulty.",
)


@click.command("workflows")
@json_option
@click.pass_obj
def workflows_cmd(app, as_json):
    """List the workflows in the store, with their runs, labels and systems."""
    emit(queries.list_workflows(app.store()), as_json)


@click.group("runs", invoke_without_command=True)
@click.option("--workflow", "-w", type=NAME, metavar="NAME", help="Only runs of this workflow.")
@click.option(
    "--label",
    "-l",
    "labels",
    type=NAME,
    multiple=True,
    metavar="LABEL",
    help="Only runs with this label (repeatable, or comma-separated).",
)
@click.option(
    "--since", type=TIME, metavar="TIME", help="Runs started at or after (ISO 8601 or epoch s)."
)
@click.option(
    "--until", type=TIME, metavar="TIME", help="Runs started at or before (ISO 8601 or epoch s)."
)
@click.option("--ids", "ids_only", is_flag=True, help="Print only the run ids, one a line.")
@WHERE_OPTION
@json_option
@click.pass_context
def runs_cmd(ctx, workflow, labels, since, until, ids_only, where, as_json):
    """List runs (one execution or import unit of a workflow), oldest first."""
    if ctx.invoked_subcommand is not None:
        return
    frame = queries.list_runs(ctx.obj.store(), workflow, _split(labels), since, until, where=where)
    if ids_only and not as_json:
        click.echo("\n".join(frame["run_id"]))
        return
    emit(frame, as_json)


def _split(labels) -> list[str] | None:
    return [part for label in labels for part in label.split(",") if part] or None


@runs_cmd.command("delete")
@click.argument("run_ids", nargs=-1, metavar="[RUN_ID]...")
@click.option("--workflow", "-w", type=NAME, metavar="NAME", help="Runs of this workflow…")
@click.option("--label", "-l", "labels", multiple=True, metavar="LABEL", help="…with a label.")
@WHERE_OPTION
@click.option("--yes", "-y", is_flag=True, help="Do not ask; delete.")
@json_option
@click.pass_obj
def runs_delete_cmd(app, run_ids, workflow, labels, where, yes, as_json):
    """Delete runs with their tasks and PROV documents: those named by id and/or selected by
    --workflow, --label and --where (all conditions apply). A selection by --workflow,
    --label or --where is shown and confirmed first (--yes skips the question)."""
    store = app.store()
    frame = queries.match_runs(store, run_ids, workflow, _split(labels), where)
    if frame.empty:
        emit({"deleted": [], "store": store.uri}, as_json, text="no runs match: nothing deleted")
        return
    if not yes and (workflow or labels or where):  # ids alone name exactly what goes
        shown = frame[["run_id", "workflow", "label", "source"]]
        click.echo(table_text(shown), err=True)
        try:
            confirmed = click.confirm(f"delete these {len(frame)} run(s)?", err=True)
        except click.Abort:  # no answer (end of input)
            confirmed = False
        if not confirmed:
            raise command_error("not confirmed: nothing deleted (--yes skips the question)", 1)
    ids = list(frame["run_id"])
    queries.delete_runs(store, ids)
    emit(
        {"deleted": ids, "store": store.uri},
        as_json,
        text="\n".join(f"deleted run {rid} from {store.uri}" for rid in ids),
    )


@click.command("label")
@click.option("--workflow", "-w", type=NAME, required=True, metavar="NAME", help="The workflow.")
@click.option(
    "--where",
    required=True,
    metavar="FIELD=VALUE",
    help="Which runs: workflow-document fields or dotted paths, joined with &, e.g. "
    "campaign_id=c1, used.mode=faulty, user=alice.",
)
@click.option(
    "--set", "label", type=NAME, required=True, metavar="LABEL", help="The label to give."
)
@json_option
@click.pass_obj
def label_cmd(app, workflow, where, label, as_json):
    """Label chosen runs (e.g. runs FlowCept captured) for --baseline/--comparison. The label
    is kept in provcausal's own metadata; FlowCept's documents are not changed."""
    store = app.store()
    ids = queries.label_runs(store, workflow, where, label)
    emit(
        {"label": label, "runs": ids, "store": store.uri},
        as_json,
        text=f"labelled {len(ids)} run(s) of workflow {workflow!r} {label!r} in {store.uri}",
    )


@click.command("doctor")
@click.option("--repair", is_flag=True, help="Remove the leftovers found.")
@json_option
@click.pass_obj
def doctor_cmd(app, repair, as_json):
    """List what interrupted imports or deletions left in the store; --repair removes it.
    Complete runs and imports still running are never touched."""
    found = queries.doctor(app.store(), repair=repair)
    if found.empty:
        text = "the store holds no leftovers"
    else:
        verb = "removed" if repair else "found"
        text = f"{verb} {len(found)} leftover(s):\n{table_text(found)}"
        if not repair:
            text += "\nrun `provcausal doctor --repair` to remove them"
    emit(found, as_json, text=text)


def register(group: click.Group) -> None:
    group.add_command(label_cmd)
    group.add_command(workflows_cmd)
    group.add_command(runs_cmd)
    group.add_command(doctor_cmd)
