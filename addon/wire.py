"""The ReMoGen backend wire format: framed messages of a JSON header plus raw arrays.

One module shared by both ends: the add-on's client (Blender's Python: stdlib + numpy only,
so no bpy and no torch here) and the backend server, which loads this same file. Messages
are plain data — no pickle — so a malformed or hostile frame can only ever be a decoding
error, never code.

Frame layout (all integers little-endian)::

    u32 body_length | u32 header_length | header (UTF-8 JSON object) | payload

The header holds ``v`` (protocol version), ``verb``, ``id`` (request id, echoed by replies),
verb fields, and ``arrays``: ``[{"name", "dtype", "shape", "offset"}, ...]``. The payload is
the arrays' raw little-endian bytes, packed in descriptor order without padding; ``offset``
is relative to the payload start and must equal the running end of the previous array.
See docs/protocol.md for the verbs.
"""
from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field

import numpy as np

PROTOCOL_VERSION = 1
READY_PREFIX = "REMOGEN_READY "
TOKEN_ENV = "REMOGEN_TOKEN"

# Error types a server may reply with (plus "cancelled" for a generate stopped by the client).
ERROR_TYPES = ("bad_request", "auth", "not_found", "too_large", "internal", "cancelled")

DTYPES = {"float32": np.dtype("<f4"), "uint8": np.dtype("u1"), "int32": np.dtype("<i4")}
MAX_HEADER_BYTES = 64 * 1024
MAX_ARRAYS = 16
MAX_NDIM = 4
MAX_NAME_LENGTH = 64
_U32 = struct.Struct("<I")
_RESERVED = ("v", "verb", "id", "arrays")


class WireError(Exception):
    """A message that cannot be accepted; ``type`` is one of ERROR_TYPES."""

    def __init__(self, type: str, message: str, id: int = 0):
        super().__init__(message)
        self.type = type
        self.message = message
        self.id = id  # the request it answers, where the header got that far


@dataclass
class Message:
    """One decoded frame: verb, request id, JSON fields and named numpy arrays."""

    verb: str
    id: int
    fields: dict = field(default_factory=dict)
    arrays: dict = field(default_factory=dict)


def encode(verb: str, id: int, fields: dict | None = None, arrays: dict | None = None) -> bytes:
    """One frame, ready for ``sendall``. Arrays are converted to the wire dtypes' little-endian
    layout; any other dtype is refused here so a sender learns about it before the receiver."""
    header = {"v": PROTOCOL_VERSION, "verb": verb, "id": int(id)}
    for key, value in (fields or {}).items():
        if key in _RESERVED:
            raise ValueError(f"message field {key!r} is reserved by the wire format")
        header[key] = value
    descriptors, chunks, offset = [], [], 0
    for name, array in (arrays or {}).items():
        array = np.asarray(array)
        dtype_name = _dtype_name(array.dtype, name)
        data = np.ascontiguousarray(array, dtype=DTYPES[dtype_name]).tobytes()
        descriptors.append({"name": name, "dtype": dtype_name, "shape": list(array.shape), "offset": offset})
        chunks.append(data)
        offset += len(data)
    header["arrays"] = descriptors
    head = json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")
    body_length = 4 + len(head) + offset
    return b"".join([_U32.pack(body_length), _U32.pack(len(head)), head, *chunks])


def _dtype_name(dtype: np.dtype, name: str) -> str:
    if dtype == np.bool_:
        return "uint8"
    for wire_name, wire_dtype in DTYPES.items():
        if dtype.kind == wire_dtype.kind and dtype.itemsize == wire_dtype.itemsize:
            return wire_name
    raise ValueError(f"array {name!r} has dtype {dtype}; the wire carries float32, uint8 or int32 only")


def parse_length(prefix: bytes, max_body: int) -> int:
    """The body length announced by a 4-byte prefix, refused above ``max_body``."""
    (length,) = _U32.unpack(prefix)
    if length > max_body:
        raise WireError("too_large", f"frame of {length} bytes exceeds the limit of {max_body} bytes")
    if length < 4:
        raise WireError("bad_request", f"frame of {length} bytes is shorter than its 4-byte header length")
    return length


