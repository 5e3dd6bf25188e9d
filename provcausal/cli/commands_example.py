"""``provcausal example``: write the paper's example data sets in their real formats."""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

import click

from provcausal.cli.output import Bar, emit, json_option
from provcausal.cli.params import SEED
from provcausal.errors import BadInputError

#: A file in each example folder listing what the example wrote (what --force removes).
MARKER = ".provcausal-example"

#: What the paper's examples write into their folder (removed by --force even without MARKER).
OUTPUTS = {
    "gcratio": ("normal", "broken"),
    "claims": ("pipeline.yaml", "normal.txt", "broken.txt"),
    "nodered": ("flows.json", "normal.log", "broken.log"),
}


def _plain_name(entry: str) -> bool:
    """Whether a name the marker lists is a plain name directly inside the folder: the
    marker is a file anyone could have written, and ``../x`` or ``/home`` must not go."""
    return (
        entry not in ("", ".", "..", MARKER)
        and "/" not in entry
        and (os.altsep is None or os.altsep not in entry)
        and not os.path.isabs(entry)
    )


def _prepare_folder(name: str, folder: Path, force: bool) -> list[str]:
    """Refuse a non-empty folder (old runs would be imported with the new ones), or with
    ``force`` remove what an earlier example left there; the names removed."""
    if not folder.exists():
        return []
    if not folder.is_dir():
        raise BadInputError("exists and is not a folder", path=str(folder))
    entries = sorted(p.name for p in folder.iterdir())
    if not entries:
        return []
    if not force:
        shown = ", ".join(entries[:5]) + (" …" if len(entries) > 5 else "")
        raise BadInputError(
            f"the folder is not empty ({shown}): its old runs would be imported with the new "
            "ones; choose a new folder, or give --force to replace the example's files",
            path=str(folder),
        )
    removed = []
    marker = folder / MARKER
    listed = marker.read_text(encoding="utf-8").split() if marker.is_file() else []
    for entry in dict.fromkeys([*filter(_plain_name, listed), *OUTPUTS.get(name, ())]):
        path = folder / entry
        if path.is_symlink():  # the link goes, never what it points to
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        else:
            continue
        removed.append(str(path))
    if marker.is_file():
        marker.unlink()
    return removed


def _import_commands(
    system: str, folder: Path, names: str, workflow: str, *extra: str
) -> list[str]:
    """The ``provcausal import`` lines (quoted for a shell) that load the normal and the broken
    runs; ``names`` formats a label into the file or folder name, ``extra`` ends each line."""
    return [
        shlex.join(
            ["provcausal", "import", system, str(folder / names.format(label))]
            + ["--workflow", workflow, "--label", label, *extra]
        )
        for label in ("normal", "broken")
    ]


def _write_gcratio(folder: Path, runs: int, seed: int, bar: Bar) -> tuple[list[str], str]:
    from provcausal.examples import scipipe_gcratio

    for label, s, narrow in (("normal", seed, 100), ("broken", seed + 1, 10)):
        bar.label = f"writing {label} runs"
        scipipe_gcratio.write_runs(folder / label, runs, seed=s, count1_max=narrow, progress=bar)
        bar.close()
    return _import_commands("scipipe", folder, "{}", "gcratio"), "gcratio"


def _write_claims(folder: Path, runs: int, seed: int, bar: Bar) -> tuple[list[str], str]:
    from provcausal.examples import seldon_claims

    spec = seldon_claims.write_spec(folder / "pipeline.yaml")
    for step, (label, bug, s) in enumerate((("normal", False, seed), ("broken", True, seed + 1))):
        bar(step, 2)
        seldon_claims.write_inspect(
            folder / f"{label}.txt",
            seldon_claims.simulate(runs, seed=s, complexity_bug=bug),
            fmt="raw29",
            verbose=True,
            seed=s,
        )
    bar(2, 2)
    return _import_commands("seldon", folder, "{}.txt", "claims", "--pipeline", str(spec)), "claims"


