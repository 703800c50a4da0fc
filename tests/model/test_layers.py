"""vgan.model.layers: the col2im convolutions agree with torch.nn, and take the plain path where
they would not help."""

import pytest
import torch
from torch import nn

from vgan.model import layers


def grads(module, x, upstream):
    x = x.detach().clone().requires_grad_(True)
    y = module(x)
    y.backward(upstream)
    return y, [x.grad, module.weight.grad, module.bias.grad], y.grad_fn


def clone_into(cls, ref, **kw):
    new = cls(**kw)
    new.load_state_dict(ref.state_dict())
    return new


@pytest.mark.parametrize("thin", [1, 3])
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("stride,padding", [(1, 2), (2, 1)])
def test_conv2d_input_gradient_by_col2im_matches_nn(thin, channels_last, stride, padding):
    kw = dict(in_channels=thin, out_channels=16, kernel_size=5, stride=stride, padding=padding)
    ref = nn.Conv2d(**kw)
    new = clone_into(layers.Conv2d, ref, **kw)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    ref, new = ref.to(memory_format=fmt), new.to(memory_format=fmt)
    x = torch.randn(6, thin, 12, 12).contiguous(memory_format=fmt)
    upstream = torch.randn_like(ref(x))
    y_ref, g_ref, _ = grads(ref, x, upstream)
    y_new, g_new, fn = grads(new, x, upstream)
    assert "ConvFoldInputGrad" in type(fn).__name__  # the fast path ran
    torch.testing.assert_close(y_new, y_ref)
    for a, b in zip(g_new, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("thin", [1, 3])
@pytest.mark.parametrize("channels_last", [False, True])
def test_conv_transpose2d_forward_by_col2im_matches_nn(thin, channels_last):
    kw = dict(in_channels=16, out_channels=thin, kernel_size=5, stride=2, padding=2, output_padding=1)
    ref = nn.ConvTranspose2d(**kw)
    new = clone_into(layers.ConvTranspose2d, ref, **kw)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    ref, new = ref.to(memory_format=fmt), new.to(memory_format=fmt)
    x = torch.randn(6, 16, 7, 7).contiguous(memory_format=fmt)
    upstream = torch.randn(6, thin, 14, 14)
    y_ref, g_ref, _ = grads(ref, x, upstream)
    y_new, g_new, fn = grads(new, x, upstream)
    assert "DeconvFoldForward" in type(fn).__name__
    assert y_new.shape == y_ref.shape == (6, thin, 14, 14)
    torch.testing.assert_close(y_new, y_ref, rtol=1e-4, atol=1e-5)
    for a, b in zip(g_new, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_under_autocast_the_layers_match_nn_dtypes():
    x = torch.randn(2, 1, 12, 12, requires_grad=True)
    h = torch.randn(2, 8, 6, 6, requires_grad=True)
    pairs = [
        (nn.Conv2d(1, 8, 5, padding=2), layers.Conv2d(1, 8, 5, padding=2), x),
        (nn.ConvTranspose2d(8, 1, 5, 2, 2, 1), layers.ConvTranspose2d(8, 1, 5, 2, 2, 1), h),
    ]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        for ref, new, inp in pairs:
            y = new(inp)
            assert y.dtype == ref(inp).dtype == torch.bfloat16
            y.float().sum().backward()
    assert x.grad is not None and h.grad is not None


def test_wide_convolutions_take_the_plain_path():
    conv = layers.Conv2d(8, 8, 3, padding=1)
    deconv = layers.ConvTranspose2d(8, 8, 4, stride=2, padding=1)
    x = torch.randn(2, 8, 6, 6, requires_grad=True)
    assert type(conv(x).grad_fn).__name__ == type(deconv(x).grad_fn).__name__ == "ConvolutionBackward0"
