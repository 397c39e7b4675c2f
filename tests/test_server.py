"""The backend server as a real process on loopback, driven through the add-on's client.

Most tests run the server with the deterministic echo session (tests/echo_runtime.py) so they
check transport, validation and session handling exactly; `test_step_matches_in_process_runtime`
runs the shipped runtime once `inference_backend.runtime.session` exists.
"""
from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import trimesh

from addon import wire
from addon.client import BackendError, BackendProcess, Cancelled, Client
from inference_backend.paths import ASSETS_DIR, REPO_ROOT
from tests.echo_runtime import EchoSession
from tests.server_helpers import launch, raw_connection, read_message

RNG = np.random.default_rng(0)


@pytest.fixture(scope="module")
def server():
    process = launch()
    yield process
    process.stop()


@pytest.fixture
def client(server):
    with server.connect() as client:
        yield client


def test_ready_line_announces_protocol_port_device_and_pid(server):
    info = server.info
    assert info["protocol"] == wire.PROTOCOL_VERSION and info["port"] == server.port
    assert info["pid"] == server.proc.pid and info["host"] == "127.0.0.1"
    import torch
    assert info["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    assert info["models"] == {"echo": "deterministic transport test session"}


def test_step_round_trips_exactly(client):
    sid = client.open_session("waves back", {"hhi": 1.0}, seed=7)
    reference = EchoSession("waves back", 7, None)
    for _ in range(3):
        frame = RNG.normal(size=(22, 3)).astype(np.float32)
        got, want = client.step(sid, frame), reference.step(frame)
        assert set(got) == set(want)
        for key in want:
            np.testing.assert_array_equal(got[key], want[key])
            assert got[key].dtype == np.float32


def test_two_concurrent_sessions_do_not_interfere(server):
    results, errors = {}, []

    def run(seed):
        try:
            with server.connect() as client:
                sids = [client.open_session("walk", seed=seed), client.open_session("walk", seed=seed + 1)]
                refs = [EchoSession("walk", seed, None), EchoSession("walk", seed + 1, None)]
                for i in range(150):
                    frame = np.full((22, 3), i, np.float32)
                    for sid, ref in zip(sids, refs):
                        np.testing.assert_array_equal(client.step(sid, frame)["joints"], ref.step(frame)["joints"])
                        np.testing.assert_array_equal(client.step(sid, frame)["transl"][2], 2 * i + 2)
                        ref.frames += 1
                results[seed] = True
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(seed,)) for seed in (10, 20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert results == {10: True, 20: True}


def test_sessions_belong_to_their_connection(server, client):
    sid = client.open_session("wave")
    with server.connect() as other:
        with pytest.raises(BackendError) as info:
            other.step(sid, np.zeros((22, 3)))
        assert info.value.type == "not_found"
    client.close_session(sid)
    with pytest.raises(BackendError, match="no open session") as info:
        client.step(sid, np.zeros((22, 3)))
    assert info.value.type == "not_found"


def test_generate_streams_progress_and_returns_the_sequence(client):
    sid = client.open_session("slow", seed=1)
    partner = RNG.normal(size=(60, 22, 3)).astype(np.float32)
    seen = []
    out = client.generate(sid, partner, on_progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (60, 60) and len(seen) >= 3 and all(t == 60 for _, t in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    want = EchoSession("slow", 1, None)
    np.testing.assert_array_equal(out["joints"], np.stack([want.step(f)["joints"] for f in partner]))
    assert out["body_pose"].shape == (60, 63)


def test_generate_can_be_cancelled_from_progress_and_from_another_thread(client):
    sid = client.open_session("slow")
    partner = np.zeros((2000, 22, 3), np.float32)  # 20 s if not cancelled
    start = time.monotonic()
    with pytest.raises(Cancelled):
        client.generate(sid, partner, on_progress=lambda done, total: done < 5)
    assert time.monotonic() - start < 3
    threading.Timer(0.3, client.cancel).start()
    start = time.monotonic()
    with pytest.raises(Cancelled):
        client.generate(sid, partner)
    assert time.monotonic() - start < 3
    assert client.step(sid, np.zeros((22, 3)))["joints"].shape == (22, 3)  # the session is usable again


def test_model_failure_is_an_internal_error_and_the_server_keeps_serving(client):
    sid = client.open_session("fail")
    with pytest.raises(BackendError) as info:
        client.generate(sid, np.zeros((3, 22, 3)))
    assert info.value.type == "internal" and "echo session asked to fail" in info.value.message
    assert client.hello()["protocol"] == 1


@pytest.mark.parametrize("frame, text", [
    (np.zeros((22, 3), np.int32), "dtype int32; expected float32"),
    (np.zeros((21, 3), np.float32), "shape (21, 3); expected (22, 3)"),
    (np.full((22, 3), np.inf, np.float32), "NaN or infinite"),
])
def test_bad_step_input_gets_bad_request(client, frame, text):
    sid = client.open_session("wave")
    with pytest.raises(BackendError, match=text.replace("(", r"\(").replace(")", r"\)")) as info:
        client._request("step", {"session": sid}, {"frame": frame})
    assert info.value.type == "bad_request"


def test_bad_open_session_fields_name_the_problem(client):
    cases = [({"intent": 3}, "must be a string"), ({"intent": "x", "weights": {"nope": 1.0}}, "unknown module 'nope'"),
             ({"intent": "x", "seed": -1}, "outside"), ({"intent": "x", "fps": 0}, "outside"),
             ({"intent": "x", "colour": "red"}, "unknown field 'colour'"), ({}, "missing field 'intent'")]
    for fields, text in cases:
        with pytest.raises(BackendError, match=text) as info:
            client._request("open_session", fields)
        assert info.value.type == "bad_request"
    with pytest.raises(BackendError) as info:
        client.open_session("x" * 5000)
    assert info.value.type == "too_large"
    with pytest.raises(BackendError, match="unknown verb"):
        client._request("dance")


def test_voxelize_a_box_gives_its_surface_or_its_solid(client):
    box = trimesh.creation.box(extents=(1.0, 0.6, 0.4))
    surface, origin, size = client.voxelize(box.vertices, box.faces, 0.1)
    solid, origin2, _ = client.voxelize(box.vertices, box.faces, 0.1, fill=True)
    assert size == 0.1 and surface.shape == solid.shape == (11, 7, 5)
    np.testing.assert_allclose(origin, [-0.5, -0.3, -0.2], atol=1e-6)
    assert solid.all()  # every voxel of the bounding grid is inside the box
    assert not surface[1:-1, 1:-1, 1:-1].any() and surface[0].all() and surface[:, :, -1].all()


def test_voxelize_sphere_occupancy_matches_geometry_and_is_cached(client):
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=0.5)
    sphere.apply_translation([2.0, -1.0, 0.5])
    grid, origin, size = client.voxelize(sphere.vertices, sphere.faces, 0.05, fill=True)
    centres = origin + size * np.argwhere(grid)
    assert np.all(np.linalg.norm(centres - [2.0, -1.0, 0.5], axis=1) < 0.5 + size)
    assert abs(grid.sum() * size**3 - 4 / 3 * np.pi * 0.5**3) < 0.25 * (4 / 3 * np.pi * 0.5**3)
    reply = client._request("voxelize", {"voxel_size": 0.05, "fill": True},
                            {"vertices": sphere.vertices.astype(np.float32), "faces": sphere.faces.astype(np.int32)})
    assert reply.fields["cached"] is True


def test_voxelize_refuses_grids_over_the_cap_and_bad_faces(client):
    box = trimesh.creation.box(extents=(100.0, 100.0, 100.0))
    with pytest.raises(BackendError, match="larger voxel size") as info:
        client.voxelize(box.vertices, box.faces, 0.01)
    assert info.value.type == "too_large"
    with pytest.raises(BackendError, match="outside") as info:
        client.voxelize(box.vertices, box.faces + 100, 1.0)
    assert info.value.type == "bad_request"


def test_open_session_with_a_scene_mesh_voxelizes_it(client):
    box = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    sid = client.open_session("sit", scene_vertices=box.vertices, scene_faces=box.faces, voxel_size=0.25, fill=True)
    assert client.step(sid, np.zeros((22, 3)))["body_pose"][0] == 125  # the echo reports occupied cells
    grid = np.zeros((4, 4, 4), bool)
    grid[0] = True
    sid = client.open_session("sit", scene_grid=grid, scene_origin=[0, 0, 0], voxel_size=0.1)
    assert client.step(sid, np.zeros((22, 3)))["body_pose"][0] == 16


# --- security ------------------------------------------------------------------------------

def test_wrong_or_missing_token_is_refused(server):
    with pytest.raises(BackendError) as info:
        Client(server.host, server.port, "x" * 43)
    assert info.value.type == "auth"
    sock = raw_connection(server)
    sock.sendall(wire.encode("hello", 1))
    reply = read_message(sock)
    assert reply.fields["error"]["type"] == "auth" and read_message(sock) is None  # answered, then closed
    sock = raw_connection(server)
    sock.sendall(wire.encode("voxelize", 1, {"voxel_size": 1.0}))
    assert read_message(sock).fields["error"]["type"] == "auth" and read_message(sock) is None


def test_unauthenticated_frames_must_be_small(server):
    sock = raw_connection(server)
    sock.sendall((50 * 1024 * 1024).to_bytes(4, "little"))
    assert read_message(sock).fields["error"]["type"] == "auth" and read_message(sock) is None


def _start_raw(*args, env=None):
    env = dict(os.environ if env is None else env)
    return subprocess.run([sys.executable, "-m", "inference_backend.server", "--session-factory",
                           "tests.echo_runtime:load", *args], env=env, cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)


def test_server_without_a_token_refuses_to_start():
    env = {k: v for k, v in os.environ.items() if k != wire.TOKEN_ENV}
    result = _start_raw(env=env)
    assert result.returncode == 2 and "no token" in result.stderr and result.stdout == ""


def test_non_loopback_bind_needs_allow_remote():
    result = _start_raw("--host", "0.0.0.0", env=dict(os.environ, REMOGEN_TOKEN="t" * 32))
    assert result.returncode == 2 and "--allow-remote" in result.stderr and result.stdout == ""


def test_token_file_must_be_private(tmp_path):
    path = tmp_path / "token"
    path.write_text("s" * 32)
    path.chmod(0o644)
    result = _start_raw("--token-file", str(path))
    assert result.returncode == 2 and "chmod 600" in result.stderr
    path.chmod(0o600)
    process = launch("--token-file", str(path))
    try:
        with pytest.raises(BackendError):  # the launcher's env token is not the file's
            process.connect()
        with Client(process.host, process.port, "s" * 32) as client:
            assert client.hello()["protocol"] == 1
    finally:
        process.stop()


# --- lifetime ------------------------------------------------------------------------------

def test_shutdown_verb_and_sigterm_stop_the_server():
    process = launch()
    with process.connect() as client:
        client.shutdown()
    assert process.proc.wait(timeout=10) == 0
    process.restart()
    os.kill(process.proc.pid, signal.SIGTERM)
    assert process.proc.wait(timeout=10) == 0


def test_server_exits_when_its_parent_dies():
    """A parent that launches the server and is then killed (a crashed Blender)."""
    code = ("import sys; sys.path.insert(0, %r)\n"
            "from tests.server_helpers import launch\n"
            "p = launch(); print(p.proc.pid, flush=True)\n"
            "import time; time.sleep(600)\n") % str(REPO_ROOT)
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        server_pid = int(parent.stdout.readline())
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _pid_alive(server_pid):
            time.sleep(0.1)
        assert not _pid_alive(server_pid), "the server outlived its parent"
    finally:
        parent.kill()


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


# --- the real runtime -----------------------------------------------------------------------

def _runtime_missing() -> str | None:
    if importlib.util.find_spec("inference_backend.runtime.session") is None:
        return "inference_backend.runtime.session does not exist yet"
    return None


def _compare_with_in_process(process: BackendProcess, runtime) -> None:
    """Same seed and inputs: the server's step answers equal the in-process ReactionSession's."""
    from inference_backend.runtime.session import ReactionSession

    rng = np.random.default_rng(3)
    pose = np.asarray(runtime.prior.offsets.cpu().numpy().cumsum(axis=0), np.float32)  # a rough T-pose-ish body
    history = np.stack([pose + [0.0, 2.0, 0.9]] * 2).astype(np.float32)
    frames = (history[-1] + rng.normal(scale=0.01, size=(12, 22, 3))).astype(np.float32)
    weights = {"hhi": 1.0}
    local = ReactionSession("shakes hands with the partner", weights=weights, seed=5, partner_history=history,
                            device="cpu", runtime=runtime)
    want = [local.step(frame) for frame in frames]
    with process.connect() as client:
        sid = client.open_session("shakes hands with the partner", weights, seed=5, history=history)
        for frame, expected in zip(frames, want):
            got = client.step(sid, frame)
            assert set(got) >= {"transl", "global_orient", "body_pose", "joints"}
            for key in ("transl", "global_orient", "body_pose", "joints"):
                np.testing.assert_allclose(got[key], expected[key], atol=1e-5, err_msg=key)
        out = client.generate(sid, frames[:9])
        assert out["joints"].shape == (9, 22, 3) and np.isfinite(out["joints"]).all()


@pytest.mark.skipif(_runtime_missing() is not None, reason=str(_runtime_missing()))
def test_step_matches_in_process_runtime_on_a_tiny_prior(tmp_path):
    """The real runtime behind the server (RuntimeFactory), on a tiny random prior so it runs
    without trained weights; the stand-in text encoder keeps start-up short."""
    from inference_backend.runtime.model import load_runtime
    from tests.tiny_prior import fake_embed, write_random_prior

    write_random_prior(tmp_path / "prior")
    runtime = load_runtime(tmp_path, "cpu")
    runtime.embed_text = fake_embed
    process = BackendProcess.launch(sys.executable, ["--device", "cpu", "--model-dir", str(tmp_path),
                                                     "--session-factory", "tests.server_helpers:tiny_runtime"],
                                    cwd=str(REPO_ROOT), timeout=300)
    try:
        assert "prior" in process.info["models"]
        _compare_with_in_process(process, runtime)
    finally:
        process.stop()


@pytest.mark.slow
@pytest.mark.skipif(_runtime_missing() is not None, reason=str(_runtime_missing()))
def test_step_matches_in_process_runtime_with_shipped_weights():
    from inference_backend.runtime.model import load_runtime

    if not (ASSETS_DIR / "prior" / "config.json").is_file():
        pytest.skip(f"the trained prior is not in {ASSETS_DIR / 'prior'} yet")
    runtime = load_runtime(ASSETS_DIR, "cpu")
    process = BackendProcess.launch(sys.executable, ["--device", "cpu"], cwd=str(REPO_ROOT), timeout=300)
    try:
        _compare_with_in_process(process, runtime)
    finally:
        process.stop()


@pytest.mark.parametrize("mesh", [trimesh.creation.icosphere(4, 0.5), trimesh.creation.annulus(0.3, 0.6, 0.5),
                                  trimesh.creation.box(extents=(3.0, 2.0, 0.1))])
def test_voxelizer_matches_trimesh_subdivide(mesh):
    """Our vectorised sampler gives trimesh's lattice and occupancy, only faster."""
    from inference_backend.server.voxelize import voxelize

    ours, theirs = voxelize(mesh.vertices, mesh.faces, 0.05), mesh.voxelized(0.05)
    np.testing.assert_array_equal(ours.grid, theirs.matrix)
    np.testing.assert_allclose(ours.origin, theirs.transform[:3, 3], atol=1e-6)
