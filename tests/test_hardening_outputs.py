"""Round three (issue 22): what the CLI writes never destroys anything. ``example --force``
removes only plain names inside its folder, no output may be the store's own file, and a full
disk keeps the earlier output file instead of leaving a truncated one."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from provcausal.cli.commands_example import MARKER
from provcausal.stores import open_store
from tests.helpers import chain_run, run_cli

ATTRIBUTE = ["-w", "gcratio", "-b", "normal", "-c", "broken", "--repeats", "0"]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_example_force_removes_only_plain_names_inside_the_folder(tmp_path):
    folder, victim = tmp_path / "ex", tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    outside = tmp_path / "outside.txt"
    outside.write_text("mine too")
    folder.mkdir()
    (folder / "link").symlink_to(victim)  # a listed link goes, never what it points to
    listed = ["../victim", str(outside), "..", ".", "a/../../outside.txt", "link", "normal"]
    (folder / MARKER).write_text("\n".join(listed) + "\n")
    (folder / "normal").mkdir()
    run_cli("example", "gcratio", str(folder), "--runs", "5", "--force").ok()
    assert (victim / "keep.txt").read_text() == "mine"
    assert outside.read_text() == "mine too"
    assert not (folder / "link").exists() and not (folder / "link").is_symlink()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Path:
    path = tmp_path / "store.db"
    with open_store(f"sqlite://{path}") as store:
        store.put_runs([chain_run(f"/r{i}") for i in range(3)])
    return path


def _outputs(name: str) -> list[list[str]]:
    return [
        ["export", "-w", "wf", "-o", name],
        ["export", "-w", "wf", "-f", "json", "-o", name],
        ["report", *ATTRIBUTE, "-o", name],
        ["attribute", *ATTRIBUTE, "--report", name],
        ["attribute", *ATTRIBUTE, "--plot", name],
        ["graph", "-w", "wf", "-o", name],
    ]


def test_output_that_is_the_sqlite_store_is_refused(tmp_path, sqlite_store):
    before = digest(sqlite_store)
    (tmp_path / "link.db").symlink_to(sqlite_store)
    os.link(sqlite_store, tmp_path / "hard.db")
    names = [str(sqlite_store), str(tmp_path / "link.db"), str(tmp_path / "hard.db"),
             str(tmp_path / "." / "store.db"), f"{sqlite_store}-wal"]  # fmt: skip
    for name in names:
        for args in _outputs(name):
            run_cli(*args, store=f"sqlite://{sqlite_store}").error(2, "the store's own file")
    assert digest(sqlite_store) == before
    with open_store(f"sqlite://{sqlite_store}", create=False) as store:
        assert len(store.find_runs()) == 3


def test_output_that_is_flowcepts_lmdb_is_refused(tmp_path):
    pytest.importorskip("lmdb")
    from tests.lmdb_layout import write_runs

    folder = tmp_path / "lmdb"
    write_runs(folder, [chain_run("/r1")])
    before = digest(folder / "data.mdb")
    for args in _outputs(str(folder / "data.mdb")):
        run_cli(*args, store=f"lmdb://{folder}").error(2, "the store's own file")
    assert digest(folder / "data.mdb") == before


# -- a full disk ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gcratio_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("gcratio")
    uri = f"sqlite://{root}/store.db"
    run_cli("example", "gcratio", str(root / "ex"), "--runs", "8").ok()
    for label in ("normal", "broken"):
        run_cli("import", "scipipe", str(root / "ex" / label), "-w", "gcratio", "-l", label,
                store=uri).ok()  # fmt: skip
    return uri


@contextlib.contextmanager
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs (root only): the real "No space left on device"."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path, leave: int) -> None:
    """Fill ``disk`` up to ``leave`` bytes free."""
    stats = os.statvfs(disk)
    free = stats.f_bavail * stats.f_frsize
    with open(disk / "filler", "wb") as file, contextlib.suppress(OSError):
        file.write(b"\0" * max(0, free - leave))


@pytest.mark.parametrize("flag", ["report -o", "--plot", "--report"])
def test_full_disk_keeps_the_earlier_file(tmp_path, gcratio_store, flag):
    with tiny_disk(tmp_path) as disk:
        target = disk / ("page.html" if flag != "--plot" else "chart.png")
        target.write_bytes(b"the earlier file\n")
        _fill(disk, leave=4096)
        if flag == "report -o":
            args = ["report", *ATTRIBUTE, "-o", str(target)]
        else:
            args = ["attribute", *ATTRIBUTE, flag, str(target)]
        line = run_cli(*args, store=gcratio_store).error(2, str(target))
        assert "No space left on device" in line
        assert target.read_bytes() == b"the earlier file\n"
        assert sorted(p.name for p in disk.iterdir()) == sorted(["filler", target.name])


@pytest.mark.parametrize("flag", ["report -o", "--plot"])
def test_failing_write_keeps_the_earlier_file(tmp_path, gcratio_store, flag, monkeypatch):
    """The same without root: every write fails half-way, as on a full disk."""
    import matplotlib.figure

    real_write, real_savefig = os.write, matplotlib.figure.Figure.savefig

    def half_write(fd: int, data: bytes) -> int:
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def half_savefig(self, fname, *args, **kwargs):
        real_savefig(self, fname, *args, **kwargs)
        os.truncate(fname, 100)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", half_write)
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", half_savefig)
    target = tmp_path / ("page.html" if flag != "--plot" else "chart.png")
    target.write_bytes(b"the earlier file\n")
    if flag == "report -o":
        args = ["report", *ATTRIBUTE, "-o", str(target)]
    else:
        args = ["attribute", *ATTRIBUTE, flag, str(target)]
    run_cli(*args, store=gcratio_store).error(2, str(target), "No space left on device")
    assert target.read_bytes() == b"the earlier file\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]
