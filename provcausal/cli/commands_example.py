"""``provcausal example``: write the paper's example data sets in their real formats."""

from __future__ import annotations

from pathlib import Path

import click

from provcausal.cli.output import emit, json_option


@click.command("example")
@click.argument("name", type=click.Choice(["gcratio", "claims", "nodered"]))
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--runs",
    type=click.IntRange(5, 100_000),
    default=30,
    show_default=True,
    help="Runs (gcratio), requests (claims) or messages (nodered) per set.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@json_option
@click.pass_obj
def example_cmd(app, name, folder, runs, seed, as_json):
    """Write a normal and a faulty data set of one of the paper's workflows into FOLDER:
    gcratio (SciPipe audit folders, count1 narrowed to U{1..10}), claims (Seldon inspect
    output and spec, a bug in claim-complexity), nodered (profiler logs and flow, one node
    delayed by 0.5-1 s). Prints the commands that import and analyse them."""
    from provcausal.examples import nodered_chain, scipipe_gcratio, seldon_claims

    folder.mkdir(parents=True, exist_ok=True)
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
    emit(
        {"folder": str(folder), "workflow": workflow, "next": commands},
        as_json,
        text=f"wrote {name} into {folder}; next:\n" + "\n".join(f"  {c}" for c in commands),
    )


def register(group: click.Group) -> None:
    group.add_command(example_cmd)
