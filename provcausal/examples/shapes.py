"""Example data sets of real dataflow shapes: a normal and a faulty set, and the commands that
import and analyse them (``provcausal example <shape> DIR``).

| shape | system | what it exercises | default fault |
|---|---|---|---|
| ``fanout`` | Node-RED | one message, two lines (fan-out), ``link out``/``link in`` | ``Detect`` |
| ``switch`` | Node-RED | ``rbe`` blocking, ``switch`` 90/10, ``join`` of 2 | ``Rare`` (the 10 % branch) |
| ``sinks`` | Node-RED | two branches, each with its own file: two sinks | ``Right`` |
| ``ports`` | SciPipe | a process with two out-ports, a fan-in | ``stats.high`` |
| ``renamed`` | Seldon | the comparison is the pipeline deployed under other names | ``claim-complexity`` |
| ``triggers`` | Seldon | a classifier returns one of two BOOL tensors that trigger two payout steps (``triggersJoinType: any``, ``stepsJoin: any``); the comparison is a renamed deployment | ``classify`` |

``faults(shape)`` lists the nodes a fault can be put in. Each writer takes ``size`` (messages,
runs or requests per set), a ``seed`` and a ``fault``; it returns the workflow name, the
commands to run, and the fault's node as ``attribute`` names it (``expected``). A node whose
outputs are variables of their own (out-ports: ``node.port``) is named by any of them when the
fault is in the node itself (``triggers``' classifier: ``classify.is_simple_claim`` or
``classify.is_complex_claim``); :func:`is_expected` says whether a ranked label names it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from provcausal.examples import nodered_shapes, scipipe_ports, seldon_claims, seldon_triggers

__all__ = [
    "SHAPES",
    "Example",
    "write_example",
    "faults",
    "is_expected",
    "DEFAULT_SIZE",
    "DEFAULT_FAULT",
]


@dataclass
class Example:
    """What was written: the workflow, the commands to run, and the faulty node's label."""

    workflow: str
    commands: list[str]
    expected: str
    #: The faulty node's out-port variables (``node.port``) name it too.
    by_ports: bool = False


def is_expected(example: Example, label: str) -> bool:
    """Whether ``label`` (a ranked node's label) names the example's faulty node."""
    if label == example.expected:
        return True
    return example.by_ports and label.startswith(example.expected + ".")


_NODERED_FAULTS = {
    "fanout": ["Parse", "Enrich", "Score", "Detect"],
    "switch": ["Parse", "Common", "Rare"],
    "sinks": ["Parse", "Split", "Left", "Right"],
}
_RENAMES = {"claim-complexity": "claim-complexity-v2"}
_V2 = f"{seldon_claims.PIPELINE}-v2"

#: Messages (Node-RED), runs (SciPipe) or requests (Seldon) per set: enough that a fault in
#: a branch that 10 % of the samples take shows (the ``switch`` join halves the lines).
DEFAULT_SIZE = {
    "fanout": 300,
    "switch": 1000,
    "sinks": 300,
    "ports": 40,
    "renamed": 200,
    "triggers": 200,
}


DEFAULT_FAULT = {
    "fanout": "Detect",
    "switch": "Rare",
    "sinks": "Right",
    "ports": "stats.high",
    "renamed": "claim-complexity",
    "triggers": "classify",
}


def faults(shape: str) -> list[str]:
    """The nodes a fault can be injected in, for ``shape``."""
    if shape in _NODERED_FAULTS:
        return _NODERED_FAULTS[shape]
    if shape == "ports":
        return list(scipipe_ports.VARIABLES)
    if shape == "renamed":
        return ["claim-complexity", "input"]
    if shape == "triggers":
        return [seldon_triggers.CLASSIFIER, "input"]
    raise ValueError(f"unknown shape {shape!r}; choose one of {', '.join(SHAPES)}")


def _nodered(shape: str, folder: Path, size: int, seed: int, fault: str) -> Example:
    flow = nodered_shapes.shape_flow(shape)
    flows = nodered_shapes.write_flow(folder / "flows.json", flow)
    nodered_shapes.write_shape_log(folder / "normal.log", flow, size, seed=seed)
    nodered_shapes.write_shape_log(folder / "broken.log", flow, size, seed=seed + 1, fault=fault)
    imports = [
        f"provcausal import nodered {folder / (label + '.log')} --workflow {shape} "
        f"--label {label} --flow {flows}"
        for label in ("normal", "broken")
    ]
    return Example(shape, imports, fault)


def _ports(folder: Path, size: int, seed: int, fault: str) -> Example:
    scipipe_ports.write_runs(folder / "normal", size, seed=seed)
    scipipe_ports.write_runs(folder / "broken", size, seed=seed + 1, fault=fault)
    imports = [
        f"provcausal import scipipe {folder / label} --workflow ports --label {label}"
        for label in ("normal", "broken")
    ]
    return Example("ports", imports, fault)


