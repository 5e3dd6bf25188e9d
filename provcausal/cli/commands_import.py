"""``provcausal import <system> PATH...``: read provenance records into the store."""

from __future__ import annotations

import click

from provcausal.cli.output import emit, info, json_option, progress, shown, warn
from provcausal.cli.params import NAME
from provcausal.ingest import ImportSummary, import_paths


def _summary_text(s: ImportSummary, store_uri: str) -> str:
    lines = [
        f"imported {len(s.runs)} run(s) of workflow {s.workflow!r}"
        + (f" with label {s.label!r}" if s.label else "")
        + f" from {s.system}: {s.tasks} tasks, {s.entities} entities, {s.samples} samples",
        f"stored in {store_uri}",
    ]
    if s.warnings:
        lines.append(f"{len(s.warnings)} warning(s) (shown on stderr)")
    if s.skipped:
        lines.append(f"skipped {len(s.skipped)} bad record(s):")
        lines.extend(f"  {shown(where)}" for where in s.skipped[:50])
        if len(s.skipped) > 50:
            lines.append(f"  … and {len(s.skipped) - 50} more (see --json)")
    return "\n".join(lines)


def _keep_campaign(ctx, param, value):
    ctx.meta["provcausal.campaign"] = value
    return value


def _common(func):
    func = json_option(func)
    func = click.option(
        "--relabel",
        is_flag=True,
        help="Allow runs already stored under another label to take --label.",
    )(func)
    func = click.option(
        "--skip-bad",
        is_flag=True,
        help="Skip bad records, import the rest, report what was skipped.",
    )(func)
    func = click.option(
        "--campaign",
        metavar="ID",
        expose_value=False,
        callback=_keep_campaign,
        help="FlowCept's campaign_id for these runs and their tasks (default: the workflow).",
    )(func)
    func = click.option(
        "--label",
        "-l",
        type=NAME,
        metavar="LABEL",
        help="A label for these runs, e.g. normal or broken.",
    )(func)
    func = click.option(
        "--workflow",
        "-w",
        type=NAME,
        required=True,
        metavar="NAME",
        help="The workflow these runs belong to.",
    )(func)
    func = click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))(func)
    return func


def _run(app, system, paths, workflow, label, skip_bad, relabel, as_json, **options):
    def bar(items, length):
        return progress(items, length=length, label=f"importing {system}", quiet=app.quiet)

    summary = import_paths(
        app.store(create=True),
        system,
        paths,
        workflow,
        label=label,
        campaign=click.get_current_context().meta.get("provcausal.campaign"),
        skip_bad=skip_bad,
        relabel=relabel,
        progress=bar,
        **options,
    )
    if summary.detected:
        info(f"detected {summary.system} records", app.quiet or as_json)
    for message in summary.warnings:
        warn(message, app.quiet)
    uri = app.store().uri
    emit({**summary.as_dict(), "store": uri}, as_json, text=_summary_text(summary, uri))


@click.group("import")
def import_group():
    """Import provenance records into the store (re-importing replaces, never duplicates)."""


@import_group.command("scipipe")
@_common
@click.option(
    "--graph",
    type=click.Path(exists=True, dir_okay=False),
    metavar="FILE.dot",
    help="The workflow graph SciPipe wrote (PlotGraph); default: a .dot in the run "
    "folder. Restores processes that wrote no audit file.",
)
@click.pass_obj
def import_scipipe(app, paths, workflow, label, skip_bad, relabel, as_json, graph):
    """SciPipe audit files, or folders searched for *.audit.json; one run per folder."""
    _run(app, "scipipe", paths, workflow, label, skip_bad, relabel, as_json, graph=graph)


@import_group.command("nodered")
@_common
@click.option(
    "--flow",
    type=click.Path(exists=True, dir_okay=False),
    metavar="FLOWS.json",
    help="The flow export: node names, types, tabs, and the wires to check hops "
    "against (recommended).",
)
@click.pass_obj
def import_nodered(app, paths, workflow, label, skip_bad, relabel, as_json, flow):
    """Node-RED message-profiler logs (one _msgtracing JSON object per line); one run per
    file, one sample per line."""
    _run(app, "nodered", paths, workflow, label, skip_bad, relabel, as_json, flow=flow)


@import_group.command("seldon")
@_common
@click.option(
    "--pipeline",
    "pipeline",
    type=click.Path(exists=True, dir_okay=False),
    metavar="SPEC.yaml",
    help="The Pipeline spec: steps, inputs, triggers, tensorMap.",
)
@click.option(
    "--rename",
    multiple=True,
    metavar="OLD=NEW",
    help="Treat step OLD as NEW (a model redeployed under a new name). Repeatable.",
)
@click.pass_obj
def import_seldon(app, paths, workflow, label, skip_bad, relabel, as_json, pipeline, rename):
    """Saved `seldon pipeline inspect` output (raw <= 2.8, raw >= 2.9 or --format json, with
    or without --verbose); all PATHS form one run, each request id one sample."""
    _run(
        app,
        "seldon",
        paths,
        workflow,
        label,
        skip_bad,
        relabel,
        as_json,
        pipeline=pipeline,
        rename=list(rename) or None,
    )


@import_group.command("prov")
@_common
@click.pass_obj
def import_prov(app, paths, workflow, label, skip_bad, relabel, as_json):
    """W3C PROV documents from any tool (PROV-JSON, PROV-N, PROV-XML, PROV-O Turtle or
    JSON-LD, detected from the content); one run per file."""
    _run(app, "prov", paths, workflow, label, skip_bad, relabel, as_json)


@import_group.command("auto")
@_common
@click.pass_obj
def import_auto(app, paths, workflow, label, skip_bad, relabel, as_json):
    """Detect the system from the content of PATHS and import with its importer."""
    _run(app, "auto", paths, workflow, label, skip_bad, relabel, as_json)


def register(group: click.Group) -> None:
    group.add_command(import_group)
