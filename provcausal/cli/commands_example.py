"""``provcausal example``: write the paper's example data sets in their real formats."""

from __future__ import annotations

from pathlib import Path

import click

from provcausal.cli.output import emit, json_option


@click.command("example")
@click.argument(
    "name",
    type=click.Choice(
        ["gcratio", "claims", "nodered", "fanout", "switch", "sinks", "ports", "renamed"]
    ),
)
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--runs",
    type=click.IntRange(5, 100_000),
    help="Runs (gcratio, ports), requests (claims, renamed) or messages (nodered, fanout, "
    "switch, sinks) per set. Default: 30 for the paper's examples, enough for the shapes.",
)
@click.option(
    "--fault",
    metavar="NODE",
    help="Shapes: the node (by name) the faulty set breaks (default: one per shape).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@json_option
@click.pass_obj
def example_cmd(app, name, folder, runs, fault, seed, as_json):
    """Write a normal and a faulty data set into FOLDER and print the commands that import
    and analyse them. The paper's workflows: gcratio (SciPipe audit folders, count1 narrowed
    to U{1..10}), claims (Seldon inspect output and spec, a bug in claim-complexity), nodered
    (profiler logs and flow, one node delayed by 0.5-1 s). Real shapes: fanout (Node-RED
    fan-out through link out/in), switch (rbe, a 90/10 switch, a join), sinks (two files),
    ports (a SciPipe process with two out-ports, a fan-in), renamed (a Seldon pipeline
    against a renamed deployment of itself)."""
    from provcausal.examples import nodered_chain, scipipe_gcratio, seldon_claims, shapes

    folder.mkdir(parents=True, exist_ok=True)
    if name in shapes.SHAPES:
        try:
            example = shapes.write_example(name, folder, size=runs, seed=seed, fault=fault)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--fault") from None
        _emit(name, folder, example.workflow, example.commands, as_json)
        return
    if fault:
        raise click.BadParameter("only the shapes take a fault", param_hint="--fault")
    runs = runs or 30
    if name == "gcratio":
        scipipe_gcratio.write_runs(folder / "normal", runs, seed=seed)
        scipipe_gcratio.write_runs(folder / "broken", runs, seed=seed + 1, count1_max=10)
        imports = [
            f"provcausal import scipipe {folder / label} --workflow gcratio --label {label}"
            for label in ("normal", "broken")
        ]
        workflow = "gcratio"
    elif name == "claims":
        spec = seldon_claims.write_spec(folder / "pipeline.yaml")
        for label, bug, s in (("normal", False, seed), ("broken", True, seed + 1)):
            seldon_claims.write_inspect(
                folder / f"{label}.txt",
                seldon_claims.simulate(runs, seed=s, complexity_bug=bug),
                fmt="raw29",
                verbose=True,
                seed=s,
            )
        imports = [
            f"provcausal import seldon {folder / (label + '.txt')} --workflow claims "
            f"--label {label} --pipeline {spec}"
            for label in ("normal", "broken")
        ]
        workflow = "claims"
    else:
        flow = nodered_chain.chain_flow(5)
        flows = nodered_chain.write_flow(folder / "flows.json", flow)
        nodered_chain.write_trace_log(folder / "normal.log", flow, runs, seed=seed)
        nodered_chain.write_trace_log(
            folder / "broken.log", flow, runs, seed=seed + 1, delay_step=3
        )
        imports = [
            f"provcausal import nodered {folder / (label + '.log')} --workflow chain "
            f"--label {label} --flow {flows}"
            for label in ("normal", "broken")
        ]
        workflow = "chain"
    commands = [
        *imports,
        f"provcausal attribute --workflow {workflow} --baseline normal --comparison broken",
    ]
    _emit(name, folder, workflow, commands, as_json)


def _emit(name: str, folder: Path, workflow: str, commands: list[str], as_json: bool) -> None:
    emit(
        {"folder": str(folder), "workflow": workflow, "next": commands},
        as_json,
        text=f"wrote {name} into {folder}; next:\n" + "\n".join(f"  {c}" for c in commands),
    )


def register(group: click.Group) -> None:
    group.add_command(example_cmd)
