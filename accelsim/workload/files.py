"""Reading the files of a traced workload folder: bounded, UTF-8 JSON objects and NumPy ``.npz``
archives, each failure one :class:`~accelsim.errors.WorkloadError` naming the file.

A JSON file is at most :data:`~accelsim.workload.bounds.MAX_FILE_BYTES`, UTF-8 (a leading
byte-order mark is allowed), valid JSON whose top level is an object. An ``.npz`` archive is a
readable zip of ``.npy`` members (``np.savez_compressed``), at most
:data:`~accelsim.workload.bounds.MAX_ARRAY_BYTES` decompressed, each member a numeric array
whose header agrees with its stored size (no pickled objects); it is read whole, at load time,
so that a truncated or corrupt archive is an error before any simulation, never a statistic
silently missing.
"""

from __future__ import annotations

import json
import math
import zipfile
import zlib
from pathlib import Path

import numpy as np

from accelsim.errors import WorkloadError
from accelsim.workload.bounds import MAX_ARRAY_BYTES, MAX_FILE_BYTES

#: Exceptions of reading a damaged zip archive or ``.npy`` member (RuntimeError: an encrypted
#: member; NotImplementedError, its subclass: an unsupported compression method).
_ARCHIVE_ERRORS = (OSError, EOFError, ValueError, RuntimeError, zipfile.BadZipFile, zlib.error)


def read_bytes(path: Path, what: str) -> bytes:
    """The bytes of ``path``, at most MAX_FILE_BYTES of them."""
    source = str(path)
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise WorkloadError(source, "", f"an existing file ({what})") from None
    except OSError as exc:
        raise WorkloadError(source, "", f"a readable file ({what})", got=exc.strerror) from None
    except ValueError:  # a path with a NUL character
        raise WorkloadError(source, "", "a file path without NUL characters") from None
    if len(data) > MAX_FILE_BYTES:
        raise WorkloadError(source, "", f"{what} of at most {MAX_FILE_BYTES // 2**20} MiB",
                            got="a larger file")
    return data


def read_json_object(path: Path, what: str) -> dict:
    """The top-level JSON object of ``path``."""
    source = str(path)
    data = read_bytes(path, what)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise WorkloadError(source, f"line {line}", f"UTF-8 JSON text ({what})",
                            got=f"byte 0x{data[exc.start]:02x} at offset {exc.start}") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WorkloadError(source, f"line {exc.lineno}, column {exc.colno}",
                            f"valid JSON ({what})", got=exc.msg) from None
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise WorkloadError(source, "", f"valid JSON ({what})", got=str(exc)) from None
    except RecursionError:
        raise WorkloadError(source, "", f"valid JSON ({what}) nested less than about 1,000 "
                            "levels deep", got="deeper nesting") from None
    if not isinstance(value, dict):
        raise WorkloadError(source, "", f"a JSON object at the top level ({what})",
                            got=type(value).__name__)
    return value


def read_npz(path: Path, what: str) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` archive ``path``, by name."""
    source = str(path)
    if not path.is_file():
        raise WorkloadError(source, "", f"an existing file ({what})")
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            total = sum(member.file_size for member in members)
            if total > MAX_ARRAY_BYTES:
                raise WorkloadError(source, "", f"an archive of at most "
                                    f"{MAX_ARRAY_BYTES // 2**20} MiB of arrays ({what})",
                                    got=f"{total:,} bytes")
            for member in members:
                _check_member(archive, member, source, what)
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except _ARCHIVE_ERRORS as exc:
        raise WorkloadError(source, "", f"a readable NumPy .npz archive ({what})",
                            got=f"{type(exc).__name__}: {exc}") from None
    return arrays


def _check_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, source: str,
                  what: str) -> None:
    """A ``.npy`` member of a numeric dtype whose shape fits the bytes it stores."""
    if not member.filename.endswith(".npy"):
        raise WorkloadError(source, member.filename, f"a .npy array member ({what})")
    with archive.open(member) as stream:
        major, _ = np.lib.format.read_magic(stream)
        read_header = (np.lib.format.read_array_header_1_0 if major == 1
                       else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read_header(stream)
        header_bytes = stream.tell()
    if dtype.hasobject or dtype.kind not in "biuf":
        raise WorkloadError(source, member.filename.removesuffix(".npy"),
                            f"a numeric array ({what})", got=str(dtype))
    size = math.prod(shape) * dtype.itemsize
    if size != member.file_size - header_bytes:
        raise WorkloadError(source, member.filename.removesuffix(".npy"),
                            f"an array whose shape {tuple(shape)} of {dtype} fits its stored "
                            f"{member.file_size - header_bytes:,} bytes ({what})",
                            got=f"{size:,} bytes")
