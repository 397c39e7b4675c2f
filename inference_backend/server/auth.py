"""The per-launch token every connection must present before anything else.

The launcher (the add-on) makes a random token and hands it over through the environment
(``REMOGEN_TOKEN``) or a file only the user can read; a token file readable by others is
refused because anyone who reads it can drive the backend.
"""
from __future__ import annotations

import hmac
import os
import stat
from pathlib import Path

from .protocol import TOKEN_ENV

MIN_TOKEN_LENGTH = 16
MAX_TOKEN_LENGTH = 512


class AuthError(Exception):
    """The token could not be obtained; the message says what to fix."""


def load_token(token_file: str | os.PathLike | None = None, environ=os.environ) -> str:
    """The token from ``token_file`` (mode 0600, owned by us) or else ``$REMOGEN_TOKEN``."""
    if token_file is not None:
        path = Path(token_file)
        try:
            info = path.stat()
        except OSError as exc:
            raise AuthError(f"cannot read the token file {path}: {exc.strerror}") from None
        if os.name == "posix":
            if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise AuthError(f"the token file {path} is accessible to other users (mode {stat.S_IMODE(info.st_mode):o}); "
                                f"run `chmod 600 {path}`")
            if info.st_uid != os.getuid():
                raise AuthError(f"the token file {path} belongs to another user")
        token = path.read_text(encoding="utf-8").strip()
        source = f"the token file {path}"
    else:
        token = environ.get(TOKEN_ENV, "")
        source = f"${TOKEN_ENV}"
        if not token:
            raise AuthError(f"no token: set {TOKEN_ENV} or pass --token-file (a file of mode 0600)")
    if not MIN_TOKEN_LENGTH <= len(token) <= MAX_TOKEN_LENGTH:
        raise AuthError(f"{source} holds a token of {len(token)} characters; use {MIN_TOKEN_LENGTH}-{MAX_TOKEN_LENGTH}")
    return token


def token_matches(expected: str, presented) -> bool:
    """Constant-time comparison so response timing leaks nothing about the token."""
    if not isinstance(presented, str):
        return False
    return hmac.compare_digest(expected.encode("utf-8"), presented.encode("utf-8", "surrogatepass"))
