"""Checkpoints and exports: tensors in safetensors, everything else in JSON, nothing pickled.

A file is a standard safetensors file. Its metadata holds two strings: ``ganforge`` (JSON:
format, version, kind and the nested structure, in which tensors appear as references) and
``sha256`` (a digest of that JSON and of every tensor's name, dtype, shape and bytes), which
loading verifies. Writes are atomic: temp file in the same directory, fsync, rename, fsync of
the directory. Loading never executes code: no pickle, no torch.load.
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path
from typing import Any

import safetensors.torch
import torch

from .errors import CheckpointError

FORMAT = "ganforge"
VERSION = 2  # 2 (issue 12): networks by role, the algorithm and its state, the prior; 1 still loads
KINDS = ("checkpoint", "generator")


# ---- atomic writes ---------------------------------------------------------------------------
def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write data to path so that path always holds either the old or the complete new content."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        try:
            dfd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:
            pass  # some filesystems cannot fsync a directory; the rename is still atomic
    except BaseException as e:  # also a second Ctrl-C: never leave the temp file behind
        try:
            tmp.unlink()
        except OSError:
            pass
        if isinstance(e, OSError):
            raise CheckpointError(f"could not write '{path}': {e.strerror or e} "
                                  f"(the previous file, if any, is unchanged)") from None
        raise


# ---- nested structure <-> (JSON skeleton, flat tensors) -------------------------------------
def _encode(obj: Any, path: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        key = path or "root"
        tensors[key] = obj.detach().to("cpu", copy=True).contiguous()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: _encode(v, f"{path}.{k}", tensors) for k, v in obj.items()}
        return {"__items__": [[k, _encode(v, f"{path}.{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, f"{path}.{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, f"{path}.{i}", tensors) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store a {type(obj).__name__} at '{path}' in a checkpoint")


def _decode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__items__" in obj:
            return {k: _decode(v, tensors) for k, v in obj["__items__"]}
        if "__tuple__" in obj:
            return tuple(_decode(v, tensors) for v in obj["__tuple__"])
        return {k: _decode(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    return obj


def _digest(meta_json: str, tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256(meta_json.encode())
    for name in sorted(tensors):
        t = tensors[name]
        h.update(f"{name}|{t.dtype}|{list(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


# ---- public API ------------------------------------------------------------------------------
def save(path: str | os.PathLike, tree: dict[str, Any], kind: str) -> None:
    """Atomically write a nested dict of tensors and JSON values as a verified safetensors file."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _encode(tree, "", tensors)
    meta_json = json.dumps({"format": FORMAT, "version": VERSION, "kind": kind, "tree": skeleton}, sort_keys=True)
    blob = safetensors.torch.save(tensors, metadata={"ganforge": meta_json, "sha256": _digest(meta_json, tensors)})
    atomic_write(path, blob)


def _describe_foreign(head: bytes) -> str:
    if head[:1] == b"\x80" or head[:2] == b"PK":
        return ("it looks like a pickle or torch.save file; ganforge never unpickles files, because "
                "unpickling can run arbitrary code")
    return "it is not a ganforge safetensors file"


def load(path: str | os.PathLike, kind: str | None = None) -> dict[str, Any]:
    """Read and verify a file written by save(); raise CheckpointError naming the file on any problem."""
    path = Path(path)
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"'{path}' does not exist") from None
    except IsADirectoryError:
        raise CheckpointError(f"'{path}' is a directory, not a checkpoint file") from None
    except OSError as e:
        raise CheckpointError(f"cannot read '{path}': {e.strerror}") from None
    if len(blob) < 8:
        raise CheckpointError(f"'{path}' is truncated or empty ({len(blob)} bytes): {_describe_foreign(blob)}")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        raise CheckpointError(f"'{path}' is truncated or corrupt (header says {n} bytes, file has {len(blob)}): "
                              f"{_describe_foreign(blob[:8])}")
    try:
        header = json.loads(blob[8:8 + n])
        meta = header["__metadata__"]
        meta_json, digest = meta["ganforge"], meta["sha256"]
        info = json.loads(meta_json)
    except (ValueError, KeyError, TypeError):
        raise CheckpointError(f"'{path}' is corrupt or {_describe_foreign(blob[:8])}") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT or not isinstance(info.get("version"), int):
        raise CheckpointError(f"'{path}' is not a ganforge file")
    if info["version"] > VERSION:
        raise CheckpointError(f"'{path}' has format version {info.get('version')}; this ganforge reads up to "
                              f"{VERSION}: upgrade ganforge")
    try:
        tensors = safetensors.torch.load(blob)
    except Exception as e:  # safetensors raises its own error types for malformed data
        raise CheckpointError(f"'{path}' is corrupt (tensor data unreadable: {e})") from None
    if _digest(meta_json, tensors) != digest:
        raise CheckpointError(f"'{path}' is corrupt: its checksum does not match (truncated or modified file)")
    if kind is not None and info.get("kind") != kind:
        raise CheckpointError(f"'{path}' is a ganforge {info.get('kind')} file, expected a {kind}")
    tree = _decode(info["tree"], tensors)
    tree["__kind__"] = info["kind"]
    return tree
