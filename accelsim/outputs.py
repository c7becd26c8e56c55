"""Output files that never cost the user a file: checks before a run, atomic writes after it.

:func:`check_outputs` runs before any simulation and refuses, each with one
:class:`~accelsim.errors.OutputError` naming the option, the path and what was expected, an
output path that

- is an existing folder, or lies in a folder that is missing, not a folder or not writable;
- is a file the run reads (the hwconfig and every base it ``extends:``, the workload file or
  any file of a traced workload folder, the run-spec file), compared as resolved paths and,
  where both exist, as the same file (hard links included);
- is also the path of another output of the run;
- is an existing file that is not an earlier accelsim output, unless ``force`` is given.

An earlier accelsim output is recognised by its content: a result JSON with
``"schema": "accelsim.run/1"``, a CSV whose header is exactly the per-op CSV header or one of
the SCALE-Sim report headers (:mod:`accelsim.stats.scalesim_reports`; SCALE-Sim's own reports
have the same header, so they are replaced too), or a timeline whose ``otherData`` names
``"generator": "accelsim"`` (or, from older versions, the result schema). Special files
(``/dev/null``, pipes) hold nothing to lose and are accepted. ``new_folders`` of
:func:`check_outputs` are folders a run creates (``--scalesim-reports``): a missing one must lie
in an existing, writable folder; an existing path must be a folder.

:func:`atomic_write_text` / :func:`atomic_write_bytes` write a temporary file in the target's
folder, flush and fsync it, then ``os.replace`` it onto the target: a reader, a crash, a
SIGTERM or a full disk sees either the earlier file or the complete new one. On failure the
temporary file is removed and one ``OutputError`` names the path and the OS reason.
:func:`prepare_folder` creates and checks a script's output folder before its sweep runs.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

from accelsim.errors import OutputError

#: Bytes read from an existing file to recognise an accelsim output by its start.
_HEAD_BYTES = 4096
#: Largest existing JSON file parsed in full to recognise it (when its start does not tell).
_PARSE_LIMIT = 64 * 2**20
#: Bytes handed to one ``os.write`` call.
_CHUNK = 2**20
_RESULT_HEAD = re.compile(rb'\A\s*\{\s*"schema"\s*:\s*"accelsim\.run/1"')
_TIMELINE_HEAD = re.compile(rb'\A\s*\{\s*"otherData"\s*:\s*\{\s*"generator"\s*:\s*"accelsim"')
#: Marker of an accelsim timeline (``otherData.generator``).
GENERATOR = "accelsim"

#: What an OS error on writing means for the user, by errno.
_REASONS = {
    getattr(errno, name): reason for name, reason in (
        ("ENOSPC", "free disk space to write the whole file"),
        ("EDQUOT", "disk quota left to write the whole file"),
        ("EACCES", "a folder you can write to"),
        ("EPERM", "a folder you can write to"),
        ("EROFS", "a file system that is not read-only"),
        ("ENOENT", "an existing folder"),
        ("ENOTDIR", "a path whose folders are folders"),
        ("EISDIR", "a file path, not a folder"),
    ) if hasattr(errno, name)}


def _resolved(path: str | Path) -> Path:
    return Path(os.path.realpath(os.path.abspath(path)))


def _is_special(path: Path) -> bool:
    """An existing file that is neither a regular file nor a folder (a device, a pipe)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def _same_file(a: Path, b: Path) -> bool:
    if a == b:
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (or cannot be read): different files
        return False


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(_HEAD_BYTES)
    except OSError:
        return b""


def _json_marks_accelsim(path: Path) -> bool:
    """A JSON document small enough to parse whose top level says accelsim wrote it."""
    try:
        if path.stat().st_size > _PARSE_LIMIT:
            return False
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    if not isinstance(data, dict):
        return False
    other = data.get("otherData")
    schema = _result_schema()
    return data.get("schema") == schema or (isinstance(other, dict) and (
        other.get("generator") == GENERATOR or other.get("schema") == schema))


def _result_schema() -> str:
    # stats.result writes through this module: import it when needed, not at import time.
    from accelsim.stats.result import SCHEMA

    return SCHEMA


