"""Commands that list and manage what the store holds: workflows, runs."""

from __future__ import annotations

import click

from provcausal.cli.output import emit, json_option
from provcausal.cli.params import TIME
from provcausal.queries import delete_run, label_runs, list_runs, list_workflows


@click.command("workflows")
@json_option
@click.pass_obj
def workflows_cmd(app, as_json):
    """List the workflows in the store, with their runs, labels and systems."""
    emit(list_workflows(app.store()), as_json)


@click.group("runs", invoke_without_command=True)
@click.option("--workflow", "-w", metavar="NAME", help="Only runs of this workflow.")
@click.option(
    "--label",
    "-l",
    "labels",
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
@click.option(
    "--where",
    metavar="FIELD=VALUE",
    default="",
    help="Only runs whose workflow document matches, e.g. campaign_id=c1&used.mode=faulty.",
)
@json_option
@click.pass_context
def runs_cmd(ctx, workflow, labels, since, until, where, as_json):
    """List runs (one execution or import unit of a workflow), oldest first."""
    if ctx.invoked_subcommand is not None:
        return
    split = [part for label in labels for part in label.split(",") if part] or None
    emit(list_runs(ctx.obj.store(), workflow, split, since, until, where=where), as_json)


@runs_cmd.command("delete")
@click.argument("run_id")
@json_option
@click.pass_obj
def runs_delete_cmd(app, run_id, as_json):
    """Delete one run with its tasks and PROV document."""
    delete_run(app.store(), run_id)
    emit({"deleted": run_id}, as_json, text=f"deleted run {run_id}")


@click.command("label")
@click.option("--workflow", "-w", required=True, metavar="NAME", help="The workflow.")
@click.option(
    "--where",
    required=True,
    metavar="FIELD=VALUE",
    help="Which runs: workflow-document fields or dotted paths, joined with &, e.g. "
    "campaign_id=c1, used.mode=faulty, user=alice.",
)
@click.option("--set", "label", required=True, metavar="LABEL", help="The label to give.")
@json_option
@click.pass_obj
def label_cmd(app, workflow, where, label, as_json):
    """Label chosen runs (e.g. runs FlowCept captured) for --baseline/--comparison. The label
    is kept in provcausal's own metadata; FlowCept's documents are not changed."""
    ids = label_runs(app.store(), workflow, where, label)
    emit(
        {"label": label, "runs": ids},
        as_json,
        text=f"labelled {len(ids)} run(s) of {workflow!r} {label!r}",
    )


def register(group: click.Group) -> None:
    group.add_command(label_cmd)
    group.add_command(workflows_cmd)
    group.add_command(runs_cmd)
