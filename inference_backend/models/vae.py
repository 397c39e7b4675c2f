"""Primitive VAE (DART, arXiv 2410.05260, sec. 3.2): one motion primitive <-> one latent token.

Encoder: [mu token, logvar token, H history frames, F future frames] -> Transformer -> the two
distribution tokens give q(z | history, future), z in R^latent_dim.
Decoder: [z token, H history frames, F learned query tokens] -> Transformer -> the F future
frames' normalised features. Decoding is conditioned on the history, so the latent only has to
carry what the history does not already say.

All inputs/outputs are *normalised* features (see `features.Normalizer`).
"""
from __future__ import annotations

import torch
from torch import nn

from .features import FEATURE_DIM, FUTURE, HISTORY


def transformer(d_model: int, layers: int, heads: int, ff: int, dropout: float) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(d_model, heads, ff, dropout, activation="gelu", batch_first=True,
                                       norm_first=True)
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


class MotionVAE(nn.Module):
    def __init__(self, feature_dim: int = FEATURE_DIM, history: int = HISTORY, future: int = FUTURE,
                 latent_dim: int = 128, d_model: int = 256, layers: int = 4, heads: int = 4,
                 ff: int = 512, dropout: float = 0.1):
        super().__init__()
        self.config = dict(feature_dim=feature_dim, history=history, future=future, latent_dim=latent_dim,
                           d_model=d_model, layers=layers, heads=heads, ff=ff, dropout=dropout)
        self.history, self.future, self.latent_dim = history, future, latent_dim
        self.frame_in = nn.Linear(feature_dim, d_model)
        # encoder
        self.dist_tokens = nn.Parameter(torch.randn(2, d_model) * 0.02)
        self.enc_pos = nn.Parameter(torch.randn(2 + history + future, d_model) * 0.02)
        self.encoder = transformer(d_model, layers, heads, ff, dropout)
        self.enc_norm = nn.LayerNorm(d_model)
        self.to_mu = nn.Linear(d_model, latent_dim)
        self.to_logvar = nn.Linear(d_model, latent_dim)
        # decoder
        self.latent_in = nn.Linear(latent_dim, d_model)
        self.queries = nn.Parameter(torch.randn(future, d_model) * 0.02)
        self.dec_pos = nn.Parameter(torch.randn(1 + history + future, d_model) * 0.02)
        self.decoder = transformer(d_model, layers, heads, ff, dropout)
        self.dec_norm = nn.LayerNorm(d_model)
        self.frame_out = nn.Linear(d_model, feature_dim)

    def encode(self, history: torch.Tensor, future: torch.Tensor):
        """history (B, H, D), future (B, F, D) -> mu, logvar (B, latent_dim)."""
        b = history.shape[0]
        frames = self.frame_in(torch.cat([history, future], dim=1))            # (B, H+F, d)
        tokens = torch.cat([self.dist_tokens.expand(b, -1, -1), frames], 1)   # (B, 2+H+F, d)
        out = self.enc_norm(self.encoder(tokens + self.enc_pos))
        return self.to_mu(out[:, 0]), self.to_logvar(out[:, 1]).clamp(-10.0, 10.0)

    def decode(self, z: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        """z (B, latent_dim), history (B, H, D) -> future (B, F, D)."""
        b = z.shape[0]
        tokens = torch.cat([self.latent_in(z)[:, None], self.frame_in(history),
                            self.queries.expand(b, -1, -1)], dim=1)           # (B, 1+H+F, d)
        out = self.dec_norm(self.decoder(tokens + self.dec_pos))
        return self.frame_out(out[:, 1 + self.history:])

    def forward(self, history: torch.Tensor, future: torch.Tensor, sample: bool = True):
        """Reconstruct the future; returns (future_hat (B, F, D), mu, logvar)."""
        mu, logvar = self.encode(history, future)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if sample else mu
        return self.decode(z, history), mu, logvar
