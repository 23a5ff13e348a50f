"""JSON encoding of estimator parameters and fitted attributes, without pickle.

Plain JSON carries None, bool, int, str, finite floats, lists and dicts with
string keys. Everything else a parameter or fitted attribute may hold is a
small tagged object ``{"__sklattn__": kind, ...}``: tuples, non-finite floats,
dicts with other keys, numpy scalars and arrays (numbers, bools, strings, or
object arrays of those), paths, ``torch.device``, optimizer classes of
``torch.optim`` and skorch's ``ValidSplit``. Decoding builds only these types;
the only name ever looked up is an optimizer class inside ``torch.optim``,
checked to be an ``Optimizer`` subclass.
"""

from __future__ import annotations

import math
import pathlib
from typing import Any

import numpy as np
import torch

TAG = "__sklattn__"
_ARRAY_KINDS = frozenset("biufUO")  # bool, int, uint, float, unicode, object


class Unrepresentable(TypeError):
    """A value that cannot be stored without pickle."""


def _type_name(value: Any) -> str:
    kind = type(value)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def _encode_float(value: float) -> Any:
    if math.isfinite(value):
        return value
    return {TAG: "float", "value": repr(value)}  # 'nan', 'inf', '-inf'


def _encode_scalar(value: Any) -> Any:
    """A label-like scalar: str, bool, int, float or a numpy scalar of those kinds."""
    if isinstance(value, np.generic):
        if value.dtype.kind not in _ARRAY_KINDS - {"O"}:
            raise Unrepresentable(_type_name(value))
        item = value.item()
        return {TAG: "np_scalar", "dtype": value.dtype.str,
                "value": _encode_float(item) if isinstance(item, float) else item}
    if value is None or type(value) in (bool, int, str):
        return value
    if type(value) is float:
        return _encode_float(value)
    raise Unrepresentable(_type_name(value))


def _encode_array(array: np.ndarray) -> dict:
    kind = array.dtype.kind
    if kind not in _ARRAY_KINDS or array.dtype.names is not None:
        raise Unrepresentable(f"numpy array of dtype {array.dtype}")
    flat = array.ravel()
    if kind == "O":
        data = [_encode_scalar(item) for item in flat]
        if any(item is None for item in data):
            raise Unrepresentable("None inside an object array")
    elif kind == "f":
        data = [_encode_float(item) for item in flat.tolist()]
    else:
        data = flat.tolist()
    return {TAG: "ndarray", "dtype": array.dtype.str, "shape": list(array.shape), "data": data}


def encode(value: Any) -> Any:
    """Turn ``value`` into JSON-compatible data, or raise :class:`Unrepresentable`."""
    if isinstance(value, np.ndarray):
        return _encode_array(value)
    if isinstance(value, np.generic) or value is None or type(value) in (bool, int, str, float):
        return _encode_scalar(value)
    if type(value) is list:
        return [encode(item) for item in value]
    if type(value) is tuple:
        return {TAG: "tuple", "items": [encode(item) for item in value]}
    if type(value) is dict:
        if all(type(key) is str for key in value) and TAG not in value:
            return {key: encode(item) for key, item in value.items()}
        return {TAG: "dict", "items": [[encode(key), encode(item)] for key, item in value.items()]}
    if isinstance(value, pathlib.PurePath):
        return {TAG: "path", "value": str(value)}
    if isinstance(value, torch.device):
        return {TAG: "device", "value": str(value)}
    if isinstance(value, type) and issubclass(value, torch.optim.Optimizer):
        if getattr(torch.optim, value.__name__, None) is value:
            return {TAG: "optimizer", "name": value.__name__}
        raise Unrepresentable(f"optimizer class {_type_name(value)} (only torch.optim classes)")
    from skorch.dataset import ValidSplit

    if type(value) is ValidSplit:
        fields = {"cv": value.cv, "stratified": value.stratified, "random_state": value.random_state}
        if not all(item is None or type(item) in (bool, int, float) for item in fields.values()):
            raise Unrepresentable("ValidSplit with a non-numeric cv or random_state")
        return {TAG: "valid_split", **fields}
    raise Unrepresentable(_type_name(value))


def _decode_float(text: str) -> float:
    if text not in ("nan", "inf", "-inf"):
        raise ValueError(f"bad float value {text!r}")
    return float(text)


def _checked_dtype(text: Any) -> np.dtype:
    if not isinstance(text, str):
        raise ValueError(f"bad dtype {text!r}")
    dtype = np.dtype(text)
    if dtype.kind not in _ARRAY_KINDS or dtype.names is not None:
        raise ValueError(f"unsupported dtype {text!r}")
    return dtype


def _decode_array(obj: dict) -> np.ndarray:
    dtype = _checked_dtype(obj["dtype"])
    shape = tuple(int(n) for n in obj["shape"])
    data = obj["data"]
    if not isinstance(data, list) or len(data) != math.prod(shape):
        raise ValueError("array data does not match its shape")
    if dtype.kind == "O":
        array = np.empty(len(data), dtype=object)
        for i, item in enumerate(data):
            if isinstance(item, (list, dict)) and not (isinstance(item, dict) and item.get(TAG) in ("np_scalar", "float")):
                raise ValueError("object arrays hold scalars only")
            array[i] = decode(item)
        return array.reshape(shape)
    return np.array([decode(item) for item in data], dtype=dtype).reshape(shape)


def decode(obj: Any) -> Any:
    """Inverse of :func:`encode`; raises ``ValueError`` on anything it did not write."""
    if isinstance(obj, list):
        return [decode(item) for item in obj]
    if not isinstance(obj, dict):
        return obj
    if TAG not in obj:
        return {key: decode(item) for key, item in obj.items()}
    kind = obj[TAG]
    if kind == "float":
        return _decode_float(obj["value"])
    if kind == "np_scalar":
        dtype = _checked_dtype(obj["dtype"])
        if dtype.kind == "O":
            raise ValueError("object numpy scalar")
        value = obj["value"]
        return dtype.type(decode(value) if isinstance(value, dict) else value)
    if kind == "ndarray":
        return _decode_array(obj)
    if kind == "tuple":
        return tuple(decode(item) for item in obj["items"])
    if kind == "dict":
        return {decode(key): decode(item) for key, item in obj["items"]}
    if kind == "path":
        return pathlib.Path(obj["value"])
    if kind == "device":
        return torch.device(obj["value"])
    if kind == "optimizer":
        found = getattr(torch.optim, str(obj["name"]), None)
        if not (isinstance(found, type) and issubclass(found, torch.optim.Optimizer)):
            raise ValueError(f"{obj['name']!r} is not an optimizer class of torch.optim")
        return found
    if kind == "valid_split":
        from skorch.dataset import ValidSplit

        return ValidSplit(obj["cv"], stratified=bool(obj["stratified"]), random_state=obj["random_state"])
    raise ValueError(f"unknown value kind {kind!r}")
