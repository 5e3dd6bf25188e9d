"""``watch`` and ``alerts``: follow a workflow as runs arrive; list the shifts it reported."""

from __future__ import annotations

import json
import signal
import sys
from typing import Any

import click

from provcausal.cli.output import emit, json_option, table_text
from provcausal.cli.params import NAME

METRIC = click.Choice(["value", "duration", "latency"])
QUALITY = click.Choice(["fast", "good", "better"])

#: ``watch --once`` exit code when a shift was found (0: none; 2 bad input, 3 store).
SHIFT_EXIT = 4


def _event_text(event: dict[str, Any]) -> str:
    """One readable line per event."""
    kind = event["event"]
    if kind == "shift":
        first = (event.get("attributions") or [{}])[0]
        node = first.get("label") or first.get("node") or "?"
        return (
            f"{event['detected_at']} SHIFT in {event['workflow']!r}: {event['target']!r} left "
            f"its reference (distance {event['shift']['statistic']:.3f} > "
            f"{event['shift']['threshold']:.3f}, {event['recent']['samples']} recent samples); "
            f"{node!r} explains it first. verdict: {event.get('verdict')}"
            + "".join(f"; wrote {p}" for p in event.get("written") or [])
        )
    if kind in ("reference", "rearmed"):
        what = "re-armed, new reference" if kind == "rearmed" else "reference ready"
        return (
            f"{event['at']} {what}: {event['samples']} samples of {event['target']!r} "
            f"({event['metric']}) from {event['runs']} runs; threshold {event['threshold']:.3f}"
        )
    if kind == "started":
        return (
            f"{event['at']} watching {event['workflow']!r} in {event['store']} "
            f"(window {event['window']}, reference: {event['reference']}"
            + (", resumed" if event.get("resumed") else "")
            + ")"
        )
    if kind == "unreachable":
        return f"{event['at']} store unreachable: {event['error']} (retrying)"
    if kind == "recovered":
        return f"{event['at']} store reachable again after {event['after_seconds']:g} s"
    return json.dumps(event)


class _Stop(Exception):
    """SIGTERM: stop as after Ctrl-C, but as a normal end (exit 0)."""


def _on_term(_signum: int, _frame: Any) -> None:
    raise _Stop()


@click.command("watch")
@click.option("--workflow", "-w", type=NAME, required=True, metavar="NAME", help="The workflow.")
@click.option(
    "--target",
    "-t",
    metavar="NODE",
    help="Default: the declared output, else the single sink of the first runs' lineage.",
)
@click.option("--metric", "-m", type=METRIC, help="As for attribute (default: value if any).")
@click.option(
    "--reference",
    "-r",
    metavar="SEL",
    help="Reference runs, selected as for attribute --baseline. Default: the first N samples "
    "seen. Naming a new reference re-arms watch after an alert.",
)
@click.option(
    "--window",
    type=click.IntRange(10, 5000),
    default=50,
    show_default=True,
    metavar="N",
    help="Recent samples tested against the reference (and the reference's size when no "
    "--reference is given).",
)
@click.option(
    "--poll",
    type=click.FloatRange(0.05, 3600),
    default=2.0,
    show_default=True,
    metavar="SECONDS",
    help="Seconds between two looks at the store.",
)
@click.option(
    "--rearm",
    type=click.IntRange(10, 100000),
    metavar="N",
    help="After an alert, the next N samples become the new reference (default: --window).",
)
@click.option(
    "--settle",
    type=click.FloatRange(0, 3600),
    default=2.0,
    show_default=True,
    metavar="SECONDS",
    help="Runs FlowCept captured are read this long after FlowCept marked them finished.",
)
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Write a report page for each alert here.",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Keep the checkpoint and alerts in files here instead of the store (default for a "
    "read-only store such as FlowCept's LMDB: .provcausal/watch).",
)
@click.option("--quality", type=QUALITY, default="fast", show_default=True, help="As attribute.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--once",
    is_flag=True,
    help=f"Evaluate what is stored now and exit: 0 no shift, {SHIFT_EXIT} a shift was reported.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object per event, one per line, on stdout; nothing else there.",
)
@click.pass_obj
def watch_cmd(app, workflow, target, metric, reference, window, poll, rearm, settle,
              report_dir, state_dir, quality, seed, once, as_json):  # fmt: skip
    """Follow a workflow's runs as they arrive; when the target's distribution leaves the
    reference (a sequential test with a bounded false-alarm rate, see docs/watch.md), say which
    node explains it, as attribute does. One line per event (one JSON object per line with
    --json); status on stderr. Ctrl-C stops (exit 130) and the next start resumes."""
    from provcausal.cli.imports import heavy_imports
    from provcausal.stores import open_store

    with heavy_imports():
        from provcausal.watch import Watcher, WatchOptions

    def show(event: dict[str, Any]) -> None:
        line = json.dumps(event, ensure_ascii=False) if as_json else _event_text(event)
        click.echo(line)
        sys.stdout.flush()

    def status(text: str) -> None:
        if not app.quiet:
            click.echo(f"watch: {text}", err=True)

    options = WatchOptions(
        workflow=workflow, target=target, metric=metric, reference=reference, window=window,
        poll=poll, report_dir=report_dir, once=once, rearm=rearm, settle=settle,
        quality=quality, seed=seed,
    )  # fmt: skip
    watcher = Watcher(
        lambda: open_store(app.store_uri, create=False),
        options,
        show,
        status,
        state_dir=state_dir,
    )
    previous = signal.signal(signal.SIGTERM, _on_term)
    try:
        raised = watcher.run()
    except KeyboardInterrupt:
        watcher.close()
        status("interrupted; the checkpoint is saved")
        sys.exit(130)
    except _Stop:
        watcher.close()
        status("stopped (SIGTERM); the checkpoint is saved")
        return
    finally:
        signal.signal(signal.SIGTERM, previous)
        watcher.close()
    if once and raised:
        sys.exit(SHIFT_EXIT)


@click.command("alerts")
@click.option("--workflow", "-w", type=NAME, metavar="NAME", help="Only this workflow's alerts.")
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Where watch kept them if not in the store (as watch --state-dir).",
)
@json_option
@click.pass_obj
def alerts_cmd(app, workflow, state_dir, as_json):
    """List the shifts watch reported, oldest first, with their verdicts."""
    import pandas as pd

    from provcausal.watch import list_alerts

    store = app.store()
    alerts = list_alerts(store, workflow, state_dir)
    if as_json:
        emit(alerts, True)
        return
    rows = [
        {
            "detected_at": a.get("detected_at"),
            "workflow": a.get("workflow"),
            "target": a.get("target"),
            "first": ((a.get("attributions") or [{}])[0].get("label") or "-"),
            "verdict": a.get("verdict"),
        }
        for a in alerts
    ]
    if not rows:
        click.echo("no alerts" + (f" for {workflow!r}" if workflow else ""))
        return
    click.echo(table_text(pd.DataFrame(rows)))


def register(group: click.Group) -> None:
    group.add_command(watch_cmd)
    group.add_command(alerts_cmd)
