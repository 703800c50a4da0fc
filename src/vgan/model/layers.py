"""Convolutions with a thin side, faster on the CPU.

oneDNN is slow at convolutions that *produce* one or a few channels: the input gradient of an
energy's first conv (64 -> 1 channel at 28x28) and the forward of a generator's last deconv
(64 -> 1). Both are a matrix product followed by col2im (`F.fold`), which ran 1.7-2.3x faster
on this project's CPU (benchmarks/layers.py). `Conv2d` and `ConvTranspose2d` are drop-in `nn` subclasses with
the same parameters; they take that route on the CPU when the thin side has at most
`THIN_CHANNELS` channels (and no autocast or torch.compile is active), and agree with `nn` to
float rounding (tests/test_layers.py).
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

THIN_CHANNELS = 3


def _col2im(x: torch.Tensor, weight: torch.Tensor, size, conv: nn.Module) -> torch.Tensor:
    """fold(x^T W): x (N, C, h, w) with weight viewed (C, C' k k) -> (N, C', *size)."""
    n, c, h, w = x.shape
    cols = x.permute(0, 2, 3, 1).reshape(n, h * w, c) @ weight.reshape(c, -1)  # (N, h w, C' k k)
    return F.fold(cols.transpose(1, 2), size, conv.kernel_size, conv.dilation, conv.padding, conv.stride)


def _backward(grad, x, weight, conv: nn.Module, mask):
    """aten's convolution backward for the gradients in `mask` (input, weight, bias)."""
    bias = [conv.bias.shape[0]] if conv.bias is not None else None
    transposed = isinstance(conv, nn.ConvTranspose2d)
    return torch.ops.aten.convolution_backward(
        grad,
        x,
        weight,
        bias,
        list(conv.stride),
        list(conv.padding),
        list(conv.dilation),
        transposed,
        list(conv.output_padding),
        conv.groups,
        mask,
    )


class _ConvFoldInputGrad(torch.autograd.Function):
    """y = conv2d(x); the input gradient W^T g by col2im, the parameter gradients by aten."""

    @staticmethod
    def forward(ctx, x, weight, bias, conv):
        ctx.save_for_backward(x, weight)
        ctx.conv = conv
        return conv._conv_forward(x, weight, bias)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        gx = _col2im(grad, weight, x.shape[-2:], ctx.conv) if need_x else None
        gw = gb = None
        if need_w or need_b:
            _, gw, gb = _backward(grad, x, weight, ctx.conv, [False, need_w, need_b])
        return gx, gw, gb, None


class _DeconvFoldForward(torch.autograd.Function):
    """y = conv_transpose2d(x) by col2im; all gradients by aten."""

    @staticmethod
    def forward(ctx, x, weight, bias, conv, size):
        ctx.save_for_backward(x, weight)
        ctx.conv = conv
        y = _col2im(x, weight, size, conv)
        return y if bias is None else y + bias.view(1, -1, 1, 1)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        gx, gw, gb = _backward(grad, x, weight, ctx.conv, list(ctx.needs_input_grad[:3]))
        return gx, gw, gb, None, None


def _fast(x: torch.Tensor, conv: nn.Module, thin: int) -> bool:
    return (
        x.device.type == "cpu"
        and x.dim() == 4
        and thin <= THIN_CHANNELS
        and conv.groups == 1
        and not isinstance(conv.padding, str)
        and not torch.is_autocast_enabled("cpu")
        and not torch.compiler.is_compiling()
    )


class Conv2d(nn.Conv2d):
    """nn.Conv2d; on the CPU with <= THIN_CHANNELS input channels its input gradient is col2im."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _fast(x, self, self.in_channels) and self.padding_mode == "zeros" and x.requires_grad:
            return _ConvFoldInputGrad.apply(x, self.weight, self.bias, self)
        return super().forward(x)


class ConvTranspose2d(nn.ConvTranspose2d):
    """nn.ConvTranspose2d; on the CPU with <= THIN_CHANNELS output channels its forward is col2im."""

    def forward(self, x: torch.Tensor, output_size: Optional[list] = None) -> torch.Tensor:
        if _fast(x, self, self.out_channels) and output_size is None:
            h, w = x.shape[-2:]
            size = [
                (n - 1) * s - 2 * p + d * (k - 1) + op + 1
                for n, s, p, d, k, op in zip(
                    (h, w), self.stride, self.padding, self.dilation, self.kernel_size, self.output_padding
                )
            ]
            return _DeconvFoldForward.apply(x, self.weight, self.bias, self, size)
        return super().forward(x, output_size)
