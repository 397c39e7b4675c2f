"""The reaction at inference time: `ReactionSession` (online, frame by frame), `generate` /
`generate_batch` (whole shots), `load_runtime` (the models, loaded once per process)."""
