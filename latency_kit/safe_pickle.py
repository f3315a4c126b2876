"""Read pickled tables without executing code.

Latency tables from other tools (HELP's ``.pt`` lists, BRP-NAS/Eagle dicts,
HW-NAS-Bench) are pickles. ``safe_load`` unpickles only plain containers and
numbers: any global other than a short allow-list of numpy scalar/array
reconstructors is refused, so a malicious pickle raises instead of running.
``load_torch_zip`` reads a ``torch.save`` zip archive's ``data.pkl`` the same
way, without importing torch, provided it holds no tensors.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

from latency_kit.errors import CorruptFileError

_ALLOWED = {
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "complex"),
    ("_codecs", "encode"),  # how protocol-2 pickles spell bytes (numpy scalars use it)
    ("collections", "OrderedDict"),
    ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
}


class RefusedPickleError(CorruptFileError):
    """The pickle asks for a global that is not plain data."""


class _Restricted(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise RefusedPickleError(
            f"refusing to unpickle {module}.{name}: only plain containers and numbers are read"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise RefusedPickleError("refusing a pickle that references tensor storage")


def safe_loads(data: bytes, source: str = "pickle") -> Any:
    """Unpickle ``data`` allowing plain containers, numbers and numpy values only.

    ``source`` (a file name) starts every error message.
    """
    try:
        return _Restricted(io.BytesIO(data)).load()
    except RefusedPickleError as exc:
        raise RefusedPickleError(f"{source}: {exc}") from None
    except Exception as exc:  # truncated or garbled input
        raise CorruptFileError(f"{source}: cannot read pickle: {exc}") from None


def safe_load(path: str | Path) -> Any:
    """Read a plain pickle file or a ``torch.save`` zip archive safely."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        return load_torch_zip(path)
    return safe_loads(path.read_bytes(), str(path))


def load_torch_zip(path: str | Path) -> Any:
    """The object in a ``torch.save`` zip archive, read with the restricted unpickler."""
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n.endswith("data.pkl")]
        if not names:
            raise CorruptFileError(f"{path} is a zip archive without data.pkl")
        return safe_loads(archive.read(names[0]), str(path))