def decode(body: bytes | bytearray | memoryview, max_elements: int = 1 << 28) -> Message:
    """Decode one frame body (everything after the length prefix).

    Checks the header is a JSON object of the right version with a verb and id, and every
    array descriptor: known dtype, small non-negative shape, exact packing inside the payload.
    Array values themselves (finite, in range) are the receiver's business."""
    body = memoryview(body)
    if len(body) < 4:
        raise WireError("bad_request", "frame body is shorter than its 4-byte header length")
    (head_length,) = _U32.unpack(body[:4])
    if head_length > MAX_HEADER_BYTES:
        raise WireError("too_large", f"header of {head_length} bytes exceeds {MAX_HEADER_BYTES} bytes")
    if 4 + head_length > len(body):
        raise WireError("bad_request", f"header length {head_length} runs past the end of the frame")
    try:
        header = json.loads(bytes(body[4:4 + head_length]).decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise WireError("bad_request", f"header is not valid UTF-8 JSON: {str(exc)[:200]}") from None
    if not isinstance(header, dict):
        raise WireError("bad_request", "header must be a JSON object")
    version = header.get("v")
    if version != PROTOCOL_VERSION or isinstance(version, bool):
        raise WireError("bad_request", f"protocol version {version!r} is not supported; this end speaks {PROTOCOL_VERSION}")
    id = header.get("id")
    if not isinstance(id, int) or isinstance(id, bool) or not 0 <= id < 2**53:
        raise WireError("bad_request", "header needs an 'id' integer in [0, 2**53)")
    verb = header.get("verb")
    if not isinstance(verb, str) or not 0 < len(verb) <= MAX_NAME_LENGTH:
        raise WireError("bad_request", "header needs a 'verb' string of 1-64 characters", id)
    try:
        arrays = _decode_arrays(header.get("arrays", []), body[4 + head_length:], max_elements)
    except WireError as exc:
        exc.id = id
        raise
    fields = {key: value for key, value in header.items() if key not in _RESERVED}
    return Message(verb, id, fields, arrays)


def _no_constant(name: str):
    raise ValueError(f"{name} is not allowed in a header")


def _decode_arrays(descriptors, payload: memoryview, max_elements: int) -> dict:
    if not isinstance(descriptors, list) or len(descriptors) > MAX_ARRAYS:
        raise WireError("bad_request", f"'arrays' must be a list of at most {MAX_ARRAYS} descriptors")
    arrays, end = {}, 0
    for desc in descriptors:
        if not isinstance(desc, dict) or set(desc) != {"name", "dtype", "shape", "offset"}:
            raise WireError("bad_request", "each array descriptor needs exactly: name, dtype, shape, offset")
        name, dtype, shape, offset = desc["name"], desc["dtype"], desc["shape"], desc["offset"]
        if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_LENGTH or name in arrays:
            raise WireError("bad_request", "array names must be unique strings of 1-64 characters")
        if dtype not in DTYPES:
            raise WireError("bad_request", f"array {name!r}: dtype {dtype!r} is not one of float32, uint8, int32")
        if (not isinstance(shape, list) or len(shape) > MAX_NDIM
                or not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2**31 for n in shape)):
            raise WireError("bad_request", f"array {name!r}: shape must be a list of at most {MAX_NDIM} non-negative integers")
        count = math.prod(shape)
        if count > max_elements:
            raise WireError("too_large", f"array {name!r} of shape {shape} exceeds {max_elements} elements")
        if offset != end or isinstance(offset, bool):
            raise WireError("bad_request", f"array {name!r}: offset {offset!r} should be {end} (arrays are packed in order)")
        nbytes = count * DTYPES[dtype].itemsize
        if end + nbytes > len(payload):
            raise WireError("bad_request", f"array {name!r} ({nbytes} bytes at offset {end}) runs past the end of the payload")
        arrays[name] = np.frombuffer(payload, DTYPES[dtype], count, end).reshape(shape).copy()
        end += nbytes
    if end != len(payload):
        raise WireError("bad_request", f"payload has {len(payload) - end} bytes after the last array")
    return arrays


def error_fields(type: str, message: str) -> dict:
    """The fields of an ``error`` reply."""
    return {"error": {"type": type, "message": message}}
