"""Files and directories that users hand ganforge: every way one can be wrong (missing, a directory
where a file belongs, unreadable, not the format it claims, cut short, not UTF-8, on a read-only
disk) becomes one error naming the file and what to do, before anything is computed or written.

Readers here load the whole content (so a truncated file fails now, not mid-training); the
writability checks create nothing (they walk up to the nearest existing directory and ask the
kernel, which also answers for read-only mounts)."""
from __future__ import annotations

import errno
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable

from .errors import ConfigError, DataError

ErrorType = Callable[[str], Exception]


def cache_dir() -> Path:
    """$GANFORGE_CACHE, else $XDG_CACHE_HOME/ganforge, else ~/.cache/ganforge (reference features, task inputs)."""
    if os.environ.get("GANFORGE_CACHE"):
        return Path(os.environ["GANFORGE_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ganforge"


def os_reason(e: OSError) -> str:
    """A short reason for an OSError, without Python's '[Errno N]' decoration."""
    if isinstance(e, IsADirectoryError):
        return "it is a directory, not a file"
    if isinstance(e, NotADirectoryError):
        return "a part of the path is a file, not a directory"
    if isinstance(e, FileNotFoundError):
        return "it does not exist"
    if isinstance(e, PermissionError):
        return "permission denied"
    if e.errno == errno.EROFS:
        return "the file system is read-only"
    if e.errno == errno.ENOSPC:
        return "no space left on the device"
    return e.strerror or str(e)


def existing_file(path: str | os.PathLike, what: str, error: ErrorType = DataError) -> Path:
    """path, checked to be a readable regular file (not a directory, not missing)."""
    p = Path(path)
    if not p.exists():
        raise error(f"{what} '{p}' does not exist")
    if p.is_dir():
        raise error(f"{what} '{p}' is a directory, not a file")
    if not os.access(p, os.R_OK):
        raise error(f"{what} '{p}' cannot be read: permission denied")
    return p


def read_bytes(path: str | os.PathLike, what: str, error: ErrorType = DataError) -> bytes:
    p = existing_file(path, what, error)
    try:
        return p.read_bytes()
    except OSError as e:
        raise error(f"cannot read {what} '{p}': {os_reason(e)}") from None


def read_text(path: str | os.PathLike, what: str, error: ErrorType = ConfigError) -> str:
    """The file as UTF-8 text; binary content is refused with the offset of the first bad byte."""
    raw = read_bytes(path, what, error)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(f"{what} '{path}' is not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start}): is it "
                    f"the file you meant?") from None


def read_gzip(path: str | os.PathLike, what: str, error: ErrorType = DataError) -> bytes:
    """The decompressed content of a .gz file; a truncated or non-gzip file is named."""
    import gzip

    raw = read_bytes(path, what, error)
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise error(f"{what} '{path}' is not a complete gzip file ({type(e).__name__}: {e})") from None


def load_npz(path: str | os.PathLike, what: str, error: ErrorType = DataError) -> dict[str, Any]:
    """Every array of an .npz (or the one array of an .npy, as 'x'), read in full; no pickles."""
    import numpy as np

    p = existing_file(path, what, error)
    try:
        with open(p, "rb") as f:
            magic = f.read(6)
            f.seek(0)
            if not magic.startswith((b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY")):
                raise error(f"{what} '{p}' is neither an NPZ archive nor an NPY array (its first bytes are "
                            f"{magic!r}): save images with numpy.savez(path, x=images)")
            if p.suffix == ".npy":
                return {"x": np.load(f, allow_pickle=False)}
            with np.load(f, allow_pickle=False) as z:
                if not isinstance(z, np.lib.npyio.NpzFile):
                    raise error(f"{what} '{p}' holds one array, not an NPZ archive: save it with numpy.savez "
                                f"(array x)")
                return {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, EOFError, zlib.error) as e:
        raise error(f"{what} '{p}' is not a complete NPZ archive (truncated or another format: "
                    f"{type(e).__name__}: {e})") from None
    except ValueError as e:  # pickled object arrays, bad headers
        if "pickle" in str(e):
            raise error(f"{what} '{p}' holds object arrays (pickles), which ganforge never loads: save plain "
                        f"numeric arrays (images as uint8)") from None
        raise error(f"{what} '{p}' cannot be read as NPZ: {e}") from None
    except OSError as e:
        raise error(f"cannot read {what} '{p}': {os_reason(e)}") from None


def nearest_existing(path: Path) -> Path:
    """path itself if it exists, else its nearest existing ancestor."""
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def writable_dir(path: str | os.PathLike, what: str, error: ErrorType = ConfigError) -> Path:
    """A directory that ganforge may create (with its parents) or write into; checked, not created."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise error(f"{what} '{p}' is a file, not a directory: choose another path")
    base = nearest_existing(p)
    if not base.is_dir():
        raise error(f"{what} '{p}' cannot be created: '{base}' is a file, not a directory")
    if not os.access(base, os.W_OK | os.X_OK):
        reason = "the file system is read-only" if _read_only(base) else "permission denied"
        where = "it" if base == p.absolute() else f"'{base}'"
        raise error(f"{what} '{p}' cannot be written: {where}: {reason}; choose another path")
    return p


def writable_file(path: str | os.PathLike, what: str, error: ErrorType = ConfigError) -> Path:
    """A file ganforge will (over)write: not a directory, in an existing, writable directory."""
    p = Path(path)
    if p.is_dir():
        raise error(f"{what} '{p}' is a directory: give a file name")
    parent = p.absolute().parent
    if not parent.is_dir():
        base = nearest_existing(parent)
        if base.exists() and base != parent and not base.is_dir() or base == parent:
            raise error(f"{what} '{p}' cannot be created: '{base}' is not a directory")
        raise error(f"the directory of {what} '{p}' does not exist")
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        reason = "the file system is read-only" if _read_only(parent) else "permission denied"
        raise error(f"{what} '{p}' cannot be written: {reason}; choose another path")
    return p


def _read_only(p: Path) -> bool:
    try:
        return bool(os.statvfs(p).f_flag & os.ST_RDONLY)
    except OSError:
        return False
