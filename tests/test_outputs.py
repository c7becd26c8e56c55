"""Outputs never cost the user a file; internal errors are reported as bugs.

Hostile command lines against `accelsim run`: each is refused before the simulation with one
line naming the option, the path and what was expected (exit code 2; 3 for a bug in
accelsim), no traceback, and every file the user had is byte-for-byte unchanged. Writes are
atomic: a crash, SIGTERM or full disk mid-write leaves the earlier file and no temporary file.
The runs are the MLP's forward pass at batch 2 on edge_16x16.yaml (well under a second).
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from accelsim import __version__
from accelsim.cli import main
from accelsim.errors import MAX_MESSAGE, ConfigError
from accelsim.outputs import atomic_write_text, is_accelsim_output
from accelsim.stats.result import CSV_COLUMNS
from tests.conftest import HWCONFIGS, ROOT

FAST = ["--workload", "mlp", "--batch", "2", "--phases", "fwd", "--top", "1"]


@pytest.fixture
def hw(tmp_path) -> Path:
    """A copy of edge_16x16.yaml that a test may aim outputs at."""
    path = tmp_path / "edge.yaml"
    shutil.copy(HWCONFIGS / "edge_16x16.yaml", path)
    return path


def forbid_simulation(monkeypatch) -> None:
    """Fail the test if the run simulates (pytest.fail is no Exception the CLI catches)."""
    from accelsim.sim.engine import Simulation

    monkeypatch.setattr(Simulation, "run", lambda self, progress=None: pytest.fail(
        "the run simulated before checking its outputs"))


@pytest.fixture
def no_simulation(monkeypatch):
    """A refused run must be refused before it simulates."""
    forbid_simulation(monkeypatch)


def run(capsys, *args: str) -> tuple[int, str]:
    """`accelsim run ARGS` in this process: exit code and stderr."""
    code = main(["run", *args])
    return code, capsys.readouterr().err


def snapshot(*paths: Path) -> dict[Path, bytes | None]:
    """The bytes of each path (None: absent)."""
    return {p: p.read_bytes() if p.exists() else None for p in paths}


def assert_refused(capsys, args: list[str], line: str, *files: Path) -> None:
    """The run exits with code 2 printing exactly ``line`` and leaves ``files`` as they were
    (absent ones absent), with no temporary file beside them."""
    before = snapshot(*files)
    code, err = run(capsys, *args)
    assert code == 2, err
    assert "Traceback" not in err
    assert err == line + "\n"
    assert snapshot(*files) == before
    for folder in {path.parent for path in files if path.parent.is_dir()}:
        assert not list(folder.glob(".*.tmp"))


def earlier_result(capsys, hw: Path, out: Path) -> bytes:
    """Write an accelsim result to ``out`` (the file a later run must not lose); its bytes."""
    code, err = run(capsys, "--hw", str(hw), *FAST, "--out", str(out))
    assert code == 0, err
    return out.read_bytes()


# --- outputs onto the run's inputs ------------------------------------------------------------

def test_out_onto_the_hwconfig(capsys, hw, no_simulation):
    """--out naming the hwconfig file is refused: it is an input."""
    assert_refused(capsys, ["--hw", str(hw), *FAST, "--out", str(hw)],
                   f"error: --out: {hw}: expected a file this run does not read (it is the "
                   "hwconfig file)", hw)


def test_out_onto_an_extends_base(capsys, hw, tmp_path, no_simulation):
    """--out naming the base a hwconfig extends (two levels up) is refused."""
    middle, top = tmp_path / "middle.yaml", tmp_path / "top.yaml"
    middle.write_text(f"extends: {hw.name}\nname: middle\n")
    top.write_text("extends: middle.yaml\nname: top\n")
    for base in (hw, middle):
        assert_refused(capsys, ["--hw", str(top), *FAST, "--out", str(base)],
                       f"error: --out: {base}: expected a file this run does not read (it is "
                       "a base the hwconfig extends)", hw, middle, top)


def test_out_onto_a_base_of_an_inline_hwconfig(capsys, hw, tmp_path, no_simulation):
    """A run spec's inline hwconfig that extends a file: that file is an input too."""
    spec = tmp_path / "run.yaml"
    spec.write_text(f"hwconfig: {{extends: {hw.name}}}\nworkload: mlp\nbatch: 2\n"
                    "phases: [fwd]\n")
    assert_refused(capsys, ["--spec", str(spec), "--out", str(hw)],
                   f"error: --out: {hw}: expected a file this run does not read (it is a base "
                   "the hwconfig extends)", hw, spec)


