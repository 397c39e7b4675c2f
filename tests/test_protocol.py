"""The wire format (addon/wire.py), shared by the add-on's client and the server."""
from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from addon import wire
from inference_backend.server import protocol


def body(frame: bytes) -> bytes:
    length = wire.parse_length(frame[:4], 1 << 30)
    assert length == len(frame) - 4
    return frame[4:]


def raw_frame(header: dict, payload: bytes = b"") -> bytes:
    head = json.dumps(header).encode()
    return struct.pack("<II", 4 + len(head) + len(payload), len(head)) + head + payload


def test_round_trip_keeps_fields_arrays_dtypes_and_shapes():
    arrays = {"a": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.array([[1, 0]], bool),
              "c": np.array([-7, 2**31 - 1], np.int32), "empty": np.zeros((0, 3), np.float32)}
    frame = wire.encode("step", 42, {"session": "abc", "weights": {"hhi": 0.5}}, arrays)
    message = wire.decode(body(frame))
    assert (message.verb, message.id, message.fields) == ("step", 42, {"session": "abc", "weights": {"hhi": 0.5}})
    assert message.arrays["b"].dtype == np.uint8 and message.arrays["b"].tolist() == [[1, 0]]
    for name in ("a", "c", "empty"):
        np.testing.assert_array_equal(message.arrays[name], arrays[name])
        assert message.arrays[name].dtype == arrays[name].dtype
    assert message.arrays["a"].flags.writeable  # copies, not views into the receive buffer


def test_encode_uses_little_endian_and_documented_layout():
    frame = wire.encode("x", 1, arrays={"v": np.array([1.0], ">f4")})
    (head_length,) = struct.unpack("<I", frame[4:8])
    header = json.loads(frame[8:8 + head_length])
    assert header == {"v": 1, "verb": "x", "id": 1, "arrays": [{"name": "v", "dtype": "float32", "shape": [1], "offset": 0}]}
    assert frame[8 + head_length:] == struct.pack("<f", 1.0)


@pytest.mark.parametrize("value", [np.zeros(3, np.float64), np.zeros(3, np.int64), np.array(["a"]), np.zeros(2, np.complex64)])
def test_encode_refuses_dtypes_off_the_wire(value):
    with pytest.raises(ValueError, match="float32, uint8 or int32"):
        wire.encode("x", 1, arrays={"v": value})


def test_encode_refuses_reserved_fields_and_nan():
    with pytest.raises(ValueError, match="reserved"):
        wire.encode("x", 1, {"arrays": []})
    with pytest.raises(ValueError):
        wire.encode("x", 1, {"fps": float("nan")})


@pytest.mark.parametrize("header, payload, kind, text", [
    ({"v": 2, "verb": "x", "id": 1}, b"", "bad_request", "version"),
    ({"verb": "x", "id": 1}, b"", "bad_request", "version"),
    ({"v": 1, "verb": "", "id": 1}, b"", "bad_request", "verb"),
    ({"v": 1, "verb": "x", "id": -1}, b"", "bad_request", "id"),
    ({"v": 1, "verb": "x", "id": True}, b"", "bad_request", "id"),
    ({"v": 1, "verb": "x", "id": 1, "arrays": [{"name": "a", "dtype": "float64", "shape": [1], "offset": 0}]},
     b"\0" * 8, "bad_request", "dtype"),
    ({"v": 1, "verb": "x", "id": 1, "arrays": [{"name": "a", "dtype": "float32", "shape": [4], "offset": 0}]},
     b"\0" * 8, "bad_request", "past the end"),
    ({"v": 1, "verb": "x", "id": 1, "arrays": [{"name": "a", "dtype": "float32", "shape": [1], "offset": 0}]},
     b"\0" * 8, "bad_request", "after the last array"),
    ({"v": 1, "verb": "x", "id": 1, "arrays": [{"name": "a", "dtype": "float32", "shape": [1], "offset": 4}]},
     b"\0" * 8, "bad_request", "offset"),
    ({"v": 1, "verb": "x", "id": 1, "arrays": [{"name": "a", "dtype": "uint8", "shape": [-1], "offset": 0}]},
     b"", "bad_request", "shape"),
    ({"v": 1, "verb": "x", "id": 1, "arrays": [{"name": "a", "dtype": "uint8", "shape": [2**30, 2**30], "offset": 0}]},
     b"", "too_large", "elements"),
    ({"v": 1, "verb": "x", "id": 1, "arrays": [{"name": "a", "dtype": "uint8", "shape": [1], "offset": 0, "x": 1}]},
     b"\0", "bad_request", "exactly"),
    ({"v": 1, "verb": "x", "id": 1, "arrays": {"a": 1}}, b"", "bad_request", "list"),
])
def test_decode_rejects_bad_headers_with_typed_errors(header, payload, kind, text):
    with pytest.raises(wire.WireError, match=text) as info:
        wire.decode(body(raw_frame(header, payload)))
    assert info.value.type == kind


@pytest.mark.parametrize("raw", [b"", b"\x05\0\0", struct.pack("<I", 10) + b"{}", struct.pack("<I", 2) + b"[]",
                                 struct.pack("<I", 3) + b"\xff\xfe\xfd", struct.pack("<I", 7) + b"NaN1234",
                                 struct.pack("<I", 100_000) + b"{}", struct.pack("<I", 5000) + b"[" * 5000])
def test_decode_rejects_garbage(raw):
    with pytest.raises(wire.WireError):
        wire.decode(raw)


def test_errors_after_the_id_carry_it():
    header = {"v": 1, "verb": "x", "id": 9, "arrays": [{"name": "a", "dtype": "int8", "shape": [1], "offset": 0}]}
    with pytest.raises(wire.WireError) as info:
        wire.decode(body(raw_frame(header, b"\0")))
    assert info.value.id == 9


def test_length_prefix_limits():
    with pytest.raises(wire.WireError) as info:
        wire.parse_length(struct.pack("<I", 2**32 - 1), 1024)
    assert info.value.type == "too_large"
    with pytest.raises(wire.WireError):
        wire.parse_length(struct.pack("<I", 3), 1024)


def test_server_protocol_is_the_add_on_module():
    """One definition: the backend loads addon/wire.py itself (not a copy)."""
    assert protocol.wire.__file__ == wire.__file__
    assert protocol.encode("x", 3) == wire.encode("x", 3)
