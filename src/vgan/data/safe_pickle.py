"""A pickle reader that builds plain data only: builtin containers, numbers, strings, bytes and
numpy arrays of non-object dtypes.

CIFAR-10's python batches are pickles, and `pickle.loads` calls whatever callable a file names:
a crafted `data_batch_1` would run its code the moment it is read. `loads` here admits only the
globals that numpy's own array pickles name (`_reconstruct`, `ndarray`, `dtype`, `_frombuffer`,
and `_codecs.encode` for latin-1 bytes from protocol 2) and refuses object dtypes; anything else
raises `pickle.UnpicklingError` naming the global. The batches' MD5s are checked before this
(`datasets.CIFAR_PY_MD5`), so it is a second line of defence.
"""

from __future__ import annotations

import codecs
import io
import pickle
from typing import Any, Callable, Dict, Tuple

import numpy as np

try:  # numpy >= 2
    from numpy._core.multiarray import _reconstruct as _np_reconstruct
    from numpy._core.numeric import _frombuffer as _np_frombuffer
except ImportError:  # numpy 1.x
    from numpy.core.multiarray import _reconstruct as _np_reconstruct
    from numpy.core.numeric import _frombuffer as _np_frombuffer


def _plain(dtype: Any, align: bool = False, copy: bool = False) -> np.dtype:
    dtype = np.dtype(dtype, align=bool(align), copy=bool(copy))
    if dtype.hasobject:
        raise pickle.UnpicklingError("it holds an object array, which can carry code; data files hold numbers")
    return dtype


def _reconstruct(subtype: type, shape: Any, code: Any) -> np.ndarray:
    if subtype is not np.ndarray:
        raise pickle.UnpicklingError(f"it rebuilds an array as {subtype!r}, not numpy.ndarray")
    return _np_reconstruct(np.ndarray, shape, code)


def _frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    return _np_frombuffer(buffer, _plain(dtype), shape, order)


def _encode(text: str, encoding: str = "utf-8") -> bytes:
    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"it encodes text as {encoding!r}; numpy's pickles use latin1")
    return codecs.encode(text, encoding)


ALLOWED: Dict[Tuple[str, str], Callable] = {
    **{(m, "_reconstruct"): _reconstruct for m in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(m, "_frombuffer"): _frombuffer for m in ("numpy.core.numeric", "numpy._core.numeric")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _plain,
    ("_codecs", "encode"): _encode,
}


class _PlainDataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which is not data")
        return ALLOWED[(module, name)]

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("it refers to persistent objects, which are not data")


def _check_plain(obj: Any, depth: int = 0) -> None:
    """Refuse object arrays that slipped through (e.g. a dtype changed by its pickled state)."""
    if depth > 20:
        raise pickle.UnpicklingError("it nests containers more than 20 deep")
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject:
        raise pickle.UnpicklingError("it holds an object array, which can carry code; data files hold numbers")
    items = obj.items() if isinstance(obj, dict) else obj if isinstance(obj, (list, tuple)) else ()
    for item in items:
        _check_plain(item, depth + 1)


def loads(data: bytes, encoding: str = "bytes") -> Any:
    """Unpickle `data` if it holds plain data only; else raise pickle.UnpicklingError."""
    obj = _PlainDataUnpickler(io.BytesIO(data), encoding=encoding).load()
    _check_plain(obj)
    return obj