def _csv_header() -> str:
    from accelsim.stats.result import CSV_COLUMNS

    return ",".join(CSV_COLUMNS)


def _report_headers() -> tuple[str, ...]:
    from accelsim.stats.scalesim_reports import HEADERS

    return tuple(HEADERS.values())


def is_accelsim_output(path: str | Path) -> bool:
    """Whether the existing file at ``path`` is a result JSON, per-op CSV, SCALE-Sim-style
    report or timeline that accelsim wrote (module docstring)."""
    path = Path(path)
    head = _head(path)
    if _RESULT_HEAD.match(head) or _TIMELINE_HEAD.match(head):
        return True
    first_line = head.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")
    if first_line == _csv_header() or first_line in _report_headers():
        return True
    return head.lstrip()[:1] == b"{" and _json_marks_accelsim(path)


def _folder_problem(target: Path) -> str | None:
    """What is wrong with the folder ``target`` would be written into, if anything."""
    folder = target.parent
    if not folder.exists():
        return f"a path in an existing folder ({folder} does not exist; create it first)"
    if not folder.is_dir():
        return f"a path in a folder ({folder} is not a folder)"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"a path in a folder you can write to ({folder} is not writable)"
    return None


def check_outputs(outputs: Mapping[str, str | Path | None],
                  inputs: Iterable[Path] | Mapping[Path, str], force: bool = False,
                  new_folders: Mapping[str, str | Path] | None = None) -> None:
    """Refuse (one :class:`OutputError`) any output that could cost the user a file or could
    not be written (module docstring). ``outputs``: option name -> path (``None``: not
    asked for); ``inputs``: the files the run reads, or a mapping of each to what it is (named
    in the message); ``force``: replace existing files that are not accelsim outputs;
    ``new_folders``: option name -> a folder the run creates if it is missing (its outputs
    may lie in it; its own folder must exist and be writable)."""
    made = set()
    for option, given in (new_folders or {}).items():
        folder = _resolved(given)
        if folder.exists() and not folder.is_dir():
            raise OutputError(option, str(given), "a folder (this is an existing file)")
        if not folder.exists():
            problem = _folder_problem(folder)
            if problem is not None:
                raise OutputError(option, str(given), problem.replace("a path in",
                                                                      "a folder in"))
            made.add(folder)
    roles = (dict(inputs) if isinstance(inputs, Mapping)
             else dict.fromkeys(inputs, "a file this run reads"))
    resolved_inputs = [(_resolved(p), role) for p, role in roles.items()]
    taken: list[tuple[Path, str]] = []
    for option, given in outputs.items():
        if given is None:
            continue
        target = _resolved(given)
        if target.is_dir():
            raise OutputError(option, str(given), "a file path, not an existing folder")
        for source, role in resolved_inputs:
            if _same_file(target, source):
                raise OutputError(option, str(given), "a file this run does not read "
                                  f"(it is {role})")
        for other_path, other_option in taken:
            if _same_file(target, other_path):
                raise OutputError(option, str(given), f"a path of its own ({other_option} "
                                  "writes there too)")
        taken.append((target, option))
        if _is_special(target):
            continue  # /dev/null, a pipe: nothing in it to lose
        problem = None if target.parent in made else _folder_problem(target)
        if problem is not None:
            raise OutputError(option, str(given), problem)
        if target.exists() and not force and not is_accelsim_output(target):
            raise OutputError(option, str(given), "a new file or an earlier accelsim output "
                              "(this existing file is neither; pass --force to replace it)")


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view[:_CHUNK])
        view = view[written:]


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (best effort: not every platform can open a folder)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_error(path: Path, error: OSError) -> OutputError:
    expected = _REASONS.get(error.errno, "a file that can be written")
    name = errno.errorcode.get(error.errno, "") if error.errno else ""
    reason = f"{error.strerror or error}{f', {name}' if name else ''}"
    return OutputError(str(path), "", f"{expected} ({reason}); nothing was written there and "
                       "any earlier file is unchanged")


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` all or nothing (module docstring); a special file such as
    ``/dev/null`` is written directly."""
    path = Path(path)
    target = _resolved(path)  # through a symlink: the link keeps pointing at the new file
    if _is_special(target):
        try:
            with open(target, "wb") as handle:
                handle.write(data)
        except OSError as error:
            raise _write_error(path, error) from None
        return
    temporary = str(target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as error:
        raise _write_error(path, error) from None
    replaced = False
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, target)
        replaced = True
    except OSError as error:
        raise _write_error(path, error) from None
    finally:  # a failed write, a crash or a signal mid-write: leave no temporary file behind
        if not replaced:
            _remove(temporary)
    _sync_folder(target.parent)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` all or nothing (module docstring)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def study_folder(path: str | Path) -> Path:
    """The output folder of a study script (its ``--out``), created and writable, with
    matplotlib importable for its plots: checked before the sweep, so that a bad folder or a
    missing package never costs a finished sweep."""
    folder = prepare_folder("--out", path)
    try:
        import matplotlib  # noqa: F401
    except ModuleNotFoundError:
        raise OutputError("matplotlib", "", "the package installed (it is a dependency of "
                          "accelsim: pip install .)") from None
    return folder


