"""Identity comes from the records (issue 13): the same SciPipe run from another folder, or the
same Seldon requests from files grouped differently, is the same run with the same samples."""

from __future__ import annotations

import shutil
from pathlib import Path

from provcausal.examples import scipipe_gcratio, seldon_claims
from provcausal.ingest import import_paths
from provcausal.model import flowcept as fc
from provcausal.stores import open_store


def runs_and_samples(store_uri: str) -> tuple[int, int, int]:
    with open_store(store_uri) as store:
        runs = store.find_runs()
        samples = {
            (fc.task_sample(t, str(r["workflow_id"])))
            for r in runs
            for t in store.find_tasks([str(r["workflow_id"])])
        }
        return len(runs), len(samples), store.count_tasks()


def test_scipipe_run_from_another_folder_is_the_same_run(tmp_path, store_uri):
    first = tmp_path / "here" / "run"
    scipipe_gcratio.write_run(first, seed=3)
    moved = tmp_path / "elsewhere" / "copy-of-run"
    shutil.copytree(first, moved)
    other = tmp_path / "other"
    scipipe_gcratio.write_run(other, seed=4)  # another execution: other audit IDs
    with open_store(store_uri) as store:
        (a,) = import_paths(store, "scipipe", [first], "gc").runs
        (b,) = import_paths(store, "scipipe", [moved], "gc").runs
        assert a == b
        assert runs_and_samples(store_uri) == (1, 1, 11)
        (c,) = import_paths(store, "scipipe", [other], "gc").runs
        assert c != a
    assert runs_and_samples(store_uri) == (2, 2, 22)


def _split_by_topic(path: Path, folder: Path) -> list[Path]:
    """Raw <= 2.8 inspect output split into one file per topic kind, as `seldon pipeline
    inspect pipe.step` per step would save it."""
    folder.mkdir()
    parts: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        topic = line.split("\t", 1)[0]
        kind = "pipeline" if ".pipeline." in topic else "model"
        parts.setdefault(kind, []).append(line)
    out = []
    for kind, lines in sorted(parts.items()):
        out.append(folder / f"{kind}.txt")
        out[-1].write_text("\n".join(lines) + "\n")
    return out


def test_seldon_requests_grouped_differently_are_the_same_run(tmp_path, store_uri):
    requests = seldon_claims.simulate(4, seed=2)
    whole = seldon_claims.write_inspect(tmp_path / "all.txt", requests, fmt="raw28", verbose=True)
    parts = _split_by_topic(whole, tmp_path / "parts")
    assert len(parts) == 2
    copy = tmp_path / "copy" / "inspect-output.txt"
    copy.parent.mkdir()
    shutil.copy(whole, copy)
    with open_store(store_uri) as store:
        (a,) = import_paths(store, "seldon", [whole], "claims").runs
        (b,) = import_paths(store, "seldon", parts, "claims").runs  # the files together
        (c,) = import_paths(store, "seldon", [copy], "claims").runs  # from another folder
        assert a == b == c
        assert runs_and_samples(store_uri)[:2] == (1, 4)
        full_tasks = store.count_tasks()
        for part in parts:  # apart: each file alone holds the same requests
            (d,) = import_paths(store, "seldon", [part], "claims").runs
            assert d == a
            assert runs_and_samples(store_uri)[:2] == (1, 4)
        import_paths(store, "seldon", parts, "claims")  # together again: whole again
        assert store.count_tasks() == full_tasks
    other = seldon_claims.write_inspect(
        tmp_path / "other.txt", seldon_claims.simulate(3, seed=5), fmt="raw28", verbose=True
    )
    with open_store(store_uri) as store:
        import_paths(store, "seldon", [other], "claims")
    assert runs_and_samples(store_uri)[:2] == (2, 7)
