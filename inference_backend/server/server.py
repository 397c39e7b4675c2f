"""The backend server: one thread per connection, sessions owned by their connection.

A connection must authenticate with ``hello`` + token first; then it may open sessions, step
them, run ``generate`` jobs (in a worker thread, so the same connection can ``cancel`` them),
voxelize meshes, send the skinned SMPL-X body of a user's model file (``body_mesh``), and
``shutdown`` the server. Every bad request gets a typed error reply and
the connection carries on; only a frame that breaks the framing itself (oversized or
unfinished) closes the connection, because the byte stream can no longer be trusted.
"""
from __future__ import annotations

import secrets
import socket
import sys
import threading
import time
import traceback

import numpy as np

from inference_backend import __version__
from inference_backend.body.smplx_model import SmplxModelError

from . import validation as v
from .auth import token_matches
from .body_mesh import BodyMeshCache
from .protocol import PROTOCOL_VERSION, WireError, decode, encode, error_fields, parse_length
from .voxelize import Occupancy, VoxelCache

PROGRESS_INTERVAL_S = 0.05
AUTH_TIMEOUT_S = 10.0
RECV_CHUNK = 1 << 20


class _Closed(Exception):
    """The peer went away (or the server is stopping)."""


class Server:
    def __init__(self, factory, token: str, device: str, host: str = "127.0.0.1", port: int = 0,
                 limits: v.Limits = v.Limits(), log=sys.stderr):
        self.factory = factory
        self.token = token
        self.device = device
        self.limits = limits
        self.log = log
        self.voxels = VoxelCache()
        self.body_meshes = BodyMeshCache()
        self.models = dict(getattr(factory, "models", None) or {})
        modules = getattr(factory, "modules", None)
        self.modules = tuple(modules) if modules is not None else None
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.create_server((host, port), family=family, backlog=64)
        self.host = host
        self.port = self.listener.getsockname()[1]
        self._stop = threading.Event()
        self._connections: set[Connection] = set()
        self._lock = threading.Lock()

    def info(self) -> dict:
        """What the ready line and ``hello`` announce."""
        return {"protocol": PROTOCOL_VERSION, "server": "remogen", "version": __version__, "device": self.device,
                "models": self.models, "modules": list(self.modules) if self.modules is not None else None}

    def stop(self) -> None:
        """Ask ``serve_forever`` to return (safe from signal handlers and other threads)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def serve_forever(self, poll_s: float = 0.2) -> None:
        self.listener.settimeout(poll_s)
        try:
            while not self._stop.is_set():
                try:
                    sock, address = self.listener.accept()
                except (socket.timeout, InterruptedError):
                    continue
                except OSError:
                    if self._stop.is_set():
                        break
                    raise
                self._admit(sock, address)
        finally:
            self._close_all()

    def _admit(self, sock: socket.socket, address) -> None:
        sock.setblocking(True)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            full = len(self._connections) >= self.limits.max_connections
            if not full:
                connection = Connection(self, sock, address)
                self._connections.add(connection)
        if full:
            try:
                sock.sendall(encode("error", 0, error_fields(
                    "too_large", f"the server already has {self.limits.max_connections} connections; close some first")))
            except OSError:
                pass
            sock.close()
            return
        connection.thread.start()

    def forget(self, connection: Connection) -> None:
        with self._lock:
            self._connections.discard(connection)

    def _close_all(self) -> None:
        self.listener.close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.interrupt()
        for connection in connections:
            connection.thread.join(timeout=5.0)

    def report(self, text: str) -> None:
        try:  # the reader of our stderr (the add-on) may be gone
            print(f"[remogen-server] {text}", file=self.log, flush=True)
        except (OSError, ValueError):
            pass


class _Session:
    def __init__(self, session):
        self.session = session
        self.lock = threading.Lock()  # held by step or by a generate job


class Connection:
    """One client: reads frames, answers them in order; ``generate`` runs beside the reader."""

    def __init__(self, server: Server, sock: socket.socket, address):
        self.server = server
        self.sock = sock
        self.address = address
        self.limits = server.limits
        self.sessions: dict[str, _Session] = {}
        self.jobs: dict[int, threading.Event] = {}  # request id of a running generate -> cancel flag
        self.job_threads: list[threading.Thread] = []
        self._send_lock = threading.Lock()
        self.authenticated = False
        self.thread = threading.Thread(target=self.run, name=f"remogen-conn-{address}", daemon=True)

    # --- I/O -----------------------------------------------------------------------------
    def interrupt(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _recv_exact(self, count: int, timeout: float | None) -> bytearray:
        """Exactly ``count`` bytes. The buffer grows with what arrives (never with what the length
        prefix promises), so a peer cannot make us reserve memory it never sends."""
        buffer = bytearray()
        self.sock.settimeout(timeout)
        try:
            while len(buffer) < count:
                chunk = self.sock.recv(min(count - len(buffer), RECV_CHUNK))
                if not chunk:
                    raise _Closed()
                buffer += chunk
        except socket.timeout:
            raise WireError("bad_request", f"frame incomplete after {timeout:.0f} s; closing the connection") from None
        except OSError:
            raise _Closed() from None
        return buffer

    def send(self, verb: str, id: int, fields: dict | None = None, arrays: dict | None = None) -> None:
        frame = encode(verb, id, fields, arrays)
        with self._send_lock:
            try:
                self.sock.settimeout(None)
                self.sock.sendall(frame)
            except OSError:
                raise _Closed() from None

    def send_error(self, id: int, type: str, message: str) -> None:
        self.send("error", id, error_fields(type, message))

    # --- main loop -----------------------------------------------------------------------
    def run(self) -> None:
        try:
            while not self.server.stopping:
                max_body = self.limits.max_message_bytes if self.authenticated else self.limits.max_preauth_bytes
                first_timeout = None if self.authenticated else AUTH_TIMEOUT_S
                try:
                    length = parse_length(self._recv_exact(4, first_timeout), max_body)
                    body = self._recv_exact(length, self.limits.frame_timeout_s)
                except WireError as exc:  # framing broken: answer, then close
                    if not self.authenticated and exc.type == "too_large":
                        exc = WireError("auth", "authenticate first: send 'hello' with the token (small frame)")
                    self.send_error(0, exc.type, exc.message)
                    return
                try:
                    message = decode(body, max_elements=self.limits.max_message_bytes)
                except WireError as exc:
                    if not self.authenticated:
                        self.send_error(exc.id, "auth", f"authenticate first with 'hello' and the token ({exc.message})")
                        return
                    self.send_error(exc.id, exc.type, exc.message)
                    continue
                del body
                if not self.authenticated:
                    if not self._authenticate(message):
                        return
                    continue
                self._handle(message)
        except _Closed:
            pass
        finally:
            self._cleanup()

    def _authenticate(self, message) -> bool:
        if message.verb != "hello" or not token_matches(self.server.token, message.fields.get("token")):
            reason = "wrong or missing token" if message.verb == "hello" else f"'{message.verb}' before 'hello'"
            self.server.report(f"refused connection from {self.address}: {reason}")
            self.send_error(message.id, "auth", f"authentication failed ({reason}); send 'hello' with the launch token first")
            return False
        self.authenticated = True
        self.send("result", message.id, self.server.info())
        return True

    def _handle(self, message) -> None:
        handler = getattr(self, "verb_" + message.verb, None) if message.verb.isidentifier() else None
        if handler is None:
            self.send_error(message.id, "bad_request", f"unknown verb {message.verb!r}; known: {', '.join(VERBS)}")
            return
        try:
            reply = handler(message)
        except WireError as exc:
            self.send_error(message.id, exc.type, exc.message)
            return
        except _Closed:
            raise
        except Exception as exc:  # a bug or a model failure: report it, keep serving
            self.server.report(f"internal error in {message.verb}:\n{traceback.format_exc()}")
            self.send_error(message.id, "internal", f"{message.verb} failed: {type(exc).__name__}: {str(exc)[:500]}")
            return
        if reply is not None:
            fields, arrays = reply
            self.send("result", message.id, fields, arrays)

    def _cleanup(self) -> None:
        for cancel in list(self.jobs.values()):
            cancel.set()
        for thread in self.job_threads:
            thread.join(timeout=10.0)
        for entry in self.sessions.values():
            with entry.lock:
                _close_session(entry.session)
        self.sessions.clear()
        try:
            self.sock.close()
        except OSError:
            pass
        self.server.forget(self)

    # --- verbs ---------------------------------------------------------------------------
    def verb_hello(self, message):
        return self.server.info(), None

    def verb_open_session(self, message):
        f, a, limits = message.fields, message.arrays, self.limits
        v.check_fields(f, "open_session", required=("intent",), optional=("weights", "seed", "fps", "voxel_size", "fill"))
        v.check_array_names(a, "open_session", optional=("history", "scene_grid", "scene_origin", "scene_vertices",
                                                          "scene_faces", "start_transl", "start_global_orient",
                                                          "start_body_pose"))
        intent = v.string(f, "intent", limits.max_intent_chars)
        weights = v.weights(f, "weights", limits, self.server.modules)
        seed = v.integer(f, "seed", 0, 2**63 - 1, default=0)
        fps = v.number(f, "fps", 1.0, 240.0, default=30.0)
        history = v.joint_sequence(a, "history", limits.max_history) if "history" in a else None
        scene = self._scene(f, a)
        start = {key[len("start_"):]: v.array(a, key, "float32", shape)
                 for key, shape in (("start_transl", (3,)), ("start_global_orient", (3,)), ("start_body_pose", (63,)))
                 if key in a} or None
        if len(self.sessions) >= limits.max_sessions_per_connection:
            raise WireError("too_large", f"this connection already has {len(self.sessions)} sessions open; close one first")
        try:
            session = self.server.factory(intent=intent, weights=weights, seed=seed, fps=fps, partner_history=history,
                                          scene=scene, start=start, device=self.server.device)
        except ValueError as exc:  # the runtime's own checks (e.g. a scene it cannot use)
            raise WireError("bad_request", f"open_session: {str(exc)[:500]}") from None
        sid = secrets.token_hex(8)
        self.sessions[sid] = _Session(session)
        fields = {"session": sid}
        if scene is not None:
            fields["scene_shape"] = list(scene.grid.shape)
        return fields, None

    def _scene(self, f, a):
        has_grid, has_mesh = "scene_grid" in a, "scene_vertices" in a or "scene_faces" in a
        if has_grid and has_mesh:
            v.bad("open_session: send either a scene grid or a scene mesh, not both")
        if not has_grid and not has_mesh:
            if "voxel_size" in f or "scene_origin" in a:
                v.bad("open_session: 'voxel_size'/'scene_origin' given without a scene")
            return None
        if "voxel_size" not in f:
            v.bad("open_session: a scene needs 'voxel_size' (metres)")
        voxel_size = v.number(f, "voxel_size", 1e-3, 10.0)
        if has_grid:
            if "scene_origin" not in a:
                v.bad("open_session: 'scene_grid' needs 'scene_origin' (3,) float32, the centre of voxel (0, 0, 0)")
            if "fill" in f:
                v.bad("open_session: 'fill' applies to a scene mesh only")
            grid = v.occupancy(a, "scene_grid", self.limits)
            return Occupancy(grid, v.array(a, "scene_origin", "float32", (3,)), voxel_size)
        if "scene_origin" in a:
            v.bad("open_session: 'scene_origin' belongs with 'scene_grid', not with a mesh")
        if "scene_vertices" not in a or "scene_faces" not in a:
            v.bad("open_session: a scene mesh needs both 'scene_vertices' and 'scene_faces'")
        vertices, faces = v.mesh(a, self.limits, prefix="scene_")
        v.voxel_work(vertices, faces, voxel_size, self.limits)
        occupancy, _ = self.server.voxels.get(vertices, faces, voxel_size, v.boolean(f, "fill", False))
        return occupancy

    def _session(self, fields, verb) -> _Session:
        sid = fields.get("session")
        if not isinstance(sid, str):
            v.bad(f"{verb}: field 'session' must be the id string returned by open_session")
        entry = self.sessions.get(sid)
        if entry is None:
            raise WireError("not_found", f"{verb}: no open session {sid[:40]!r} on this connection "
                                         "(closed, or opened on another connection); open_session again")
        return entry

    def verb_step(self, message):
        v.check_fields(message.fields, "step", required=("session",))
        v.check_array_names(message.arrays, "step", required=("frame",))
        entry = self._session(message.fields, "step")
        frame = v.joints(message.arrays, "frame")
        if not entry.lock.acquire(blocking=False):
            v.bad("step: the session is busy with a generate; cancel it or wait for it")
        try:
            out = entry.session.step(frame)
        finally:
            entry.lock.release()
        return {}, _arrays(out, "step")

    def verb_generate(self, message):
        v.check_fields(message.fields, "generate", required=("session",))
        v.check_array_names(message.arrays, "generate", required=("partner",))
        entry = self._session(message.fields, "generate")
        partner = v.joint_sequence(message.arrays, "partner", self.limits.max_frames)
        if not entry.lock.acquire(blocking=False):
            v.bad("generate: the session is busy with another generate; cancel it or wait for it")
        cancel = threading.Event()
        self.jobs[message.id] = cancel
        thread = threading.Thread(target=self._generate_job, args=(message.id, entry, partner, cancel),
                                  name=f"remogen-generate-{message.id}", daemon=True)
        self.job_threads = [t for t in self.job_threads if t.is_alive()] + [thread]
        thread.start()
        return None  # the job replies when done

    def _generate_job(self, id: int, entry: _Session, partner: np.ndarray, cancel: threading.Event) -> None:
        last = [0.0]

        def progress(done, total):
            if cancel.is_set():
                return False
            now = time.monotonic()
            if now - last[0] >= PROGRESS_INTERVAL_S or done >= total:
                last[0] = now
                try:
                    self.send("progress", id, {"done": int(done), "total": int(total)})
                except _Closed:
                    cancel.set()
                    return False
            return True

        try:
            try:
                out = entry.session.generate(partner, progress=progress)
            finally:
                entry.lock.release()
            if cancel.is_set():
                self.send_error(id, "cancelled", "generate was cancelled by the client")
            else:
                self.send("result", id, {"frames": int(len(partner))}, _arrays(out, "generate"))
        except _Closed:
            pass
        except Exception as exc:
            if cancel.is_set():  # a runtime may raise to abort; that is still a cancel
                self._try_send_error(id, "cancelled", "generate was cancelled by the client")
            else:
                self.server.report(f"internal error in generate:\n{traceback.format_exc()}")
                self._try_send_error(id, "internal", f"generate failed: {type(exc).__name__}: {str(exc)[:500]}")
        finally:
            self.jobs.pop(id, None)

    def _try_send_error(self, id, type, message):
        try:
            self.send_error(id, type, message)
        except _Closed:
            pass

    def verb_cancel(self, message):
        v.check_fields(message.fields, "cancel", required=("target",))
        target = v.integer(message.fields, "target", 0, 2**53 - 1)
        cancel = self.jobs.get(target)
        if cancel is not None:
            cancel.set()
        return None  # no reply: the generate itself answers "cancelled" (or its result, if it won the race)

    def verb_voxelize(self, message):
        f, a = message.fields, message.arrays
        v.check_fields(f, "voxelize", required=("voxel_size",), optional=("fill",))
        v.check_array_names(a, "voxelize", required=("vertices", "faces"))
        voxel_size = v.number(f, "voxel_size", 1e-3, 10.0)
        fill = v.boolean(f, "fill", False)
        vertices, faces = v.mesh(a, self.limits)
        v.voxel_work(vertices, faces, voxel_size, self.limits)
        occupancy, cached = self.server.voxels.get(vertices, faces, voxel_size, fill)
        return ({"voxel_size": occupancy.voxel_size, "cached": cached},
                {"grid": occupancy.grid.view(np.uint8), "origin": occupancy.origin})

    def verb_body_mesh(self, message):
        f = message.fields
        v.check_fields(f, "body_mesh", required=("model_path",))
        v.check_array_names(message.arrays, "body_mesh")
        path = v.string(f, "model_path", 4096)
        if not path.strip():
            v.bad("body_mesh: field 'model_path' is empty; give the path of your SMPLX_NEUTRAL.npz")
        try:
            mesh = self.server.body_meshes.get(path)
        except SmplxModelError as exc:
            v.bad(f"body_mesh: {str(exc)[:1000]}")
        return {"vertices": len(mesh["vertices"]), "faces": len(mesh["faces"])}, mesh

    def verb_close(self, message):
        v.check_fields(message.fields, "close", required=("session",))
        v.check_array_names(message.arrays, "close")
        entry = self._session(message.fields, "close")
        if not entry.lock.acquire(blocking=False):
            v.bad("close: the session is busy with a generate; cancel it first")
        try:
            _close_session(entry.session)
        finally:
            entry.lock.release()
        del self.sessions[message.fields["session"]]
        return {}, None

    def verb_shutdown(self, message):
        v.check_fields(message.fields, "shutdown")
        self.server.report(f"shutdown requested by {self.address}")
        self.send("result", message.id, {})
        self.server.stop()
        return None


VERBS = tuple(name[len("verb_"):] for name in vars(Connection) if name.startswith("verb_"))


def _arrays(out, verb: str) -> dict:
    """A session's output as wire arrays (float32), refusing anything that is not numeric."""
    if not isinstance(out, dict):
        raise TypeError(f"{verb} returned {type(out).__name__}, expected a dict of arrays")
    result = {}
    for name, value in out.items():
        if hasattr(value, "detach"):  # a torch tensor slipped through
            value = value.detach().cpu().numpy()
        result[str(name)] = np.asarray(value, dtype=np.float32)
    return result


def _close_session(session) -> None:
    close = getattr(session, "close", None)
    if callable(close):
        close()