def prepare_folder(option: str, path: str | Path) -> Path:
    """The output folder ``path`` (``option`` names it in errors), created if missing and
    checked writable: for scripts that write several files, before they run their sweep."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise OutputError(option, str(path), "a folder (this is an existing file)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(option, str(path), "a folder that can be created "
                          f"({error.strerror or error})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(option, str(path), "a folder you can write to")
    return folder


#: What an earlier traced workload's manifest starts with (``accelsim trace`` writes it).
_TRACED_HEAD = re.compile(rb'"format"\s*:\s*"accelsim\.traced/')


def check_trace_folder(option: str, path: str | Path, force: bool = False) -> None:
    """Refuse, before a trace runs, a workload folder it could not write or whose files it would
    replace: an existing file, a folder in a missing or unwritable parent, or an existing folder
    holding files that are not an earlier traced workload (unless ``force``)."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise OutputError(option, str(path), "a folder (this is an existing file)")
    if not folder.exists():
        problem = _folder_problem(folder)
        if problem is not None:
            raise OutputError(option, str(path), problem.replace("a path in", "a folder in"))
        return
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(option, str(path), "a folder you can write to")
    manifest = folder / "manifest.json"
    earlier = manifest.is_file() and _TRACED_HEAD.search(_head(manifest)) is not None
    if any(folder.iterdir()) and not earlier and not force:
        raise OutputError(option, str(path), "a new or empty folder, or an earlier traced "
                          "workload (this folder holds other files; pass --force to write "
                          "into it)")


def write_file_set(option: str, folder: Path, files: Mapping[str, bytes], manifest: dict,
                   force: bool = False) -> list[Path]:
    """Write ``files`` (name -> bytes) into ``folder`` with ``manifest`` (its ``schema`` names
    the kind of file set) as ``<kind>.json`` listing them, by which a later set of the same
    kind knows the files it may replace. Every target is checked before any is written: an
    existing file that no earlier set of this kind wrote is refused unless ``force``; each file
    is written atomically, the manifest last."""
    name = manifest["schema"].split("/")[0].rpartition(".")[2] + ".json"
    earlier: set[str] = set()
    try:
        data = json.loads((folder / name).read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("schema") == manifest["schema"]:
            earlier = {name, *(f for f in data.get("files", []) if isinstance(f, str))}
    except (OSError, ValueError):
        pass
    files = dict(files)
    files[name] = (json.dumps({**manifest, "generator": "accelsim", "files": sorted(files)},
                              indent=1) + "\n").encode()
    for file in files:
        target = folder / file
        if target.exists() and file not in earlier and not force:
            raise OutputError(option, str(target), "a new file or one an earlier accelsim "
                              f"{name[:-5]} wrote (this existing file is neither; pass --force "
                              "to replace it)")
    written = []
    for file in sorted(files, key=lambda file: file == name):  # the manifest last
        atomic_write_bytes(folder / file, files[file])
        written.append(folder / file)
    return written