def test_out_through_a_symlink_and_a_hard_link_to_the_hwconfig(capsys, hw, tmp_path,
                                                              no_simulation):
    """Another name of the hwconfig (symlink, hard link) is still the hwconfig."""
    soft, hard = tmp_path / "soft.json", tmp_path / "hard.json"
    soft.symlink_to(hw)
    os.link(hw, hard)
    for alias in (soft, hard):
        assert_refused(capsys, ["--hw", str(hw), *FAST, "--out", str(alias)],
                       f"error: --out: {alias}: expected a file this run does not read (it is "
                       "the hwconfig file)", hw)


def test_csv_onto_a_workload_yaml(capsys, hw, tmp_path, no_simulation):
    """--csv naming the workload YAML file is refused."""
    workload = tmp_path / "lenet5.yaml"
    shutil.copy(ROOT / "workloads" / "lenet5.yaml", workload)
    assert_refused(capsys, ["--hw", str(hw), "--workload", str(workload), "--csv",
                            str(workload)],
                   f"error: --csv: {workload}: expected a file this run does not read (it is "
                   "the workload file)", workload)


def test_csv_onto_a_scalesim_csv(capsys, hw, tmp_path, no_simulation):
    """--csv naming the SCALE-Sim topology CSV it reads is refused (it is a CSV, but not
    accelsim's)."""
    topology = tmp_path / "gemm.csv"
    topology.write_text("Layer, M, N, K,\ng,8,8,1,\n")
    assert_refused(capsys, ["--hw", str(hw), "--workload", str(topology), "--csv",
                            str(topology)],
                   f"error: --csv: {topology}: expected a file this run does not read (it is "
                   "the workload file)", topology)


@pytest.mark.parametrize("option,name", [("--csv", "graph.json"), ("--out", "manifest.json"),
                                         ("--timeline", "stats.npz")])
def test_output_onto_a_file_of_a_traced_folder(capsys, hw, tmp_path, option, name,
                                               no_simulation):
    """Any file inside a traced workload folder is an input."""
    folder = tmp_path / "mlp"
    shutil.copytree(ROOT / "workloads" / "traced" / "mlp", folder)
    target = folder / name
    assert_refused(capsys, ["--hw", str(hw), "--workload", str(folder), "--phases", "fwd",
                            option, str(target)],
                   f"error: {option}: {target}: expected a file this run does not read (it is "
                   f"a file of the workload folder {folder})", *sorted(folder.iterdir()))


def test_out_onto_the_run_spec(capsys, hw, tmp_path, no_simulation):
    """--out naming the run-spec file is refused."""
    spec = tmp_path / "run.yaml"
    spec.write_text(f"hwconfig: {hw.name}\nworkload: mlp\nbatch: 2\nphases: [fwd]\n")
    assert_refused(capsys, ["--spec", str(spec), "--out", str(spec)],
                   f"error: --out: {spec}: expected a file this run does not read (it is the "
                   "run-spec file)", spec, hw)


# --- outputs onto each other, folders ---------------------------------------------------------

def test_out_and_csv_share_a_path(capsys, hw, tmp_path, no_simulation):
    """--out and --csv naming one file (spelt two ways) is refused; nothing is created."""
    target = tmp_path / "r.json"
    spelt = tmp_path / "." / "r.json"
    assert_refused(capsys, ["--hw", str(hw), *FAST, "--out", str(target), "--csv", str(spelt)],
                   f"error: --csv: {spelt}: expected a path of its own (--out writes there "
                   "too)", target)


def test_out_and_timeline_share_an_earlier_result(capsys, hw, tmp_path, monkeypatch):
    """--out and --timeline naming one earlier result is refused; the result is unchanged."""
    target = tmp_path / "r.json"
    earlier_result(capsys, hw, target)
    forbid_simulation(monkeypatch)
    assert_refused(capsys, ["--hw", str(hw), *FAST, "--out", str(target), "--timeline",
                            str(target)],
                   f"error: --timeline: {target}: expected a path of its own (--out writes "
                   "there too)", target)


