"""MACs and parameter counting by running a module once with forward hooks."""

from __future__ import annotations


def count_macs_params(module, input_shape: tuple[int, ...]) -> tuple[int, int]:
    """Return (MACs, parameters) of ``module`` for one input of ``input_shape``.

    Counts convolutions and linear layers, which carry all but a negligible
    share of the multiply-adds in the supported spaces.
    """
    import torch

    total = 0

    def conv_hook(layer, _inputs, output):
        nonlocal total
        kernel = layer.kernel_size[0] * layer.kernel_size[1]
        total += output.numel() * (layer.in_channels // layer.groups) * kernel

    def linear_hook(layer, _inputs, output):
        nonlocal total
        total += output.numel() * layer.in_features

    handles = []
    for sub in module.modules():
        if isinstance(sub, torch.nn.Conv2d):
            handles.append(sub.register_forward_hook(conv_hook))
        elif isinstance(sub, torch.nn.Linear):
            handles.append(sub.register_forward_hook(linear_hook))
    try:
        with torch.no_grad():
            module(torch.zeros(input_shape))
    finally:
        for handle in handles:
            handle.remove()
    params = sum(p.numel() for p in module.parameters())
    return int(total), int(params)
