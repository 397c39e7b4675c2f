"""Motion data: readers for mocap formats, retargeting to the canonical body, features."""
