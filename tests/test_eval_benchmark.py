"""`python -m inference_backend.eval` end to end on the real test split: sections without models
say "not available", and fill in once a prior and modules exist (a tiny random one here)."""
from __future__ import annotations

import pytest

from inference_backend.eval.__main__ import main


@pytest.fixture(scope="module")
def cache(cache_dir):
    if not (cache_dir / "index.json").is_file():
        pytest.skip(f"no motion cache at {cache_dir}; build it with `python -m inference_backend.data build`")
    return cache_dir


@pytest.mark.slow
def test_report_without_models_says_not_available(cache, tmp_path):
    out = tmp_path / "docs" / "results.md"
    assert main(["--cache", str(cache), "--replications", "2", "--assets", str(tmp_path / "none"),
                 "--out", str(out)]) == 0
    text = out.read_text()
    assert "Git revision: `" in text and "--replications 2" in text
    assert "| Real test motion (reference) |" in text
    assert "Prior rollouts: not available: no motion prior" in text
    assert "### Speed\n\nnot available" in text
    for png in ("eval_text_to_motion.png", "eval_distance_profile.png", "eval_evaluator_training.png"):
        assert (out.parent / png).stat().st_size > 1000


@pytest.mark.slow
def test_report_fills_in_when_a_prior_and_modules_exist(cache, tmp_path):
    from tests.tiny_prior import write_random_modules, write_random_prior

    assets = tmp_path / "assets"
    write_random_modules(assets / "modules", write_random_prior(assets / "prior"))
    out = tmp_path / "results.md"
    assert main(["--cache", str(cache), "--replications", "1", "--assets", str(assets), "--out", str(out)]) == 0
    text = out.read_text()
    for row in ("| Prior rollout (history = real first 2 frames) |", "| Prior only (no modules) |",
                "| ReMoGen: prior + HHI module |", "| ReMoGen: prior + HHI + FWSR |", "| Prior rollout |",
                "| Prior rollout, scene ignored (2 s from each test window) |"):
        assert row in text, row
    assert "Prior rollouts: not available" not in text