def test_out_into_a_missing_folder(capsys, hw, tmp_path, no_simulation):
    """--out inside a folder that does not exist is refused before the run (it used to
    fail with a traceback after the whole simulation)."""
    target = tmp_path / "missing" / "r.json"
    assert_refused(capsys, ["--hw", str(hw), *FAST, "--out", str(target)],
                   f"error: --out: {target}: expected a path in an existing folder "
                   f"({target.parent.resolve()} does not exist; create it first)", target)
    assert not target.parent.exists()


def test_out_onto_an_existing_folder(capsys, hw, tmp_path, no_simulation):
    """--out naming an existing folder is refused; the folder's files are untouched."""
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    assert_refused(capsys, ["--hw", str(hw), *FAST, "--out", str(folder)],
                   f"error: --out: {folder}: expected a file path, not an existing folder",
                   folder / "keep.txt")


def test_timeline_under_a_file(capsys, hw, tmp_path, no_simulation):
    """--timeline whose folder is a file is refused."""
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    target = notes / "t.json"
    assert_refused(capsys, ["--hw", str(hw), *FAST, "--timeline", str(target)],
                   f"error: --timeline: {target}: expected a path in a folder "
                   f"({notes.resolve()} is not a folder)", notes)


def test_out_in_an_unwritable_folder(capsys, hw, tmp_path, no_simulation):
    """--out in a folder without write permission (0o500) is refused."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("a 0o500 folder is writable here (running as root)")
        target = folder / "r.json"
        assert_refused(capsys, ["--hw", str(hw), *FAST, "--out", str(target)],
                       f"error: --out: {target}: expected a path in a folder you can write to "
                       f"({folder.resolve()} is not writable)", target)
    finally:
        folder.chmod(0o700)


def test_out_in_a_folder_access_denies(capsys, hw, tmp_path, monkeypatch, no_simulation):
    """The same refusal where the OS says the folder is not writable (simulated through
    os.access, so that it is checked as root too)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: (
        False if Path(path).resolve() == folder.resolve() else real_access(path, mode, **kw)))
    target = folder / "r.json"
    assert_refused(capsys, ["--hw", str(hw), *FAST, "--out", str(target)],
                   f"error: --out: {target}: expected a path in a folder you can write to "
                   f"({folder.resolve()} is not writable)", target)


# --- existing files: replaced only when accelsim wrote them, or with --force -----------------

def test_out_onto_an_unrelated_file_needs_force(capsys, hw, tmp_path, no_simulation):
    """An existing file that accelsim did not write is refused without --force."""
    notes = tmp_path / "notes.json"
    notes.write_text('{"my": "notes"}\n')
    assert_refused(capsys, ["--hw", str(hw), *FAST, "--out", str(notes)],
                   f"error: --out: {notes}: expected a new file or an earlier accelsim output "
                   "(this existing file is neither; pass --force to replace it)", notes)


def test_csv_onto_a_foreign_csv_needs_force(capsys, hw, tmp_path, no_simulation):
    """A CSV whose header is not accelsim's per-op header (one column short) is refused."""
    table = tmp_path / "ops.csv"
    table.write_text(",".join(CSV_COLUMNS[:-1]) + "\r\nmine\r\n")
    assert_refused(capsys, ["--hw", str(hw), *FAST, "--csv", str(table)],
                   f"error: --csv: {table}: expected a new file or an earlier accelsim output "
                   "(this existing file is neither; pass --force to replace it)", table)


def test_force_replaces_an_unrelated_file(capsys, hw, tmp_path):
    """With --force the unrelated file is replaced by the result."""
    notes = tmp_path / "notes.json"
    notes.write_text('{"my": "notes"}\n')
    code, err = run(capsys, "--hw", str(hw), *FAST, "--out", str(notes), "--force")
    assert code == 0, err
    assert json.loads(notes.read_text())["schema"] == "accelsim.run/1"


