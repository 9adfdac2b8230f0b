"""Files that users hand to symloss and files that symloss writes for them.

Reading: `read_json` turns every way a JSON file can be bad (missing, too big, not UTF-8, not
JSON, nested too deep) into one typed error naming the file. Writing: every output goes to a
temporary file in the target's directory and is renamed into place (`os.replace`), so a full
disk or a crash leaves the previous file whole and no half-written one; and no output may
replace a run's store.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

from .errors import ConfigError, DataError, SymlossError

MAX_JSON_BYTES = 16 * 2**20
STORE_NAMES = ("store.sqlite", "store.sqlite-wal", "store.sqlite-shm", "store.sqlite-journal")
_SQLITE_MAGIC = b"SQLite format 3\x00"


# ---- reading ---------------------------------------------------------------------------------
def read_json(path: str | Path, what: str = "JSON file", error: type[SymlossError] = DataError,
              max_bytes: int = MAX_JSON_BYTES) -> Any:
    """The JSON document in `path` (UTF-8, at most `max_bytes`), or `error` with one line naming
    the file and what is wrong with it (`what`: how the message names the file, e.g. "results file")."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as problem:
        raise error(f"cannot read the {what} {path}: {problem.strerror or problem}") from None
    if len(raw) > max_bytes:
        raise error(f"the {what} {path} is larger than {max_bytes // 2**20} MiB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as problem:
        raise error(f"the {what} {path} is not UTF-8 text (byte {problem.start})") from None
    return loads_json(text, f"the {what} {path}", error)


def loads_json(text: str, where: str, error: type[SymlossError] = DataError) -> Any:
    """json.loads, with a bad document (not JSON, nested too deep) as `error` naming `where`."""
    try:
        return json.loads(text)
    except RecursionError:
        raise error(f"{where} is nested too deeply to read") from None
    except ValueError as problem:  # JSONDecodeError, and UnicodeDecodeError for bytes
        raise error(f"{where} is not JSON ({_short(str(problem))})") from None


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


# ---- writing ---------------------------------------------------------------------------------
def refuse_store(path: str | Path) -> None:
    """ConfigError when writing `path` would replace a run's store (store.sqlite or its -wal,
    -shm or -journal, through a symbolic link too) or any existing SQLite database."""
    path = Path(path)
    for candidate in (path, Path(os.path.realpath(path))):
        if candidate.name in STORE_NAMES:
            raise ConfigError(f"refusing to write over {path}: it is (or belongs to) a run's store")
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(_SQLITE_MAGIC))
    except OSError:
        return
    if header == _SQLITE_MAGIC:
        raise ConfigError(f"refusing to write over {path}: it is an SQLite database (a run's store?)")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path (same directory, same suffix) to write; on success it replaces `path`,
    on an exception it is removed and `path` keeps what it held."""
    path = Path(path)
    refuse_store(path)
    directory = path.parent
    descriptor, name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}")
    os.close(descriptor)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, _mode(path))
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` all at once or not at all (see `atomic_path`)."""
    path = Path(path)
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    return path


def write_text_atomic(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write `text` to `path` all at once or not at all (see `atomic_path`)."""
    return write_bytes_atomic(path, text.encode(encoding))


def _mode(path: Path) -> int:
    """The permissions of the file being replaced, or the usual ones for a new file (umask)."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
