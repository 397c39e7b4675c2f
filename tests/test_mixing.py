"""Module mixing: α = 0 is exactly the prior, the L2 clamp bounds the modulation, the wrapper
computes what the prior computes and leaves it untouched, weights are validated."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from inference_backend.models.denoiser import LatentDenoiser
from inference_backend.models.interaction import InteractionModule, ModuleConfig
from inference_backend.models.mixing import (MAX_ALPHA, Active, Modulator, clamp_norm, mix, prior_layers,
                                             validate_weights)


@pytest.fixture(scope="module")
def denoiser():
    torch.manual_seed(0)
    return LatentDenoiser(latent_dim=16, d_model=32, layers=2, heads=2, ff=64, dropout=0.0).eval()


def _module(kind="hhi", seed=1, scale=0.2, layers=(0, 1)):
    torch.manual_seed(seed)
    m = InteractionModule(ModuleConfig(kind=kind, d_prior=32, layers=list(layers), d_cue=16, d_inner=16, heads=2,
                                       grid_shape=[8, 8, 8], grid_cell=0.25)).eval()
    with torch.no_grad():
        for block in m.blocks:
            block.film.weight.normal_(0, scale)
            block.film.bias.normal_(0, scale)
    return m


def _inputs(b=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, 16, generator=g), torch.randint(10, (b,), generator=g), torch.randn(b, 384, generator=g),
            torch.randn(b, 2, 276, generator=g), torch.ones(b, dtype=torch.bool))


@settings(max_examples=50, deadline=None)
@given(st.floats(0.01, 10.0), st.integers(0, 10_000))
def test_clamp_bounds_every_vector(max_norm, seed):
    delta = torch.randn(4, 5, 8, generator=torch.Generator().manual_seed(seed)) * 10
    out = clamp_norm(delta, max_norm)
    assert (out.norm(dim=-1) <= max_norm * (1 + 1e-5)).all()
    small = delta.norm(dim=-1) <= max_norm
    assert torch.equal(out[small], delta[small])  # vectors within the bound are untouched
    # direction is kept
    cos = torch.nn.functional.cosine_similarity(out, delta, dim=-1)
    assert (cos > 0.9999).all()


def test_mix_clamps_total_relative_to_features():
    h = torch.randn(2, 5, 8)
    big = [torch.randn(2, 5, 8) * 100, torch.randn(2, 5, 8) * 100]
    out = mix(h, big, [MAX_ALPHA, MAX_ALPHA], max_ratio=0.5)
    assert ((out - h).norm(dim=-1) <= 0.5 * h.norm(dim=-1) * (1 + 1e-5)).all()
    assert torch.equal(mix(h, big, [0.0, 0.0]), h)
    # per-row alphas: a zero row is left exactly as it was
    out = mix(h, big, [torch.tensor([0.0, 1.0]), torch.tensor([0.0, 2.0])])
    assert torch.equal(out[0], h[0]) and not torch.equal(out[1], h[1])


def test_alpha_zero_and_fresh_module_are_exactly_the_prior(denoiser):
    mod = Modulator(denoiser)
    z, t, text, hist, keep = _inputs()
    with torch.no_grad():
        plain = denoiser(z, t, text, hist, keep)
        trained = _module()
        cues = torch.randn(3, 4, 16)
        assert mod.bind([Active(trained, trained.memory(cues), 0.0)]) is denoiser  # α = 0: the prior itself
        assert torch.equal(mod.bind([Active(trained, trained.memory(cues), 0.0)])(z, t, text, hist, keep), plain)
        fresh = InteractionModule(ModuleConfig(kind="hhi", d_prior=32, layers=[0, 1], d_cue=16, d_inner=16, heads=2))
        # zero-initialised FiLM through the layer-by-layer wrapper: the prior's numbers (up to the
        # fused vs unfused kernel's rounding)
        assert torch.allclose(mod.bind([Active(fresh, fresh.memory(cues), 1.0)])(z, t, text, hist, keep), plain,
                              atol=1e-5)
        moved = mod.bind([Active(trained, trained.memory(cues), 1.0)])(z, t, text, hist, keep)
        assert not torch.allclose(moved, plain, atol=1e-3)
        assert torch.equal(denoiser(z, t, text, hist, keep), plain)  # the prior itself is untouched
    # no hooks are left on the prior (they would also disable torch's fused inference kernel)
    assert all(not layer._forward_hooks and not layer._forward_pre_hooks for layer in prior_layers(denoiser))


def test_wrapper_follows_the_denoiser_in_training_mode_too(denoiser):
    """With grad enabled the layers take the unfused path; the wrapper must still be the prior."""
    fresh = InteractionModule(ModuleConfig(kind="hhi", d_prior=32, layers=[1], d_cue=16, d_inner=16, heads=2))
    z, t, text, hist, keep = _inputs()
    keep = torch.tensor([True, False, True])
    out = Modulator(denoiser).bind([Active(fresh, fresh.memory(torch.randn(3, 4, 16)), 1.0)])(z, t, text, hist, keep)
    assert torch.allclose(out, denoiser(z, t, text, hist, keep), atol=1e-6)


def test_mixing_is_linear_before_the_clamp(denoiser):
    """Δ_total = Σ α_i Δ_i: two modules at α = 0.5 each add the average of their deltas."""
    a, b = _module(seed=1, scale=0.01, layers=(0,)), _module(seed=2, scale=0.01, layers=(0,))
    cues = torch.randn(3, 4, 16)
    z, t, text, hist, keep = _inputs()
    seen = {}
    layer1 = prior_layers(denoiser)[1]
    handle = layer1.register_forward_pre_hook(lambda _m, args: seen.setdefault("in", args[0].detach().clone()))
    try:
        with torch.no_grad():
            Modulator(denoiser).bind([Active(a, a.memory(cues), 0.5), Active(b, b.memory(cues), 0.5)],
                                     max_ratio=10.0)(z, t, text, hist, keep)
            modulated = seen.pop("in")
            denoiser(z, t, text, hist, keep)
            h = seen.pop("in")  # layer 0's plain output = layer 1's input
            expected = h + 0.5 * a.delta(0, h, a.memory(cues)) + 0.5 * b.delta(0, h, b.memory(cues))
    finally:
        handle.remove()
    assert torch.allclose(modulated, expected, atol=1e-5)


def test_clamp_bounds_the_modulation_of_the_features(denoiser):
    huge = _module(seed=3, scale=50.0, layers=(0,))
    cues = torch.randn(3, 4, 16)
    z, t, text, hist, keep = _inputs()
    seen = {}
    handle = prior_layers(denoiser)[1].register_forward_pre_hook(
        lambda _m, args: seen.setdefault("in", args[0].detach().clone()))
    try:
        with torch.no_grad():
            Modulator(denoiser).bind([Active(huge, huge.memory(cues), MAX_ALPHA)], max_ratio=0.5)(z, t, text, hist, keep)
            modulated = seen.pop("in")
            denoiser(z, t, text, hist, keep)
            h = seen.pop("in")
    finally:
        handle.remove()
    delta = (modulated - h).norm(dim=-1)
    assert (delta <= 0.5 * h.norm(dim=-1) * (1 + 1e-4)).all()
    assert (delta > 0.45 * h.norm(dim=-1)).all()  # such a module is clamped right at the bound


def test_cues_follow_cfg_halves(denoiser):
    """Classifier-free guidance runs cond and uncond halves in one batch: cues are repeated."""
    z, t, text, hist, keep = _inputs(b=2)
    m = _module()
    run = Modulator(denoiser).bind([Active(m, m.memory(torch.randn(2, 4, 16)), 1.0)])
    with torch.no_grad():
        both = run(torch.cat([z, z]), torch.cat([t, t]), torch.cat([text, text]), torch.cat([hist, hist]),
                   torch.cat([keep, keep]))
        single = run(z, t, text, hist, keep)
    assert torch.allclose(both[:2], single, atol=1e-5)


@pytest.mark.parametrize("weights, message", [
    ({"hhx": 1.0}, "unknown module"),
    ({"hhi": float("nan")}, "finite"),
    ({"hhi": math.inf}, "finite"),
    ({"hhi": -0.5}, "outside"),
    ({"hhi": MAX_ALPHA + 1}, "outside"),
    ({"hhi": True}, "number"),
    ({"hhi": "1"}, "number"),
    ([("hhi", 1.0)], "dict"),
])
def test_bad_weights_are_refused(weights, message):
    with pytest.raises(ValueError, match=message):
        validate_weights(weights, ("hhi", "hsi"), {"hhi": 1.0, "hsi": 0.0})


def test_weights_fill_defaults():
    assert validate_weights(None, ("hhi", "hsi"), {"hhi": 1.0, "hsi": 0.0}) == {"hhi": 1.0, "hsi": 0.0}
    assert validate_weights({"hsi": 2}, ("hhi", "hsi"), {"hhi": 1.0, "hsi": 0.0}) == {"hhi": 1.0, "hsi": 2.0}
