"""Latent denoiser (DART sec. 3.3): predicts the clean primitive latent z0 from a noisy latent.

Tokens: [diffusion step, text, H history frames, noisy latent] -> Transformer -> the latent
token's output is z0 (x0-prediction). The text token is a learned "null" token when the text
is dropped (classifier-free guidance; dropped with p=0.1 in training).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .features import FEATURE_DIM, HISTORY
from .vae import transformer


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of integer steps t (B,) -> (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class LatentDenoiser(nn.Module):
    def __init__(self, latent_dim: int = 128, text_dim: int = 384, feature_dim: int = FEATURE_DIM,
                 history: int = HISTORY, d_model: int = 256, layers: int = 4, heads: int = 4, ff: int = 512,
                 dropout: float = 0.1):
        super().__init__()
        self.config = dict(latent_dim=latent_dim, text_dim=text_dim, feature_dim=feature_dim, history=history,
                           d_model=d_model, layers=layers, heads=heads, ff=ff, dropout=dropout)
        self.d_model = d_model
        self.step_mlp = nn.Sequential(nn.Linear(d_model, d_model), nn.SiLU(), nn.Linear(d_model, d_model))
        self.text_in = nn.Linear(text_dim, d_model)
        self.null_text = nn.Parameter(torch.zeros(d_model))
        self.history_in = nn.Linear(feature_dim, d_model)
        self.latent_in = nn.Linear(latent_dim, d_model)
        self.pos = nn.Parameter(torch.randn(3 + history, d_model) * 0.02)
        self.body = transformer(d_model, layers, heads, ff, dropout)
        self.norm = nn.LayerNorm(d_model)
        self.out = nn.Linear(d_model, latent_dim)

    def forward(self, z_t: torch.Tensor, t: torch.Tensor, text: torch.Tensor, history: torch.Tensor,
                keep_text: torch.Tensor | None = None) -> torch.Tensor:
        """z_t (B, L) noisy latent, t (B,) int steps, text (B, 384) sentence embedding,
        history (B, H, D) normalised features, keep_text (B,) bool (False -> null text).
        Returns the predicted clean latent (B, L)."""
        step = self.step_mlp(timestep_embedding(t, self.d_model))            # (B, d)
        txt = self.text_in(text)                                              # (B, d)
        if keep_text is not None:
            txt = torch.where(keep_text[:, None], txt, self.null_text.expand_as(txt))
        tokens = torch.cat([step[:, None], txt[:, None], self.history_in(history),
                            self.latent_in(z_t)[:, None]], dim=1)             # (B, 3+H, d)
        out = self.norm(self.body(tokens + self.pos))
        return self.out(out[:, -1])
