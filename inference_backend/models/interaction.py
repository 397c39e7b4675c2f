"""Meta-Interaction modules (ReMoGen sec. 3.2): adapters that steer the frozen motion prior.

A module = a cue encoder + one Meta-Interaction Block per modulated layer of the prior's latent
denoiser. The encoder turns what the ego perceives into *cue tokens*; each block reads the
prior's features at its layer and returns a FiLM modulation Δ = γ ⊙ h + β of those features.
The FiLM projection is zero-initialised, so a fresh module is exactly the identity and the
prior's behaviour is the starting point of training. Modules never touch prior weights; the
modulation is added by `mixing.Modulator`, which runs the frozen denoiser layer by layer.

Two encoders, one per domain:

* **Others Encoder** (HHI, human-human): a causal temporal conv net over the partner's last
  `window` frames (joints, velocities, facing, approach), all expressed in the ego's canonical
  frame (the frame of the segment's first history frame). Only past and current partner frames
  enter, so the cue at frame t never depends on the partner after t.
* **Scene Encoder** (HSI, human-scene): a small 3D ViT over an ego-centric occupancy grid
  sampled from the world grid around the ego's canonical frame (`local_occupancy`).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..body import JOINT_INDEX, NUM_BODY_JOINTS
from .features import FPS, Frame

MODULE_FORMAT = "remogen-interaction-module-1"
J = NUM_BODY_JOINTS
_LEFT_HIP, _RIGHT_HIP = JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]


# ----------------------------------------------------------------------------- partner features
PARTNER_FEATURE_DIM = 3 * J + 3 * J + 2 + 4  # joints, velocities, facing, approach = 138
VELOCITY_SCALE = 0.2  # m/s -> roughly unit scale


def partner_features(window: torch.Tensor, frame: Frame) -> torch.Tensor:
    """Per-frame partner features in the ego's canonical frame.

    window (B, W, 22, 3) world joints of the partner, oldest first, the last one current;
    frame: the ego's canonical frame (batch B). Returns (B, W, 138):
    joints (66), velocities (66, x0.2 m/s), facing xy (2), approach: unit direction from the
    ego origin to the partner pelvis (2), its distance (1) and the closing speed (1, m/s).
    """
    local = frame.points_to_local(window)                                   # (B, W, 22, 3)
    vel = torch.zeros_like(local)
    vel[:, 1:] = (local[:, 1:] - local[:, :-1]) * FPS
    hip = local[:, :, _LEFT_HIP] - local[:, :, _RIGHT_HIP]                   # (B, W, 3)
    # The body faces -y when its hips point along +x: forward = hip x z = (hip_y, -hip_x).
    facing = torch.stack([hip[..., 1], -hip[..., 0]], dim=-1)
    facing = facing / facing.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    pelvis = local[:, :, 0, :2]                                             # (B, W, 2)
    dist = pelvis.norm(dim=-1, keepdim=True)
    direction = pelvis / dist.clamp_min(1e-6)
    closing = torch.zeros_like(dist)
    closing[:, 1:] = -(dist[:, 1:] - dist[:, :-1]) * FPS
    b, w = window.shape[:2]
    return torch.cat([local.reshape(b, w, 3 * J), VELOCITY_SCALE * vel.reshape(b, w, 3 * J), facing,
                      direction, dist, VELOCITY_SCALE * closing], dim=-1)


class CausalConv(nn.Module):
    """Residual dilated conv whose output at time t sees inputs at times <= t only."""

    def __init__(self, channels: int, kernel: int, dilation: int):
        super().__init__()
        self.pad = (kernel - 1) * dilation
        self.conv = nn.Conv1d(channels, channels, kernel, dilation=dilation)
        self.norm = nn.LayerNorm(channels)  # per time step: a norm over time would leak the future

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, W)
        y = self.conv(nn.functional.pad(x, (self.pad, 0)))
        return x + nn.functional.gelu(self.norm(y.transpose(1, 2)).transpose(1, 2))


class OthersEncoder(nn.Module):
    """Causal TCN over the partner's recent trajectory -> `tokens` cue tokens (B, K, d_cue).

    The tokens are the TCN's outputs at the current frame and every `token_stride` frames
    before it, so the newest observation always has a token of its own.
    """

    def __init__(self, window: int = 16, channels: int = 128, d_cue: int = 128, tokens: int = 4,
                 token_stride: int = 4, dilations: tuple[int, ...] = (1, 2, 4)):
        super().__init__()
        if (tokens - 1) * token_stride >= window:
            raise ValueError(f"OthersEncoder: {tokens} tokens every {token_stride} frames do not fit a {window}-frame window")
        self.window, self.tokens, self.token_stride = window, tokens, token_stride
        self.inp = nn.Conv1d(PARTNER_FEATURE_DIM, channels, 1)
        self.blocks = nn.Sequential(*[CausalConv(channels, 3, d) for d in dilations])
        self.out = nn.Linear(channels, d_cue)
        self.time = nn.Parameter(torch.randn(tokens, d_cue) * 0.02)

    def forward(self, window: torch.Tensor, frame: Frame) -> torch.Tensor:
        """window (B, W, 22, 3) world partner joints (W == self.window) -> (B, K, d_cue)."""
        feats = partner_features(window, frame).transpose(1, 2)              # (B, 138, W)
        h = self.blocks(self.inp(feats))                                     # (B, C, W)
        idx = [window.shape[1] - 1 - i * self.token_stride for i in range(self.tokens)]
        return self.out(h[:, :, idx].transpose(1, 2)) + self.time           # (B, K, d_cue)


# ----------------------------------------------------------------------------- scene
@dataclass(frozen=True)
class LocalGrid:
    """The ego-centric grid the Scene Encoder sees, in the ego's canonical frame: x and y
    centred on the pelvis (the body faces -y), z from `z_min` above the world floor."""

    shape: tuple[int, int, int] = (32, 32, 16)
    cell: float = 0.125
    z_min: float = -0.25

    def centres(self) -> torch.Tensor:
        """(X, Y, Z, 3) cell centres in the canonical frame."""
        axes = []
        for n, lo in zip(self.shape, (-self.shape[0] * self.cell / 2, -self.shape[1] * self.cell / 2, self.z_min)):
            axes.append(lo + (torch.arange(n, dtype=torch.float32) + 0.5) * self.cell)
        return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)


def local_occupancy(occupancy: torch.Tensor, origin: torch.Tensor, voxel: float, frame: Frame,
                    grid: LocalGrid = LocalGrid(), centres: torch.Tensor | None = None) -> torch.Tensor:
    """Sample a world occupancy grid at the ego-centric grid's cell centres (nearest voxel).

    occupancy (X, Y, Z) bool/float world grid whose voxel (0, 0, 0) spans origin..origin+voxel;
    frame: ego canonical frames (batch B). Outside the world grid is free. -> (B, *grid.shape).
    The caller should max-pool a grid much finer than `grid.cell` first (see `pool_to_cell`),
    or thin walls fall between the sample points.
    """
    if centres is None:
        centres = grid.centres()
    b = frame.origin.shape[0]
    pts = frame.points_to_world(centres.to(frame.origin).expand(b, *centres.shape))  # (B, X, Y, Z, 3)
    idx = torch.floor((pts - origin.to(pts)) / voxel).long()
    size = torch.tensor(occupancy.shape, device=idx.device)
    inside = ((idx >= 0) & (idx < size)).all(dim=-1)
    idx = torch.where(inside[..., None], idx, torch.zeros_like(idx))
    vals = occupancy[idx[..., 0], idx[..., 1], idx[..., 2]].to(pts.dtype)
    return vals * inside.to(pts.dtype)


def pool_to_cell(occupancy: torch.Tensor, voxel: float, cell: float) -> tuple[torch.Tensor, float]:
    """Max-pool a fine world grid so its voxels are about `cell` wide (keeps thin obstacles)."""
    factor = int(round(cell / voxel))
    if factor <= 1:
        return occupancy, voxel
    x = occupancy.float()[None, None]
    pad = [(-s) % factor for s in occupancy.shape]
    x = nn.functional.pad(x, (0, pad[2], 0, pad[1], 0, pad[0]))
    return nn.functional.max_pool3d(x, factor)[0, 0] > 0.5, voxel * factor


class SceneEncoder(nn.Module):
    """A small 3D ViT: patchify the ego-centric occupancy grid, Transformer, cue tokens."""

    def __init__(self, grid: LocalGrid = LocalGrid(), patch: int = 4, d_model: int = 96, layers: int = 2,
                 heads: int = 4, d_cue: int = 128):
        super().__init__()
        if any(s % patch for s in grid.shape):
            raise ValueError(f"SceneEncoder: grid {grid.shape} is not divisible into {patch}^3 patches")
        self.grid, self.patch = grid, patch
        self.num_patches = (grid.shape[0] // patch) * (grid.shape[1] // patch) * (grid.shape[2] // patch)
        self.embed = nn.Linear(patch ** 3, d_model)
        self.pos = nn.Parameter(torch.randn(self.num_patches, d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(d_model, heads, 2 * d_model, 0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.body = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.out = nn.Linear(d_model, d_cue)

    def patchify(self, occ: torch.Tensor) -> torch.Tensor:
        """(B, X, Y, Z) -> (B, N, p^3)."""
        b, (x, y, z), p = occ.shape[0], self.grid.shape, self.patch
        occ = occ.reshape(b, x // p, p, y // p, p, z // p, p)
        return occ.permute(0, 1, 3, 5, 2, 4, 6).reshape(b, self.num_patches, p ** 3)

    def forward(self, occ: torch.Tensor) -> torch.Tensor:
        """occ (B, X, Y, Z) ego-centric occupancy in [0, 1] -> (B, N, d_cue)."""
        h = self.embed(self.patchify(occ) * 2.0 - 1.0) + self.pos
        return self.out(self.norm(self.body(h)))


# ----------------------------------------------------------------------------- the block
class MetaInteractionBlock(nn.Module):
    """Self-attention on the ego features -> cross-attention to the cue tokens -> FiLM.

    h (B, N, d_prior) are the prior's token features at one layer. The block works in a
    narrower width `d_inner` and returns Δ = γ ⊙ h + β (B, N, d_prior); γ and β come from a
    zero-initialised projection, so Δ = 0 before training. The self-attention (+ MLP) is a
    standard pre-norm Transformer layer, which torch runs as one fused kernel at inference; the
    cue tokens' keys and values do not depend on the diffusion step, so `memory` computes them
    once per segment and every step reuses them.
    """

    def __init__(self, d_prior: int, d_cue: int, d_inner: int = 128, heads: int = 4, dropout: float = 0.0):
        super().__init__()
        if d_inner % heads:
            raise ValueError(f"d_inner {d_inner} is not divisible by {heads} heads")
        self.heads = heads
        self.inp = nn.Linear(d_prior, d_inner)
        self.self_attn = nn.TransformerEncoderLayer(d_inner, heads, 2 * d_inner, dropout, activation="gelu",
                                                    batch_first=True, norm_first=True)
        self.norm = nn.LayerNorm(d_inner)
        self.q = nn.Linear(d_inner, d_inner)
        self.kv = nn.Linear(d_cue, 2 * d_inner)
        self.out = nn.Linear(d_inner, d_inner)
        self.film = nn.Linear(d_inner, 2 * d_prior)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def _split(self, x: torch.Tensor) -> torch.Tensor:  # (B, N, d) -> (B, heads, N, d / heads)
        b, n, d = x.shape
        return x.reshape(b, n, self.heads, d // self.heads).transpose(1, 2)

    def memory(self, cues: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values (B, heads, K, d_inner / heads) of the cue tokens (B, K, d_cue)."""
        k, v = self.kv(cues).chunk(2, dim=-1)
        return self._split(k), self._split(v)

    def forward(self, h: torch.Tensor, memory: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x = self.self_attn(self.inp(h))                                            # (B, N, d_inner)
        att = nn.functional.scaled_dot_product_attention(self._split(self.q(self.norm(x))), *memory)
        x = x + self.out(att.transpose(1, 2).reshape(x.shape))
        gamma, beta = self.film(x).chunk(2, dim=-1)
        return gamma * h + beta


# ----------------------------------------------------------------------------- the module
@dataclass
class ModuleConfig:
    kind: str                              # "hhi" (Others Encoder) | "hsi" (Scene Encoder)
    d_prior: int                           # width of the prior denoiser's features
    layers: list[int] = field(default_factory=lambda: [0, 1, 2, 3])  # modulated denoiser layers
    d_cue: int = 128
    d_inner: int = 128
    heads: int = 4
    window: int = 16                       # HHI: partner frames seen (current included)
    grid_shape: list[int] = field(default_factory=lambda: [32, 32, 16])  # HSI local grid
    grid_cell: float = 0.125
    grid_z_min: float = -0.25
    scene_patch: int = 8                   # HSI: ViT patch edge in cells (8: 1 m patches, 32 tokens)
    tcn_channels: int = 128                # HHI: width of the Others Encoder
    dropout: float = 0.0                   # on the cue tokens and in the blocks (training only)

    @property
    def local_grid(self) -> LocalGrid:
        return LocalGrid(tuple(self.grid_shape), self.grid_cell, self.grid_z_min)


class InteractionModule(nn.Module):
    """Cue encoder + one Meta-Interaction Block per modulated prior layer."""

    KINDS = ("hhi", "hsi")

    def __init__(self, config: ModuleConfig):
        super().__init__()
        if config.kind not in self.KINDS:
            raise ValueError(f"module kind must be one of {self.KINDS}, got {config.kind!r}")
        self.config = config
        if config.kind == "hhi":
            self.encoder = OthersEncoder(window=config.window, channels=config.tcn_channels, d_cue=config.d_cue)
        else:
            self.encoder = SceneEncoder(config.local_grid, patch=config.scene_patch, d_cue=config.d_cue)
        self.cue_dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(MetaInteractionBlock(config.d_prior, config.d_cue, config.d_inner, config.heads,
                                                         config.dropout) for _ in config.layers)
        self.layer_slot = {layer: i for i, layer in enumerate(config.layers)}

    @property
    def kind(self) -> str:
        return self.config.kind

    def encode(self, cue_input: torch.Tensor, frame: Frame | None = None) -> list:
        """Cue memory for every block: HHI takes the partner window (B, W, 22, 3) + the ego
        frame; HSI takes the ego-centric occupancy (B, X, Y, Z). Computed once per segment
        (once per diffusion step when the partner window moves on, as in pipelining)."""
        tokens = self.encoder(cue_input, frame) if self.kind == "hhi" else self.encoder(cue_input)
        return self.memory(self.cue_dropout(tokens))

    def memory(self, tokens: torch.Tensor) -> list:
        """Per-block keys/values of cue tokens (B, K, d_cue)."""
        return [block.memory(tokens) for block in self.blocks]

    def delta(self, layer: int, h: torch.Tensor, memory: list) -> torch.Tensor:
        """Δ for the prior's features h (B', N, d) at `layer`; the cue memory (batch B) is
        repeated when the prior runs cond/uncond halves together (B' = r * B)."""
        k, v = memory[self.layer_slot[layer]]
        if h.shape[0] != k.shape[0]:
            r = h.shape[0] // k.shape[0]
            k, v = k.repeat(r, 1, 1, 1), v.repeat(r, 1, 1, 1)
        return self.blocks[self.layer_slot[layer]](h, (k, v))


# ----------------------------------------------------------------------------- files
def save_module(module: nn.Module, path: str | Path, config: dict, meta: dict | None = None) -> None:
    """`<path>.safetensors` (weights) + `<path>.json` (format, config, meta). No pickle."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    save_file(state, str(path.with_suffix(".safetensors")))
    path.with_suffix(".json").write_text(json.dumps({"format": MODULE_FORMAT, "config": config, "meta": meta or {}},
                                                    indent=1))


def read_module_files(path: str | Path) -> tuple[dict, dict]:
    """(json document, state dict) of a saved module/refiner; clear errors for bad files."""
    from safetensors.torch import load_file

    path = Path(path)
    meta_path, weights_path = path.with_suffix(".json"), path.with_suffix(".safetensors")
    for p in (meta_path, weights_path):
        if not p.is_file():
            raise FileNotFoundError(f"module file missing: {p}")
    doc = json.loads(meta_path.read_text())
    if doc.get("format") != MODULE_FORMAT:
        raise ValueError(f"{meta_path}: not a module file (format {doc.get('format')!r}, expected {MODULE_FORMAT!r})")
    return doc, load_file(str(weights_path))


def load_module(path: str | Path, device: str = "cpu") -> tuple[InteractionModule, dict]:
    doc, state = read_module_files(path)
    module = InteractionModule(ModuleConfig(**doc["config"]))
    module.load_state_dict(state)
    return module.to(device).eval(), doc.get("meta", {})


def module_config_dict(config: ModuleConfig) -> dict:
    return asdict(config)