def test_earlier_outputs_are_replaced(capsys, hw, tmp_path):
    """Earlier accelsim outputs (result, CSV, timeline) are replaced without --force: a
    second run with ideal DRAM rewrites all three (its total cycles differ)."""
    out, table, timeline = tmp_path / "r.json", tmp_path / "r.csv", tmp_path / "t.json"
    paths = ["--out", str(out), "--csv", str(table), "--timeline", str(timeline)]
    code, err = run(capsys, "--hw", str(hw), *FAST, *paths)
    assert code == 0, err
    first = snapshot(out, table, timeline)
    assert all(is_accelsim_output(p) for p in first)
    code, err = run(capsys, "--hw", str(hw), *FAST, *paths, "--set", "dram.ideal=true")
    assert code == 0, err
    second = snapshot(out, table, timeline)
    assert all(second[p] != first[p] for p in first)
    assert json.loads(out.read_text())["run"]["spec"]["overrides"] == ["dram.ideal=true"]
    assert json.loads(timeline.read_text())["otherData"]["generator"] == "accelsim"
    assert not list(tmp_path.glob(".*.tmp"))


def test_dev_null_is_accepted(capsys, hw):
    """A special file such as /dev/null holds nothing to lose: it is written, not refused
    and not replaced."""
    if not Path("/dev/null").exists():
        pytest.skip("no /dev/null here")
    code, err = run(capsys, "--hw", str(hw), *FAST, "--out", "/dev/null")
    assert code == 0, err
    assert Path("/dev/null").is_char_device()


# --- options --------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["-3", "three"])
def test_top_must_be_a_whole_number(capsys, hw, value, no_simulation):
    """--top -3 (silently accepted before) and --top three are one error line."""
    assert_refused(capsys, ["--hw", str(hw), *FAST, "--top", value],
                   "error: accelsim run: argument --top: expected a whole number >= 0, got "
                   f"{value!r} (see `accelsim run --help`)", hw)


# --- failures while writing -----------------------------------------------------------------

