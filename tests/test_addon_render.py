"""The render stand-in body: one capsule per bone, every vertex owned by its bone."""
from __future__ import annotations

import numpy as np

from addon.render import bone_capsules


def test_capsules_follow_bones_and_skip_tiny_ones():
    bones = [("thigh", (0, 0, 1.0), (0, 0, 0.55)), ("tiny", (0, 0, 0), (0, 0, 0.001)), ("arm", (0, 0, 1.4), (0.3, 0, 1.4))]
    verts, faces, owners = bone_capsules(bones, segments=8)
    assert len(verts) == len(owners) == 2 * (2 * 8 + 2) and set(owners) == {"thigh", "arm"}
    assert max(max(f) for f in faces) < len(verts)
    thigh = verts[np.array(owners) == "thigh"]
    # Close to the bone's line (x = y = 0) and spanning its length, with a little cap beyond.
    assert np.abs(thigh[:, :2]).max() <= 0.06 + 1e-6
    assert thigh[:, 2].min() < 0.55 and thigh[:, 2].max() > 1.0