def _write_nodered(folder: Path, runs: int, seed: int, bar: Bar) -> tuple[list[str], str]:
    from provcausal.examples import nodered_chain

    flow = nodered_chain.chain_flow(5)
    flows = nodered_chain.write_flow(folder / "flows.json", flow)
    bar(0, 2)
    nodered_chain.write_trace_log(folder / "normal.log", flow, runs, seed=seed)
    bar(1, 2)
    nodered_chain.write_trace_log(folder / "broken.log", flow, runs, seed=seed + 1, delay_step=3)
    bar(2, 2)
    return _import_commands("nodered", folder, "{}.log", "chain", "--flow", str(flows)), "chain"


WRITERS = {"gcratio": _write_gcratio, "claims": _write_claims, "nodered": _write_nodered}
#: Runs, requests or messages per set of the paper's examples: enough that the fault shifts the
#: output detectably (the claims bug moves the payout of complex claims only: at 30 requests
#: the shift test's p was 0.16-0.44, at 150 it is 0.001).
PAPER_SIZES = {"gcratio": 30, "claims": 150, "nodered": 30}


@click.command("example")
@click.argument(
    "name",
    type=click.Choice(
        [
            "gcratio",
            "claims",
            "nodered",
            "fanout",
            "switch",
            "sinks",
            "ports",
            "renamed",
            "triggers",
        ]
    ),
)
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--runs",
    type=click.IntRange(5, 100_000),
    help="Runs (gcratio, ports), requests (claims, renamed, triggers) or messages (nodered, "
    "fanout, switch, sinks) per set. Default: 30 (claims: 150) for the paper's examples, enough "
    "for the shapes.",
)
@click.option(
    "--fault",
    metavar="NODE",
    help="Shapes: the node (by name) the faulty set breaks (default: one per shape).",
)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Random seed.")
@click.option(
    "--force",
    is_flag=True,
    help="FOLDER may hold an earlier example: its files are removed first.",
)
@json_option
@click.pass_obj
def example_cmd(app, name, folder, runs, fault, seed, force, as_json):
    """Write a normal and a faulty data set into FOLDER (new or empty) and print the commands
    that import and analyse them. The paper's workflows: gcratio (SciPipe audit folders,
    count1 narrowed to U{1..10}), claims (Seldon inspect output and spec, a bug in
    claim-complexity), nodered (profiler logs and flow, one node delayed by 0.5-1 s). Real
    shapes: fanout (Node-RED fan-out through link out/in), switch (rbe, a 90/10 switch, a
    join), sinks (two files), ports (a SciPipe process with two out-ports, a fan-in), renamed
    (a Seldon pipeline against a renamed deployment of itself), triggers (a Seldon classifier
    returning one of two BOOL tensors that trigger two payout steps, a bug in the classifier
    deployed as a second pipeline)."""
    from provcausal.examples import shapes

    if fault and name not in shapes.SHAPES:
        raise click.BadParameter("only the shapes take a fault", param_hint="--fault")
    removed = _prepare_folder(name, folder, force)
    folder.mkdir(parents=True, exist_ok=True)
    if name in shapes.SHAPES:
        try:
            example = shapes.write_example(name, folder, size=runs, seed=seed, fault=fault)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--fault") from None
        workflow, commands = example.workflow, example.commands
    else:
        with Bar(f"writing {name}", app.quiet) as bar:
            imports, workflow = WRITERS[name](folder, runs or PAPER_SIZES[name], seed, bar)
        commands = [
            *imports,
            f"provcausal attribute --workflow {workflow} --baseline normal --comparison broken",
        ]
    entries = sorted(p.name for p in folder.iterdir() if p.name != MARKER)
    (folder / MARKER).write_text("\n".join(entries) + "\n", encoding="utf-8")
    written = [str(folder / entry) for entry in entries]
    lines = [f"removed {path}" for path in removed]
    lines += [f"wrote {name} into {folder}: {', '.join(written)}; next:"]
    emit(
        {
            "folder": str(folder),
            "workflow": workflow,
            "removed": removed,
            "written": written,
            "next": commands,
        },
        as_json,
        text="\n".join(lines + [f"  {c}" for c in commands]),
    )


def register(group: click.Group) -> None:
    group.add_command(example_cmd)
