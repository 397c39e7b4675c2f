"""The wire format, shared with the add-on's client.

The single definition lives in ``addon/wire.py`` (it must run in Blender's Python, which has
no backend package). It is loaded here by file path rather than ``import addon.wire`` so the
server never runs ``addon/__init__.py`` (which imports bpy).
"""
from __future__ import annotations

import importlib.util
import sys

from inference_backend.paths import REPO_ROOT

_WIRE_PATH = REPO_ROOT / "addon" / "wire.py"
_NAME = "remogen_wire"


def _load_wire():
    if _NAME in sys.modules:
        return sys.modules[_NAME]
    if not _WIRE_PATH.is_file():
        raise ImportError(f"the wire format module is missing: {_WIRE_PATH} (the backend runs from the repository checkout)")
    spec = importlib.util.spec_from_file_location(_NAME, _WIRE_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[_NAME] = module
    spec.loader.exec_module(module)
    return module


wire = _load_wire()

PROTOCOL_VERSION = wire.PROTOCOL_VERSION
READY_PREFIX = wire.READY_PREFIX
TOKEN_ENV = wire.TOKEN_ENV
ERROR_TYPES = wire.ERROR_TYPES
DTYPES = wire.DTYPES
Message = wire.Message
WireError = wire.WireError
encode = wire.encode
decode = wire.decode
parse_length = wire.parse_length
error_fields = wire.error_fields

__all__ = ["PROTOCOL_VERSION", "READY_PREFIX", "TOKEN_ENV", "ERROR_TYPES", "DTYPES", "Message",
           "WireError", "encode", "decode", "parse_length", "error_fields", "wire"]
