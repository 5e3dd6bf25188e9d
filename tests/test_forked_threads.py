"""The engine's forked copies run one thread (``engine._forked``): OpenBLAS starts spinning
threads in a copy whose thread count changes, which took the other copy's core."""

from __future__ import annotations

import subprocess
import sys
import textwrap

#: Each forked copy writes how many threads it has after its replicates.
THREADS_IN_COPIES = textwrap.dedent(
    """
    import os, sys
    import networkx as nx, numpy as np, pandas as pd
    from provcausal.analysis import engine

    folder = sys.argv[1]
    real = engine._forked_replicate

    def counted(index):
        replicate = real(index)
        status = open("/proc/self/status").read()
        threads = [ln.split()[1] for ln in status.splitlines() if ln.startswith("Threads")][0]
        with open(os.path.join(folder, f"{os.getpid()}-{index}"), "w") as out:
            out.write(threads)
        return replicate

    engine._forked_replicate = counted
    engine.workers = lambda jobs, tasks: 2
    rng = np.random.default_rng(1)

    def side(slope, n=600):
        a = rng.normal(size=n)
        b = slope * a + rng.normal(0, 0.2, n)
        return pd.DataFrame({"a": a, "b": b, "c": np.sin(2 * b) + rng.normal(0, 0.1, n)})

    graph = nx.DiGraph([("a", "b"), ("b", "c")])
    engine.attribute_frames(graph, side(1.0), side(2.0), "c", repeats=6, n_jobs=2)
    """
)


def test_given_forked_copies_then_each_runs_one_thread(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", THREADS_IN_COPIES, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    counts = {path.name: path.read_text() for path in tmp_path.iterdir()}
    assert len(counts) == 7  # the data as given and 6 resamples, each in a copy
    assert set(counts.values()) == {"1"}, counts
