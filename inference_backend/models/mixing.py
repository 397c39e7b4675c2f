"""Module mixing (ReMoGen sec. 3.3): Δ_total = Σ α_i Δ_i, clamped in L2 norm, added to the
frozen prior's features after its denoiser layers.

`Modulator` runs the prior's latent denoiser submodule by submodule (its own embeddings, its own
Transformer layers, its own output head, in the order of `LatentDenoiser.forward`) and adds the
mixed modulation after each hooked layer. It is a wrapper, not forward hooks on the layers: a
hook on a `TransformerEncoderLayer` switches off torch's fused inference kernel for that
layer, which makes the prior 3-4x slower on CPU. Nothing of the prior is changed, and with no
active module the wrapper calls the prior itself, so α = 0 is exactly the prior.

The clamp bounds each token's ‖Δ_total‖ by `max_ratio` times the norm of the prior's own
feature at that token, so no mix of modules (or large α) can push the features arbitrarily far
from what the prior was trained on.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

DEFAULT_MAX_RATIO = 0.5
MAX_ALPHA = 4.0  # a larger α is refused: the clamp would make it meaningless anyway


def prior_layers(denoiser: nn.Module) -> list[nn.Module]:
    """The Transformer layers of the prior's latent denoiser whose outputs get modulated."""
    body = getattr(denoiser, "body", None)
    layers = getattr(body, "layers", None)
    if layers is None:
        raise TypeError(f"{type(denoiser).__name__} has no .body.layers: cannot attach interaction modules")
    return list(layers)


def clamp_norm(delta: torch.Tensor, max_norm: torch.Tensor | float) -> torch.Tensor:
    """Scale each vector (last axis) down so that its L2 norm is at most max_norm."""
    norm = delta.norm(dim=-1, keepdim=True)
    if not torch.is_tensor(max_norm):
        max_norm = torch.tensor(max_norm, dtype=delta.dtype, device=delta.device)
    scale = torch.clamp(max_norm / norm.clamp_min(1e-12), max=1.0)
    return delta * scale


def mix(h: torch.Tensor, deltas: list[torch.Tensor], alphas: list[torch.Tensor | float],
        max_ratio: float = DEFAULT_MAX_RATIO) -> torch.Tensor:
    """h + clamp(Σ α_i Δ_i, max_ratio ‖h‖) per token. α may be a float or a (B,) tensor
    (one weight per sequence); h (B', N, d) with B' a multiple of B (cond/uncond halves)."""
    total = torch.zeros_like(h)
    for delta, alpha in zip(deltas, alphas):
        if torch.is_tensor(alpha):
            alpha = alpha.to(h).repeat(h.shape[0] // alpha.shape[0]).reshape(-1, *([1] * (h.dim() - 1)))
        total = total + alpha * delta
    return h + clamp_norm(total, max_ratio * h.norm(dim=-1, keepdim=True))


@dataclass
class Active:
    """One module taking part in a denoiser call: its cue memory and its weight α."""

    module: nn.Module          # an interaction.InteractionModule
    cues: list                 # module.encode(...) / module.memory(tokens): per-block keys, values
    alpha: torch.Tensor | float


class Modulator:
    """The prior's denoiser with the mixed module modulation after its layers."""

    def __init__(self, denoiser: nn.Module):
        self.denoiser = denoiser
        self.layers = prior_layers(denoiser)

    def bind(self, entries: list[Active], max_ratio: float = DEFAULT_MAX_RATIO):
        """A callable with the denoiser's signature (z_t, t, text, history, keep_text) that runs
        it modulated by `entries`. Entries whose α is exactly zero everywhere are dropped; with
        none left it is the prior's own forward."""
        live = [e for e in entries if _nonzero(e.alpha)]
        if not live:
            return self.denoiser

        def forward(z_t, t, text, history, keep_text=None):
            return self.forward(live, max_ratio, z_t, t, text, history, keep_text)
        return forward

    def forward(self, entries: list[Active], max_ratio: float, z_t: torch.Tensor, t: torch.Tensor,
                text: torch.Tensor, history: torch.Tensor, keep_text: torch.Tensor | None = None) -> torch.Tensor:
        """`LatentDenoiser.forward`, step for step, with Δ_total added after each hooked layer."""
        from .denoiser import timestep_embedding

        den = self.denoiser
        step = den.step_mlp(timestep_embedding(t, den.d_model))
        txt = den.text_in(text)
        if keep_text is not None:
            txt = torch.where(keep_text[:, None], txt, den.null_text.expand_as(txt))
        x = torch.cat([step[:, None], txt[:, None], den.history_in(history), den.latent_in(z_t)[:, None]], dim=1)
        x = x + den.pos
        for index, layer in enumerate(self.layers):
            x = layer(x)
            used = [e for e in entries if index in e.module.layer_slot]
            if used:
                x = mix(x, [e.module.delta(index, x, e.cues) for e in used], [e.alpha for e in used], max_ratio)
        if den.body.norm is not None:
            x = den.body.norm(x)
        return den.out(den.norm(x)[:, -1])


def _nonzero(alpha) -> bool:
    if torch.is_tensor(alpha):
        return bool((alpha != 0).any())
    return alpha != 0


def validate_weights(weights: dict | None, known: tuple[str, ...], defaults: dict[str, float]) -> dict[str, float]:
    """User module weights -> {name: α} for every known module; unknown names, non-numbers,
    non-finite or out-of-range values raise ValueError naming the entry."""
    out = dict(defaults)
    if weights is None:
        return out
    if not isinstance(weights, dict):
        raise ValueError(f"weights must be a dict {{module name: alpha}}, got {type(weights).__name__}")
    for name, value in weights.items():
        if name not in known:
            raise ValueError(f"weights: unknown module {name!r}; known modules: {', '.join(known) or 'none'}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"weights[{name!r}] must be a number, got {value!r}")
        value = float(value)
        if not (value == value and abs(value) != float("inf")):
            raise ValueError(f"weights[{name!r}] must be finite, got {value}")
        if not 0.0 <= value <= MAX_ALPHA:
            raise ValueError(f"weights[{name!r}] = {value} is outside [0, {MAX_ALPHA}]")
        out[name] = value
    return out