def _fail_writes_after_half(monkeypatch, error: BaseException) -> None:
    """os.write on a file (not stdout/stderr) writes half its bytes once, then raises
    ``error`` once: a write that dies mid-file."""
    real_write = os.write
    state = {"calls": 0}

    def write(fd, data):
        if fd <= 2 or state["calls"] >= 2:
            return real_write(fd, data)
        state["calls"] += 1
        if state["calls"] == 1:
            return real_write(fd, bytes(data[:len(data) // 2]))
        raise error

    monkeypatch.setattr(os, "write", write)


def test_crash_while_writing_keeps_the_earlier_result(capsys, hw, tmp_path, monkeypatch):
    """A crash (a RuntimeError) half-way through writing --out: an internal error (exit 3);
    the earlier result is intact and no temporary file is left."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "logs"))
    (tmp_path / "logs").mkdir()
    out = tmp_path / "r.json"
    earlier = earlier_result(capsys, hw, out)
    _fail_writes_after_half(monkeypatch, RuntimeError("crash mid-write"))
    code, err = run(capsys, "--hw", str(hw), *FAST, "--out", str(out), "--seed", "1")
    assert code == 3
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert "RuntimeError: crash mid-write" in err
    assert out.read_bytes() == earlier
    assert not list(tmp_path.glob(".*.tmp"))


def test_disk_full_keeps_the_earlier_result(capsys, hw, tmp_path, monkeypatch):
    """ENOSPC half-way through writing --out: exit 2, one line naming the path and the OS
    reason; the earlier result intact, no temporary file."""
    out = tmp_path / "r.json"
    earlier = earlier_result(capsys, hw, out)
    _fail_writes_after_half(monkeypatch, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
    code, err = run(capsys, "--hw", str(hw), *FAST, "--out", str(out), "--seed", "1")
    assert code == 2
    assert err == (f"error: {out}: expected free disk space to write the whole file "
                   f"({os.strerror(errno.ENOSPC)}, ENOSPC); nothing was written there and any "
                   "earlier file is unchanged\n")
    assert out.read_bytes() == earlier
    assert not list(tmp_path.glob(".*.tmp"))


def test_disk_full_at_fsync_keeps_the_earlier_csv(capsys, hw, tmp_path, monkeypatch):
    """ENOSPC reported by fsync (delayed allocation) while writing --csv: the same."""
    table = tmp_path / "r.csv"
    code, err = run(capsys, "--hw", str(hw), *FAST, "--csv", str(table))
    assert code == 0, err
    earlier = table.read_bytes()

    def fsync(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", fsync)
    code, err = run(capsys, "--hw", str(hw), *FAST, "--csv", str(table), "--seed", "1")
    assert code == 2
    assert err.startswith(f"error: {table}: expected free disk space to write the whole file")
    assert table.read_bytes() == earlier
    assert not list(tmp_path.glob(".*.tmp"))


SLOW_FSYNC = """\
import os, sys, time
from pathlib import Path

def slow_fsync(fd):  # the data is in the temporary file; hold the write open
    Path(sys.argv[1]).write_text("writing")
    time.sleep(120)

os.fsync = slow_fsync
from accelsim.cli import main
raise SystemExit(main(sys.argv[2:]))
"""


def test_sigterm_while_writing_keeps_the_earlier_result(capsys, hw, tmp_path):
    """SIGTERM while --out is being written (a real signal to a real process, whose fsync is
    made slow so that the signal lands mid-write): exit 143 with one line, the earlier result
    intact (it used to become a 0-byte file) and the temporary file removed."""
    out, flag = tmp_path / "r.json", tmp_path / "writing"
    earlier = earlier_result(capsys, hw, out)
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_FSYNC, str(flag), "run", "--hw", str(hw), *FAST,
         "--out", str(out), "--seed", "1"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not flag.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert flag.exists(), process.stderr.read() if process.poll() is not None else ""
        assert list(tmp_path.glob(".r.json.*.tmp"))  # caught in the middle of the write
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 128 + signal.SIGTERM
    assert err == "terminated (SIGTERM)\n"
    assert out.read_bytes() == earlier
    assert not list(tmp_path.glob(".*.tmp"))


# --- bugs and interruptions -------------------------------------------------------------------

def test_internal_error_is_reported_as_a_bug(capsys, hw, tmp_path, monkeypatch):
    """An exception that is not the user's (a RuntimeError inside the engine): exit 3, one
    line naming the exception, a bug and a log file; the log holds the traceback, the command
    line and the versions; the earlier result is unchanged."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    out = tmp_path / "r.json"
    earlier = earlier_result(capsys, hw, out)
    from accelsim.sim.engine import Simulation

    def broken(self, progress=None):
        raise RuntimeError("engine exploded")

    monkeypatch.setattr(Simulation, "run", broken)
    code, err = run(capsys, "--hw", str(hw), *FAST, "--out", str(out))
    assert code == 3
    assert "Traceback" not in err and len(err.splitlines()) == 1
    match = re.fullmatch(rf"internal error in accelsim {re.escape(__version__)}: RuntimeError: "
                         r"engine exploded \(a bug: please report it with the command line and "
                         r"the log (\S+)\)\n", err)
    assert match, err
    log = Path(match.group(1)).read_text()
    assert log.startswith("internal error in accelsim")
    assert "Traceback (most recent call last)" in log and "engine exploded" in log
    assert f"command: accelsim run --hw {hw}" in log
    assert f"accelsim {__version__}" in log and "numpy" in log
    assert out.read_bytes() == earlier


def test_ctrl_c_is_one_line(capsys, hw, monkeypatch):
    """Ctrl-C during the run: exit 130, one line, no traceback."""
    from accelsim.sim.engine import Simulation

    def interrupted(self, progress=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(Simulation, "run", interrupted)
    assert run(capsys, "--hw", str(hw), *FAST) == (130, "interrupted (Ctrl-C)\n")


# --- bounded messages -----------------------------------------------------------------------

def test_a_10_mb_value_renders_a_bounded_message():
    """A ConfigError that got a 10 MB string renders in at most MAX_MESSAGE (500)
    characters, the value cut with an ellipsis; so do 10,000 choices."""
    error = ConfigError("hw.yaml", "pe_array.dataflow", "one of the valid choices",
                        choices=[f"choice{i}" for i in range(10_000)], got="z" * 10_000_000)
    text = str(error)
    assert len(text) <= MAX_MESSAGE
    assert text.startswith("hw.yaml: pe_array.dataflow: expected one of the valid choices, got "
                           "'zzz")
    assert "z\u2026 (valid choices: choice0, choice1" in text
    assert re.search(r", \.\.\. and \d+ more\)$", text)


def test_alias_bomb_hwconfig_is_one_short_line(capsys, tmp_path, hw, no_simulation):
    """A YAML alias bomb (9**9 leaves, shared) as a hwconfig value: one error line of at most
    500 characters, quickly (it once produced a 2 GB line)."""
    levels = ['&a0 [' + ", ".join(['"lol"'] * 9) + "]"]
    levels += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(f"extends: {hw.name}\npe_array:\n  dataflow: [{', '.join(levels)}]\n")
    code, err = run(capsys, "--hw", str(bomb), *FAST)
    assert code == 2 and "Traceback" not in err
    assert err.startswith(f"error: {bomb}: ") and "expected" in err
    assert len(err.splitlines()) == 1 and len(err) <= len("error: \n") + MAX_MESSAGE


def test_a_long_value_through_the_command_line(capsys, tmp_path, hw, no_simulation):
    """A 100 KB hwconfig value gives one error line of at most 500 characters."""
    big = tmp_path / "big.yaml"
    big.write_text(f"extends: {hw.name}\npe_array:\n  dataflow: {'z' * 100_000}\n")
    code, err = run(capsys, "--hw", str(big), *FAST)
    assert code == 2 and "Traceback" not in err
    assert err.startswith(f"error: {big}: pe_array.dataflow: expected ")
    assert "z\u2026" in err
    assert len(err.splitlines()) == 1 and len(err) <= len("error: \n") + MAX_MESSAGE


# --- the writer and the scripts -------------------------------------------------------------

def test_atomic_write_replaces_whole_files(tmp_path):
    """atomic_write_text replaces the file's content at once and leaves no temporary file;
    a file written through a symlink keeps the link."""
    target, link = tmp_path / "a.txt", tmp_path / "link.txt"
    target.write_text("old")
    link.symlink_to(target)
    atomic_write_text(link, "new \u00e9")
    assert link.is_symlink() and target.read_text(encoding="utf-8") == "new \u00e9"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "link.txt"]


@pytest.mark.parametrize("script", ["reproduce_ant.py", "bandwidth_study.py",
                                    "residency_study.py", "reproduce_acrtc.py",
                                    "reproduce_mquans.py"])
def test_scripts_check_their_folder_before_the_sweep(tmp_path, script):
    """A study script whose --out is an existing file stops at once (no sweep): one line,
    exit 2, the file unchanged."""
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / script), "--out", str(notes)],
                          capture_output=True, text=True, cwd=tmp_path, check=False)
    assert done.returncode == 2
    assert done.stderr == f"error: --out: {notes}: expected a folder (this is an existing file)\n"
    assert notes.read_text() == "mine"
    assert time.monotonic() - started < 30  # the sweeps take minutes


