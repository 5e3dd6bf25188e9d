"""Commands that list and manage what the store holds: workflows, runs."""

from __future__ import annotations

import click

from provcausal.cli.output import emit, json_option, table_text
from provcausal.cli.params import NAME, TIME
from provcausal.queries import delete_run, doctor, list_runs, list_workflows


@click.command("workflows")
@json_option
@click.pass_obj
def workflows_cmd(app, as_json):
    """List the workflows in the store, with their runs, labels and systems."""
    emit(list_workflows(app.store()), as_json)


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
@json_option
@click.pass_context
def runs_cmd(ctx, workflow, labels, since, until, as_json):
    """List runs (one execution or import unit of a workflow), oldest first."""
    if ctx.invoked_subcommand is not None:
        return
    split = [part for label in labels for part in label.split(",") if part] or None
    emit(list_runs(ctx.obj.store(), workflow, split, since, until), as_json)


@runs_cmd.command("delete")
@click.argument("run_id")
@json_option
@click.pass_obj
def runs_delete_cmd(app, run_id, as_json):
    """Delete one run with its tasks and PROV document."""
    delete_run(app.store(), run_id)
    emit({"deleted": run_id}, as_json, text=f"deleted run {run_id}")


@click.command("doctor")
@click.option("--repair", is_flag=True, help="Remove the leftovers found.")
@json_option
@click.pass_obj
def doctor_cmd(app, repair, as_json):
    """List what interrupted imports or deletions left in the store; --repair removes it.
    Complete runs and imports still running are never touched."""
    found = doctor(app.store(), repair=repair)
    if found.empty:
        text = "the store holds no leftovers"
    else:
        verb = "removed" if repair else "found"
        text = f"{verb} {len(found)} leftover(s):\n{table_text(found)}"
        if not repair:
            text += "\nrun `provcausal doctor --repair` to remove them"
    emit(found, as_json, text=text)


def register(group: click.Group) -> None:
    group.add_command(workflows_cmd)
    group.add_command(runs_cmd)
    group.add_command(doctor_cmd)
