"""A deterministic stand-in session for transport tests (server, client, fuzzing).

It answers at once and predictably, so tests can check that the bytes the client sends reach the
session and that the answer comes back intact, without the trained model. Tests of the real
model's output through the server live in tests/test_server.py (they run once
``inference_backend.runtime.session`` exists). Started with
``--session-factory tests.echo_runtime:load``.

Behaviour: ``joints`` = partner frame mirrored through the origin's YZ plane, shifted by 1 m
along +Y and by ``seed * 1e-3`` along +X; a session keeps a frame counter in ``transl[2]``.
Intent ``"slow"`` makes generate sleep 10 ms per frame (for cancel tests); ``"fail"`` makes it
raise (for internal-error tests).
"""
from __future__ import annotations

import time

import numpy as np


def load(model_dir, device):
    return EchoFactory()


class EchoFactory:
    models = {"echo": "deterministic transport test session"}
    modules = ("hhi", "hsi")

    def __call__(self, *, intent, weights, seed, fps, partner_history, scene, start, device):
        return EchoSession(intent, seed, scene)


class EchoSession:
    def __init__(self, intent, seed, scene):
        self.intent = intent
        self.offset = np.array([seed * 1e-3, 1.0, 0.0], np.float32)
        self.frames = 0
        self.scene_cells = 0 if scene is None else int(scene.grid.sum())

    def step(self, partner_frame):
        joints = partner_frame * np.array([-1, 1, 1], np.float32) + self.offset
        self.frames += 1
        transl = np.array([joints[0, 0], joints[0, 1], self.frames], np.float32)
        return {"transl": transl, "global_orient": np.zeros(3, np.float32),
                "body_pose": np.full(63, self.scene_cells, np.float32), "joints": joints.astype(np.float32)}

    def generate(self, partner, progress=None):
        if self.intent == "fail":
            raise RuntimeError("echo session asked to fail")
        outputs = []
        for t, frame in enumerate(partner):
            if self.intent == "slow":
                time.sleep(0.01)
            outputs.append(self.step(frame))
            if progress is not None and progress(t + 1, len(partner)) is False:
                break
        return {key: np.stack([o[key] for o in outputs]) for key in outputs[0]}
