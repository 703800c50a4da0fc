"""vgan.layers: the col2im convolutions agree with torch.nn; the energy's pool-then-ReLU order
is exact; the allocator setting takes effect."""
import resource

import pytest
import torch
from torch import nn

from vgan import layers
from vgan.allocator import keep_freed_memory
from vgan.networks import ConvEncoder, ConvFeatures


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
    pairs = [(nn.Conv2d(1, 8, 5, padding=2), layers.Conv2d(1, 8, 5, padding=2), x),
             (nn.ConvTranspose2d(8, 1, 5, 2, 2, 1), layers.ConvTranspose2d(8, 1, 5, 2, 2, 1), h)]
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


def relu_before_pool(net: nn.Sequential) -> nn.Sequential:
    """The same modules with every (MaxPool2d, ReLU) pair swapped back to (ReLU, MaxPool2d)."""
    mods = list(net)
    for i in range(len(mods) - 1):
        if isinstance(mods[i], nn.MaxPool2d) and isinstance(mods[i + 1], nn.ReLU):
            mods[i], mods[i + 1] = mods[i + 1], mods[i]
    return nn.Sequential(*mods)


@pytest.mark.parametrize("network", [ConvFeatures, ConvEncoder])
def test_pool_before_relu_is_exact(network):
    """max-pool and ReLU commute, so pooling first (4x less ReLU work) changes nothing, gradients included."""
    torch.manual_seed(0)
    net = network((1, 28, 28), 16, 8).net
    swapped = relu_before_pool(net)
    assert [type(m) for m in swapped] != [type(m) for m in net]
    x = torch.rand(5, 1, 28, 28)
    x[:, :, :14] = 0.0  # flat regions: windows whose values tie
    outs = []
    for model in (net, swapped):
        xi = x.clone().requires_grad_(True)
        y = model(xi)
        outs.append([y, *torch.autograd.grad(y.square().sum(), [xi, model[0].weight])])
    assert all(torch.equal(a, b) for a, b in zip(*outs))


def test_keep_freed_memory_stops_page_faults_on_large_tensors():
    if not keep_freed_memory():
        pytest.skip("the C library is not glibc")
    for _ in range(3):  # warm up: the heap grows to hold the block
        torch.ones(16 << 20)  # 64 MiB: above glibc's largest default mmap threshold
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        torch.ones(16 << 20)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert faults < 16384  # 5 * 16384 if each 64 MiB block went back to the OS and was faulted in again