def test_reproduce_ant_default_folder_is_in_the_current_folder(tmp_path):
    """reproduce_ant.py's default --out is out/ant in the current folder, not the
    repository: run where `out` is a file, it stops at once naming out/ant."""
    (tmp_path / "out").write_text("mine")
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "reproduce_ant.py")],
                          capture_output=True, text=True, cwd=tmp_path, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: --out: {Path('out') / 'ant'}: expected a folder "
                                  "that can be created (")
    assert (tmp_path / "out").read_text() == "mine"


@pytest.mark.parametrize("make, extra, message", [
    (lambda p: p.write_text("mine"), [], "expected a folder (this is an existing file)"),
    (lambda p: (p.mkdir(), (p / "notes.txt").write_text("mine")), [],
     "expected a new or empty folder, or an earlier traced workload (this folder holds other "
     "files; pass --force to write into it)"),
    (lambda p: None, ["--lr", "nan"], "--lr: expected a finite positive learning rate, got nan"),
], ids=["onto-a-file", "into-a-folder-of-other-files", "nan-learning-rate"])
def test_trace_refuses_before_tracing(tmp_path, capsys, make, extra, message):
    """`accelsim trace` checks its output folder and options before it trains (which takes
    minutes): a file, or a folder of the user's other files, is refused and left as it was."""
    pytest.importorskip("torch")
    out = tmp_path / "traced"
    make(out)

    def snapshot() -> dict:
        return {p.name: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}

    before = snapshot()
    code = main(["trace", "--model", "accelsim.trace.models:mlp", "--input", "784",
                 "--out", str(out), *extra])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and message in err
    assert snapshot() == before
