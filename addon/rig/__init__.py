"""Rig I/O: the SMPL-X skeleton, bone maps, keyframe maths (plain modules) and their bpy shells
(`create_rig`, `write_keys`, `read_partner`, `bake`)."""
