"""Read and write safetensors files: memory-mapped, zero-copy reads and streaming writes.

The format (https://github.com/huggingface/safetensors): 8 bytes little-endian header length
N, N bytes of JSON header ``{name: {"dtype", "shape", "data_offsets": [begin, end]}, ...,
"__metadata__": {str: str}}``, then the data block; offsets are relative to the data block.

Reading maps the file copy-on-write (``MAP_PRIVATE``) and returns tensors that view the
mapping, so loading costs no second copy of the weights and the file is never modified, even
when a tensor is later written to in place. Writing streams one tensor at a time, so saving
needs no second copy either.
"""

from __future__ import annotations

import json
import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .errors import CheckpointError

#: Largest header we accept; the reference writer's headers are far below this.
MAX_HEADER_BYTES = 100_000_000
_ALIGNMENT = 8
_CHUNK_BYTES = 1 << 24
_LFS_POINTER_PREFIX = b"version https://git-lfs"

DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
    "C64": torch.complex64,
}
for _name, _attr in (
    ("F8_E4M3", "float8_e4m3fn"),
    ("F8_E5M2", "float8_e5m2"),
    ("U16", "uint16"),
    ("U32", "uint32"),
    ("U64", "uint64"),
):
    if hasattr(torch, _attr):
        DTYPES[_name] = getattr(torch, _attr)
_NAMES = {dtype: name for name, dtype in DTYPES.items()}


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dtype: torch.dtype
    shape: tuple[int, ...]
    begin: int
    end: int


@dataclass(frozen=True)
class Header:
    path: Path
    data_start: int
    entries: tuple[TensorEntry, ...]
    metadata: dict[str, str]


def check_not_lfs_pointer(path: Path, head: bytes) -> None:
    """Name the real problem when a clone fetched git-lfs pointer files instead of weights."""
    if head.startswith(_LFS_POINTER_PREFIX):
        raise CheckpointError(
            f"{path}: this is a git-lfs pointer file, not the weights; fetch the real file "
            "(`git lfs pull` in the clone, or download it from the Hub)"
        )


