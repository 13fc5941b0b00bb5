"""Weight averaging for the wrinkle CNN (SWA): a running mean of weights, and batch-norm
statistics recomputed for it.

An average of weights from several epochs has no batch-norm statistics of its own (the
average of each epoch's running statistics does not describe the averaged network's
activations), so :func:`recompute_batch_norm` measures them on training patches, as
``torch.optim.swa_utils.update_bn`` does, with cumulative rather than exponential means.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


def cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the model's state dict on the CPU (detached from the graph)."""
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def running_average(average: dict[str, torch.Tensor] | None, model: nn.Module, count: int) -> dict[str, torch.Tensor]:
    """``average`` (on the CPU) of ``count`` earlier states updated with ``model``'s current state.

    Floating-point entries (weights, biases, batch-norm statistics) are averaged; integer ones
    (batch counters) are the latest. ``average=None`` with ``count=0`` starts one.
    """
    if (average is None) != (count == 0):
        raise ValueError(f"an average of {count} states needs {'no' if count == 0 else 'an'} earlier average")
    current = cpu_state(model)
    if average is None:
        return current
    if set(average) != set(current):
        raise ValueError("the model's state does not have the averaged entries")
    return {k: a + (current[k] - a) / (count + 1) if a.is_floating_point() else current[k]
            for k, a in average.items()}


def recompute_batch_norm(model: nn.Module, batches: Iterable[torch.Tensor], device: str) -> int:
    """Set every batch-norm layer's running statistics to the mean over ``batches`` of inputs.

    Parameters
    ----------
    model : nn.Module
        Left in eval mode, its weights unchanged.
    batches : iterable of Tensor, shape (N, C, H, W)
        Network inputs (not labels); each batch is one statistics sample, as in training.
    device : str

    Returns
    -------
    int
        Number of batches used. With none, the statistics are left as they were.
    """
    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = {m: (m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone(), m.momentum)
             for m in layers}
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: every batch counts the same
    model.train()
    n = 0
    with torch.no_grad():
        for x in batches:
            model(x.to(device, memory_format=torch.channels_last))
            n += 1
    for m in layers:
        mean, var, tracked, momentum = saved[m]
        if n == 0:
            m.running_mean.copy_(mean)
            m.running_var.copy_(var)
            m.num_batches_tracked.copy_(tracked)
        m.momentum = momentum
    model.eval()
    return n
