"""Frame-wise segment refinement (FWSR, ReMoGen sec. 3.4).

A segment's clean latent z0 is denoised once (10 steps, prior + modules). Then, at every frame
k = 0..F-1 of the segment, this light block refines z0 with the newest partner observation
(and the scene), the frozen VAE decodes the refined latent with the segment's history, and only
frame k is emitted. The expensive denoising runs once per F frames; the cheap refinement keeps
every emitted frame up to date with what the partner just did.

Tokens: [z0, frame offset k, H history frames, partner cue tokens (or a learned "no partner"
token), scene tokens (an empty grid when there is no scene)] -> small Transformer -> Δz from the first token, through
a zero-initialised projection: an untrained refiner returns z0 unchanged.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from .features import FEATURE_DIM, FUTURE, HISTORY, Frame
from .interaction import LocalGrid, OthersEncoder, SceneEncoder


@dataclass
class RefinerConfig:
    latent_dim: int
    feature_dim: int = FEATURE_DIM
    history: int = HISTORY
    future: int = FUTURE
    d_model: int = 128
    layers: int = 2
    heads: int = 4
    window: int = 16
    partner_tokens: int = 2
    scene: bool = True
    grid_shape: list[int] = field(default_factory=lambda: [32, 32, 16])
    grid_cell: float = 0.125
    grid_z_min: float = -0.25

    @property
    def local_grid(self) -> LocalGrid:
        return LocalGrid(tuple(self.grid_shape), self.grid_cell, self.grid_z_min)


class FrameRefiner(nn.Module):
    def __init__(self, config: RefinerConfig):
        super().__init__()
        self.config = config
        d = config.d_model
        self.z_in = nn.Linear(config.latent_dim, d)
        self.offset = nn.Embedding(config.future, d)
        self.history_in = nn.Linear(config.feature_dim, d)
        self.others = OthersEncoder(window=config.window, channels=64, d_cue=d, tokens=config.partner_tokens,
                                    token_stride=4)
        self.no_partner = nn.Parameter(torch.zeros(config.partner_tokens, d))
        if config.scene:
            self.scene = SceneEncoder(config.local_grid, patch=8, d_model=64, layers=1, d_cue=d)
        self.pos = nn.Parameter(torch.randn(2 + config.history + config.partner_tokens, d) * 0.02)
        layer = nn.TransformerEncoderLayer(d, config.heads, 2 * d, 0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.body = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, config.latent_dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def scene_tokens(self, occ: torch.Tensor | None, batch: int) -> torch.Tensor | None:
        """Once per segment: ego-centric occupancy (B, X, Y, Z) -> tokens. No scene is an empty
        grid (all free), as in training on two-person takes."""
        if not self.config.scene:
            return None
        if occ is None:
            occ = torch.zeros(batch, *self.config.local_grid.shape, device=self.pos.device)
        return self.scene(occ)

    def forward(self, z0: torch.Tensor, offset: torch.Tensor, history: torch.Tensor,
                partner: torch.Tensor | None, frame: Frame, scene_tokens: torch.Tensor | None) -> torch.Tensor:
        """z0 (B, L) segment latent, offset (B,) frame index k in the segment, history (B, H, D)
        normalised history features, partner (B, W, 22, 3) world window ending at frame k (or
        None), frame: the segment's canonical frame, scene_tokens from `scene_tokens`.
        Returns the refined latent (B, L)."""
        b = z0.shape[0]
        if partner is None:
            cue = self.no_partner.expand(b, -1, -1)
        else:
            cue = self.others(partner, frame)
        tokens = torch.cat([self.z_in(z0)[:, None], self.offset(offset)[:, None], self.history_in(history), cue], 1)
        tokens = tokens + self.pos
        if scene_tokens is not None:
            tokens = torch.cat([tokens, scene_tokens.expand(b, -1, -1) if scene_tokens.shape[0] == 1 else scene_tokens], 1)
        return z0 + self.out(self.norm(self.body(tokens))[:, 0])


def refiner_config_dict(config: RefinerConfig) -> dict:
    return asdict(config)
