"""Image grids as tensors (for TensorBoard) and PNG files (Pillow)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .atomic import atomic_file


def make_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2, pad_value: float = 1.0) -> torch.Tensor:
    """(N, C, H, W) in [0, 1] -> one (C, rows*(H+p)+p, nrow*(W+p)+p) image, row-major."""
    n, c, h, w = images.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    grid = torch.full((c, rows * (h + padding) + padding, nrow * (w + padding) + padding), pad_value)
    for i, img in enumerate(images.detach().float().cpu().clamp(0, 1)):
        r, col = divmod(i, nrow)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[:, top : top + h, left : left + w] = img
    return grid


def save_image(grid: torch.Tensor, path: str | Path) -> Path:
    """Write a (C, H, W) image in [0, 1] as an 8-bit PNG, atomically."""
    array = (grid.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    image = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else np.ascontiguousarray(array))
    with atomic_file(path) as f:
        image.save(f, format="PNG")
    return Path(path)


def side_by_side(grids: list, gap: int = 8, pad_value: float = 1.0) -> torch.Tensor:
    """Join (C, H, W_i) images of equal height left to right, `gap` pixels apart."""
    c, h = grids[0].shape[:2]
    spacer = torch.full((c, h, gap), pad_value)
    parts = [p for g in grids for p in (g, spacer)][:-1]
    return torch.cat(parts, dim=2)
