"""ReMoGen for Blender: generate a second character's reaction to a partner and the scene.

This file stays light (no bpy import at module level) so the plain modules of the package
(`rig.keys`, `rig.bonemaps`, `cli` argument parsing, ...) import and test without Blender;
everything bpy is registered from `registration`.
"""


def register():
    from . import registration

    registration.register()


def unregister():
    from . import registration

    registration.unregister()
