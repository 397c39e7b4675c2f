"""A short (10-step) latent diffusion with x0-prediction and classifier-free guidance.

DART uses very few diffusion steps because the latent of one primitive is small. The sampler
is DDIM with a stochasticity `eta` (eta=1 is DDPM's ancestral sampling, the default); it can
also run on a strided subset of the steps (used for cheap rollouts during training).
Sampling is deterministic for a given `torch.Generator`.
"""
from __future__ import annotations

import math

import torch


def cosine_alphas_cumprod(steps: int, s: float = 0.008) -> torch.Tensor:
    """Nichol & Dhariwal's cosine schedule, alpha_bar for t = 0..steps-1 (float64)."""
    x = torch.arange(steps + 1, dtype=torch.float64)
    f = torch.cos(((x / steps) + s) / (1 + s) * math.pi / 2) ** 2
    betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)
    return torch.cumprod(1 - betas, 0)


class LatentDiffusion:
    def __init__(self, steps: int = 10):
        self.steps = steps
        self.alphas_cumprod = cosine_alphas_cumprod(steps)

    def _ab(self, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return self.alphas_cumprod.to(like.device)[t].to(like.dtype)[:, None]

    def q_sample(self, z0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Noisy latent at step t (B,) given the clean one (B, L)."""
        ab = self._ab(t, z0)
        return ab.sqrt() * z0 + (1 - ab).sqrt() * noise

    def predict_x0(self, denoiser, z_t, t, text, history, guidance: float = 1.0):
        """x0 with classifier-free guidance: x0_u + w (x0_c - x0_u); one batched pass."""
        b = z_t.shape[0]
        tt = torch.full((b,), int(t), dtype=torch.long, device=z_t.device) if not torch.is_tensor(t) else t
        if guidance == 1.0:
            keep = torch.ones(b, dtype=torch.bool, device=z_t.device)
            return denoiser(z_t, tt, text, history, keep)
        keep = torch.cat([torch.ones(b, dtype=torch.bool), torch.zeros(b, dtype=torch.bool)]).to(z_t.device)
        out = denoiser(torch.cat([z_t, z_t]), torch.cat([tt, tt]), torch.cat([text, text]),
                       torch.cat([history, history]), keep)
        cond, uncond = out[:b], out[b:]
        return uncond + guidance * (cond - uncond)

    @torch.no_grad()
    def sample(self, denoiser, text: torch.Tensor, history: torch.Tensor, latent_dim: int,
               guidance: float = 1.0, generator: torch.Generator | None = None, num_steps: int | None = None,
               eta: float = 1.0) -> torch.Tensor:
        """Clean latents (B, L) for text (B, 384) and normalised history (B, H, D)."""
        b, device = text.shape[0], text.device
        num_steps = num_steps or self.steps
        ts = torch.linspace(self.steps - 1, 0, num_steps).round().long().tolist()
        z = torch.randn(b, latent_dim, generator=generator, device=device, dtype=text.dtype)
        x0 = z
        for i, t in enumerate(ts):
            x0 = self.predict_x0(denoiser, z, t, text, history, guidance)
            if i == len(ts) - 1:
                break
            ab_t = float(self.alphas_cumprod[t])
            ab_prev = float(self.alphas_cumprod[ts[i + 1]])
            eps = (z - math.sqrt(ab_t) * x0) / math.sqrt(1 - ab_t)
            sigma = eta * math.sqrt((1 - ab_prev) / (1 - ab_t) * (1 - ab_t / ab_prev))
            noise = torch.randn(z.shape, generator=generator, device=device, dtype=z.dtype)
            z = math.sqrt(ab_prev) * x0 + math.sqrt(max(1 - ab_prev - sigma**2, 0.0)) * eps + sigma * noise
        return x0
