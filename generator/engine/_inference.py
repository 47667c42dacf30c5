"""Eval-mode forward pass of ctgan's Generator for sampling.

ctgan's Residual block computes relu(batch_norm(linear(x))) and concatenates it before its input,
so the last Linear layer takes [h_k, ..., h_1, input]. This pass folds each BatchNorm's running
statistics into its Linear layer. It writes every block's output into one preallocated buffer,
transposed so that each block's rows are contiguous, which removes the concatenation copies.
On one thread of a shared 2-core CPU it ran 1.3 to 2 times faster than the module, for batches of
512 and 1024 rows.
"""

from __future__ import annotations

import torch
from ctgan.synthesizers.ctgan import Generator, Residual
from torch import nn


class FoldedGenerator:
    """A snapshot of a Generator's weights; rebuild it after the weights change."""

    def __init__(self, generator: Generator):
        layers = list(generator.seq)
        blocks, output = layers[:-1], layers[-1]
        if not all(isinstance(block, Residual) for block in blocks) or not isinstance(output, nn.Linear):
            raise TypeError("FoldedGenerator expects ctgan 0.12's Generator: Residual blocks, then Linear")

        self._blocks = [_fold_batch_norm(block) for block in blocks]
        self._output_weight = output.weight.detach().clone()
        self._output_bias = output.bias.detach().clone().unsqueeze(1)
        self._input_dim = blocks[0].fc.in_features if blocks else output.in_features
        self._total_dim = output.in_features

    def __call__(self, noise: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        """Return the generator's logits, shape (rows, data dimensions), for noise and conditions."""
        rows = noise.size(0)
        buffer = torch.empty(self._total_dim, rows)
        input_start = self._total_dim - self._input_dim
        buffer[input_start : input_start + noise.size(1)] = noise.T
        if cond is not None:
            buffer[input_start + noise.size(1) :] = cond.T

        start = input_start
        for weight, bias in self._blocks:
            block_rows = buffer[start - weight.size(0) : start]
            torch.addmm(bias, weight, buffer[start:], out=block_rows)
            block_rows.relu_()
            start -= weight.size(0)

        return torch.addmm(self._output_bias, self._output_weight, buffer).T


def _fold_batch_norm(block: Residual) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the weight and bias of fc followed by eval-mode BatchNorm, as one affine map."""
    norm = block.bn
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    weight = block.fc.weight * scale.unsqueeze(1)
    bias = (block.fc.bias - norm.running_mean) * scale + norm.bias
    return weight.detach().contiguous(), bias.detach().unsqueeze(1).contiguous()