def _renamed(folder: Path, size: int, seed: int, fault: str) -> Example:
    spec = seldon_claims.write_spec(folder / "pipeline.yaml")
    spec2 = seldon_claims.write_spec(folder / "pipeline-v2.yaml", _V2, _RENAMES)
    normal = seldon_claims.simulate(size, seed=seed)
    broken = seldon_claims.simulate(
        size,
        seed=seed + 1,
        complexity_bug=fault == "claim-complexity",
        input_scale=1.5 if fault == "input" else 1.0,
    )
    opts = {"fmt": "raw29", "verbose": True}
    seldon_claims.write_inspect(folder / "normal.txt", normal, seed=seed, **opts)  # type: ignore[arg-type]
    seldon_claims.write_inspect(
        folder / "v2.txt",
        seldon_claims.renamed(broken, _V2, _RENAMES),
        seed=seed + 1,
        **opts,  # type: ignore[arg-type]
    )
    renames = " ".join(
        f"--rename {new}={old}" for old, new in [(seldon_claims.PIPELINE, _V2), *_RENAMES.items()]
    )
    imports = [
        f"provcausal import seldon {folder / 'normal.txt'} --workflow claims --label normal "
        f"--pipeline {spec}",
        f"provcausal import seldon {folder / 'v2.txt'} --workflow claims --label broken "
        f"--pipeline {spec2} {renames}",
    ]
    expected = (
        "claim-complexity" if fault == "claim-complexity" else f"{seldon_claims.PIPELINE}.inputs"
    )
    return Example("claims", imports, expected)


_TRIGGER_RENAMES = {seldon_triggers.CLASSIFIER: f"{seldon_triggers.CLASSIFIER}-v2"}


def _triggers(folder: Path, size: int, seed: int, fault: str) -> Example:
    """The classifier pipeline; the faulty set is a second deployment (``-v2`` names)."""
    spec = seldon_triggers.write_spec(folder / "pipeline.yaml")
    spec2 = seldon_triggers.write_spec(folder / "pipeline-v2.yaml", _V2, _TRIGGER_RENAMES)
    normal = seldon_triggers.simulate(size, seed=seed)
    broken = seldon_triggers.simulate(
        size,
        seed=seed + 1,
        classify_bug=fault == seldon_triggers.CLASSIFIER,
        input_scale=1.5 if fault == "input" else 1.0,
    )
    seldon_claims.write_inspect(folder / "normal.txt", normal, fmt="raw29", verbose=True, seed=seed)
    seldon_claims.write_inspect(
        folder / "v2.txt",
        seldon_claims.renamed(broken, _V2, _TRIGGER_RENAMES),
        fmt="raw29",
        verbose=True,
        seed=seed + 1,
    )
    renames = " ".join(
        f"--rename {new}={old}"
        for old, new in [(seldon_claims.PIPELINE, _V2), *_TRIGGER_RENAMES.items()]
    )
    imports = [
        f"provcausal import seldon {folder / 'normal.txt'} --workflow triggers --label normal "
        f"--pipeline {spec}",
        f"provcausal import seldon {folder / 'v2.txt'} --workflow triggers --label broken "
        f"--pipeline {spec2} {renames}",
    ]
    if fault == seldon_triggers.CLASSIFIER:
        return Example("triggers", imports, fault, by_ports=True)
    return Example("triggers", imports, f"{seldon_claims.PIPELINE}.inputs")


_WRITERS: dict[str, Callable[[Path, int, int, str], Example]] = {
    "fanout": lambda f, n, s, x: _nodered("fanout", f, n, s, x),
    "switch": lambda f, n, s, x: _nodered("switch", f, n, s, x),
    "sinks": lambda f, n, s, x: _nodered("sinks", f, n, s, x),
    "ports": _ports,
    "renamed": _renamed,
    "triggers": _triggers,
}
SHAPES = tuple(_WRITERS)


def write_example(
    shape: str,
    folder: str | Path,
    *,
    size: int | None = None,
    seed: int = 0,
    fault: str | None = None,
) -> Example:
    """Write a normal and a faulty set of ``shape`` into ``folder`` (see the module docstring)."""
    if shape not in _WRITERS:
        raise ValueError(f"unknown shape {shape!r}; choose one of {', '.join(SHAPES)}")
    choices = faults(shape)
    fault = fault or DEFAULT_FAULT[shape]
    if fault not in choices:
        raise ValueError(f"the fault of {shape} must be one of {', '.join(choices)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    example = _WRITERS[shape](folder, size or DEFAULT_SIZE[shape], seed, fault)
    example.commands.append(
        f"provcausal attribute --workflow {example.workflow} --baseline normal --comparison broken"
    )
    return example
