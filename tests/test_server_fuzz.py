"""Fuzzing a live server with malformed and random frames (hypothesis).

Each example opens an authenticated connection (with one real session, so `step`/`generate`
can hit live state), sends one fuzzed byte string — random bytes, truncated frames, oversized
or lying length prefixes, headers of random JSON, arrays of wrong dtypes/shapes/NaN/huge
declared shapes, or well-formed requests with random contents — then half-closes the socket.
Everything the server sends back must be a valid message (result, progress or a typed error)
and the connection must end promptly: no crash, no hang. At the end the server still answers
and its memory (RSS) has not grown without bound.

The default run sends 1,000 frames; the slow-marked run sends 10,000.
"""
from __future__ import annotations

import json
import socket
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from addon import wire
from tests.server_helpers import launch, raw_connection, read_message, rss_bytes

VERBS = ["hello", "open_session", "step", "generate", "voxelize", "close", "cancel", "dance"]
FIELD_NAMES = ["session", "intent", "weights", "seed", "fps", "voxel_size", "fill", "target", "token", "x"]
ARRAY_NAMES = ["frame", "partner", "history", "vertices", "faces", "scene_grid", "scene_origin", "scene_vertices",
               "scene_faces", "start_transl", "start_body_pose", "junk"]
GOOD_SHAPES = [(22, 3), (4, 22, 3), (0, 22, 3), (3,), (63,), (8, 3), (4, 3), (0, 3), (3, 3, 3), (22, 2)]
READ_TIMEOUT_S = 20.0

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**64, 2**64) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8)


@st.composite
def arrays(draw):
    dtype = draw(st.sampled_from(["float32", "uint8", "int32"]))
    shape = draw(st.sampled_from(GOOD_SHAPES) | hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6))
    if dtype == "float32":
        elements = st.floats(width=32) | st.sampled_from([0.0, 0.25, 1.0, float("nan"), float("inf")])
    elif dtype == "int32":
        elements = st.integers(-3, 30)
    else:
        elements = st.integers(0, 3)
    return draw(hnp.arrays(np.dtype(dtype), shape, elements=elements))


@st.composite
def requests(draw, sid: str):
    """A well-framed request with fields and arrays that are plausible, random, or wrong."""
    verb = draw(st.sampled_from(VERBS) | st.text(min_size=1, max_size=10).filter(lambda v: v != "shutdown"))
    fields = draw(st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, max_size=4))
    if draw(st.booleans()):
        fields["session"] = sid
    if draw(st.booleans()):
        fields["voxel_size"] = draw(st.sampled_from([0.1, 0.5, 1e-3, 0.0, -1.0]))
    if verb == "open_session" and draw(st.booleans()):
        fields["intent"] = draw(st.text(max_size=30))
    named = draw(st.dictionaries(st.sampled_from(ARRAY_NAMES), arrays(), max_size=3))
    return wire.encode(verb, draw(st.integers(0, 2**53 - 1)), fields, named)


@st.composite
def raw_headers(draw):
    """A valid length prefix around a random JSON header and descriptors that may lie."""
    header = draw(st.dictionaries(st.sampled_from(["v", "verb", "id", "arrays", "session"]), json_values, max_size=5))
    if draw(st.booleans()):
        header.update(v=1, verb=draw(st.sampled_from(VERBS)), id=1)
    descriptor = st.fixed_dictionaries({
        "name": st.sampled_from(ARRAY_NAMES), "dtype": st.sampled_from(["float32", "uint8", "int32", "float64", "<f4", 7]),
        "shape": st.lists(st.integers(-2, 2**40), max_size=5), "offset": st.integers(-5, 1 << 40)})
    if draw(st.booleans()):
        header["arrays"] = draw(st.lists(descriptor, max_size=3))
    head = json.dumps(header).encode()
    payload = draw(st.binary(max_size=64))
    return struct.pack("<II", 4 + len(head) + len(payload), len(head)) + head + payload


def mutations(sid: str):
    truncated = requests(sid).flatmap(lambda frame: st.integers(0, len(frame) - 1).map(lambda n: frame[:n]))
    lying_prefix = st.tuples(st.integers(0, 2**32 - 1), st.binary(max_size=64)).map(
        lambda t: struct.pack("<I", t[0]) + t[1])
    flipped = st.tuples(requests(sid), st.integers(0, 10**6), st.integers(1, 255)).map(
        lambda t: _flip(*t))
    return st.one_of(requests(sid), raw_headers(), truncated, lying_prefix, flipped, st.binary(max_size=200))


def _flip(frame: bytes, position: int, xor: int) -> bytes:
    data = bytearray(frame)
    data[position % len(data)] ^= xor
    return bytes(data)


class Fuzzer:
    def __init__(self, process):
        self.process = process
        self.replies = 0
        self.frames = 0

    def session(self) -> tuple[socket.socket, str]:
        sock = raw_connection(self.process, self.process.token, timeout=READ_TIMEOUT_S)
        sock.sendall(wire.encode("open_session", 1, {"intent": "fuzz"}))
        reply = read_message(sock)
        return sock, reply.fields["session"]

    def send(self, sock: socket.socket, data: bytes) -> None:
        self.frames += 1
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)  # so a frame left unfinished ends at EOF, not at a timeout
        except OSError:  # the server may already have answered and closed
            pass
        try:
            while True:
                message = read_message(sock)  # socket.timeout here means the server hung
                if message is None:
                    break
                self.check(message)
        finally:
            sock.close()

    def check(self, message: wire.Message) -> None:
        self.replies += 1
        assert message.verb in ("result", "error", "progress"), message
        if message.verb == "error":
            error = message.fields["error"]
            assert error["type"] in wire.ERROR_TYPES and isinstance(error["message"], str) and error["message"]


@pytest.fixture(scope="module")
def fuzz_server():
    process = launch()
    yield process
    process.stop()


def _run(fuzz_server, examples: int) -> None:
    fuzzer = Fuzzer(fuzz_server)
    sid_box = {}

    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def fuzz(data):
        sock, sid = fuzzer.session()
        sid_box.setdefault("first", sid)
        fuzzer.send(sock, data.draw(mutations(sid)))
        if fuzzer.frames == 50:
            sid_box["rss"] = rss_bytes(fuzz_server.proc.pid)

    fuzz()
    assert fuzz_server.alive, fuzz_server.stderr_tail()
    assert fuzzer.frames >= examples and fuzzer.replies > examples // 2
    with fuzz_server.connect() as client:
        assert client.hello()["protocol"] == wire.PROTOCOL_VERSION
        sid = client.open_session("after the storm")
        assert client.step(sid, np.zeros((22, 3)))["joints"].shape == (22, 3)
    growth = rss_bytes(fuzz_server.proc.pid) - sid_box["rss"]
    assert growth < 150 * 1024 * 1024, f"server memory grew by {growth / 2**20:.0f} MiB during fuzzing"


def test_fuzz_1000_frames(fuzz_server):
    _run(fuzz_server, 1000)


@pytest.mark.slow
def test_fuzz_10000_frames(fuzz_server):
    _run(fuzz_server, 10_000)
