"""The engine's forked copies run one thread (``engine._forked``): GNU OpenMP (the k-d
tree's queries) hangs in a copy of a process that ran a multi-threaded region, and OpenBLAS
starts spinning threads in a copy whose thread count changes, which took the other copy's
core."""

from __future__ import annotations

import subprocess
import sys
import textwrap

#: A process that has run a multi-threaded OpenMP query (GNU OpenMP keeps its thread pool)
#: and then attributes with forked copies whose local models query the tree again.
FORKED_AFTER_OPENMP = textwrap.dedent(
    """
    import networkx as nx, numpy as np, pandas as pd
    from provcausal.analysis import engine
    from provcausal.analysis.mechanisms import NearestNeighbours

    rng = np.random.default_rng(0)
    X = rng.normal(size=(20000, 2))
    NearestNeighbours(5).fit(X, X[:, 0]).predict(X)  # no thread limit here: the pool is made

    def side(freq, n=800):
        src = rng.uniform(0, 6, n)
        wave = np.sin(freq * src) + rng.normal(0, 0.1, n)
        return pd.DataFrame({"src": src, "wave": wave, "out": wave + rng.normal(0, 0.3, n)})

    forks = []
    real = engine._forked
    engine._forked = lambda *a, **k: forks.append(1) or real(*a, **k)
    engine.workers = lambda jobs, tasks: 2  # two copies even on one CPU
    graph = nx.DiGraph([("src", "wave"), ("wave", "out")])
    result = engine.attribute_frames(graph, side(3.0), side(2.0), "out", repeats=6, n_jobs=2)
    assert forks and result.models["wave"] == "trend_neighbours", (forks, result.models)
    print("finished", result.top())
    """
)


def test_given_openmp_threads_ran_before_then_forked_copies_finish() -> None:
    """GNU OpenMP hangs in a forked copy of a process that ran a multi-threaded region,
    unless the copy runs one thread: the engine forks under the one-thread limit and the
    copies keep it (without it this process never finishes)."""
    done = subprocess.run(
        [sys.executable, "-c", FORKED_AFTER_OPENMP], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("finished wave")


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