def read_header(path: str | os.PathLike[str]) -> Header:
    """Parse and validate the header of a safetensors file; errors name the file."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(8)
            check_not_lfs_pointer(path, head + handle.read(len(_LFS_POINTER_PREFIX)))
            if len(head) < 8:
                raise _bad(path, f"file is {size} bytes, too short for the 8-byte header length")
            (length,) = struct.unpack("<Q", head)
            if length > MAX_HEADER_BYTES or 8 + length > size:
                raise _bad(
                    path,
                    f"header length {length} does not fit in a file of {size} bytes (truncated?)",
                )
            handle.seek(8)
            raw = handle.read(length)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: weights file not found") from None
    data_start = 8 + length
    return Header(path, data_start, *_parse_entries(path, raw, size - data_start))


def _parse_entries(
    path: Path, raw: bytes, data_size: int
) -> tuple[tuple[TensorEntry, ...], dict[str, str]]:
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(path, f"header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise _bad(path, f"header should be a JSON object, found {type(header).__name__}")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        raise _bad(path, "'__metadata__' should be an object of strings")
    entries = tuple(_entry(path, name, info, data_size) for name, info in header.items())
    return entries, metadata


def _entry(path: Path, name: str, info: Any, data_size: int) -> TensorEntry:
    try:
        dtype_name, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
    except (TypeError, KeyError, ValueError):
        problem = f"tensor {name!r}: expected dtype, shape and data_offsets, found {info!r}"
        raise _bad(path, problem) from None
    dtype = DTYPES.get(dtype_name) if isinstance(dtype_name, str) else None
    if dtype is None:
        raise _bad(
            path, f"tensor {name!r}: unknown dtype {dtype_name!r} (known: {', '.join(DTYPES)})"
        )
    numel = _numel(shape) if isinstance(shape, list) else None
    if numel is None:
        raise _bad(path, f"tensor {name!r}: shape should be a list of sizes, found {shape!r}")
    if not (isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end):
        raise _bad(path, f"tensor {name!r}: bad data_offsets {[begin, end]!r}")
    if end > data_size:
        raise _bad(
            path,
            f"tensor {name!r} ends at byte {end} of the data block, but the file holds only "
            f"{data_size} data bytes (truncated?)",
        )
    expected = numel * dtype.itemsize
    if end - begin != expected:
        raise _bad(
            path,
            f"tensor {name!r}: {dtype_name} {shape} needs {expected} bytes, "
            f"offsets give {end - begin}",
        )
    return TensorEntry(name, dtype, tuple(shape), begin, end)


class SafetensorsFile:
    """One safetensors file, read tensor by tensor.

    `tensor(name)` views a copy-on-write memory map of the file (no copy). `tensor(name,
    dtype)` with another dtype reads the tensor's bytes with plain file reads, 16 MiB at a time,
    converting as it goes, so converting a model costs only the converted copy.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.header = read_header(path)
        self.path = self.header.path
        self._entries = {entry.name: entry for entry in self.header.entries}
        self._storage: Any = None
        self._buffer: torch.Tensor | None = None

    def names(self) -> list[str]:
        return list(self._entries)

    def shape(self, name: str) -> tuple[int, ...]:
        return self._entries[name].shape

    def tensor(self, name: str, dtype: torch.dtype | None = None) -> torch.Tensor:
        entry = self._entries[name]
        if dtype is None or dtype == entry.dtype:
            return _view(self._mapping(), self.header.data_start, entry)
        return self._read_converted(entry, dtype)

    def _mapping(self) -> Any:
        if self._storage is None:
            _require_little_endian()
            size = self.path.stat().st_size
            self._storage = torch.UntypedStorage.from_file(
                str(self.path), shared=False, nbytes=size
            )
        return self._storage

    def _read_converted(self, entry: TensorEntry, dtype: torch.dtype) -> torch.Tensor:
        """Read in chunks through one small buffer, converting into the result as it goes."""
        _require_little_endian()
        result = torch.empty(entry.shape, dtype=dtype)
        flat = result.view(-1)
        step = max(1, _CHUNK_BYTES // entry.dtype.itemsize)
        buffer = self._chunk_buffer(min(flat.numel(), step) * entry.dtype.itemsize)
        with self.path.open("rb") as handle:
            handle.seek(self.header.data_start + entry.begin)
            for start in range(0, flat.numel(), step):
                count = min(step, flat.numel() - start)
                chunk = buffer[: count * entry.dtype.itemsize]
                if handle.readinto(chunk.numpy().data) != chunk.numel():
                    raise _bad(self.path, f"tensor {entry.name!r}: file ended while reading it")
                flat[start : start + count].copy_(chunk.view(entry.dtype))
        return result

    def _chunk_buffer(self, nbytes: int) -> torch.Tensor:
        """One read buffer per file, reused: fresh ones per tensor fragment the heap."""
        if self._buffer is None or self._buffer.numel() < nbytes:
            self._buffer = torch.empty(max(nbytes, min(_CHUNK_BYTES, 1 << 20)), dtype=torch.uint8)
        return self._buffer


def load_file(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file, viewing a copy-on-write memory map of it."""
    file = SafetensorsFile(path)
    return {name: file.tensor(name) for name in file.names()}


def _view(storage: Any, data_start: int, entry: TensorEntry) -> torch.Tensor:
    start = data_start + entry.begin
    itemsize = entry.dtype.itemsize
    if start % itemsize == 0:
        tensor = torch.empty(0, dtype=entry.dtype)
        return tensor.set_(storage, start // itemsize, entry.shape, ())  # (): contiguous
    raw = torch.empty(0, dtype=torch.uint8).set_(storage, start, (entry.end - entry.begin,), (1,))
    return raw.clone().view(entry.dtype).reshape(entry.shape)


def save_file(
    tensors: dict[str, torch.Tensor],
    path: str | os.PathLike[str],
    metadata: dict[str, str] | None = None,
) -> None:
    """Write `tensors` to `path`, one tensor at a time, in the layout the reference writes."""
    _require_little_endian()
    ordered = sorted(tensors.items(), key=lambda item: (-item[1].dtype.itemsize, item[0]))
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    for name, tensor in ordered:
        if tensor.dtype not in _NAMES:
            raise CheckpointError(
                f"{path}: tensor {name!r} has dtype {tensor.dtype}, which safetensors cannot store"
            )
        nbytes = tensor.numel() * tensor.element_size()
        header[name] = {
            "dtype": _NAMES[tensor.dtype],
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + nbytes],
        }
        offset += nbytes
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % _ALIGNMENT)
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(encoded)))
        handle.write(encoded)
        for _, tensor in ordered:
            handle.write(_tensor_bytes(tensor))
        handle.flush()
        os.fsync(handle.fileno())


def _tensor_bytes(tensor: torch.Tensor) -> Any:
    flat = tensor.detach().to("cpu").contiguous().reshape(-1)
    return flat.view(torch.uint8).numpy().data


def _numel(shape: list[Any]) -> int | None:
    """The element count of `shape`; None unless it is a list of non-negative ints."""
    count = 1
    for size in shape:
        if not isinstance(size, int) or size < 0:
            return None
        count *= size
    return count


def _require_little_endian() -> None:
    if sys.byteorder != "little":
        raise CheckpointError("safetensors I/O here supports little-endian machines only")


def _bad(path: Path, problem: str) -> CheckpointError:
    return CheckpointError(f"{path}: not a valid safetensors file: {problem}")
