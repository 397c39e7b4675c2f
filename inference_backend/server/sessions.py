"""Where sessions come from: the shipped runtime, or another factory named on the command line.

A *session factory* is a callable ``factory(intent=, weights=, seed=, fps=, partner_history=,
scene=, start=, device=)`` returning an object with ``step(partner_frame) -> dict`` and
``generate(partner, progress=) -> dict`` (the interface of
``inference_backend.runtime.session.ReactionSession``). It may carry ``models`` (a dict shown
in the ready line and ``hello``) and ``modules`` (module names accepted in ``weights``).

``--session-factory module:name`` names a loader ``name(model_dir=, device=) -> factory``; the
default loads the shipped weights through ``inference_backend.runtime``.
"""
from __future__ import annotations

import importlib
from pathlib import Path


class RuntimeUnavailable(Exception):
    """The runtime or its weights could not be loaded; the message says why."""


def load_factory(spec: str | None, model_dir: Path, device: str):
    if spec:
        module_name, _, attr = spec.partition(":")
        if not module_name or not attr:
            raise RuntimeUnavailable(f"--session-factory {spec!r} must look like 'package.module:loader'")
        try:
            loader = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise RuntimeUnavailable(f"--session-factory {spec!r}: {exc}") from None
        return loader(model_dir=model_dir, device=device)
    return load_runtime_factory(model_dir, device)


def load_runtime_factory(model_dir: Path, device: str):
    """The shipped model: weights loaded once, shared by every session of this process."""
    try:
        from inference_backend.runtime import session as runtime_session
    except ImportError as exc:
        raise RuntimeUnavailable(f"the inference runtime (inference_backend.runtime.session) cannot be imported: {exc}") from None
    try:
        runtime = runtime_session.load_runtime(model_dir=model_dir, device=device)
    except FileNotFoundError as exc:
        raise RuntimeUnavailable(f"model weights missing under {model_dir}: {exc}") from None
    return RuntimeFactory(runtime_session, runtime, device)


class RuntimeFactory:
    """Opens ``ReactionSession``s on the runtime loaded once at start-up."""

    def __init__(self, runtime_session, runtime, device: str):
        from inference_backend.runtime.model import MODULE_NAMES

        self._module = runtime_session
        self.runtime = runtime
        self.device = device
        self.models = _describe(runtime)
        self.modules = tuple(MODULE_NAMES)  # a module absent from the model folder just has no effect

    def __call__(self, *, intent, weights, seed, fps, partner_history, scene, start, device):
        scene_grid = None
        if scene is not None:
            scene_grid = self._module.SceneGrid(occupancy=scene.grid, origin=scene.origin, voxel_size=scene.voxel_size)
        return self._module.ReactionSession(intent, weights=weights, seed=seed, fps=fps, partner_history=partner_history,
                                            scene=scene_grid, start=start, device=device, runtime=self.runtime)


def _describe(runtime) -> dict:
    describe = getattr(runtime, "describe", None)
    if callable(describe):
        return {str(k): v for k, v in describe().items()}
    return {"runtime": type(runtime).__name__}
