"""ctgan's Generator and Discriminator, seeded, and the operations on their outputs.

Every random draw (weight initialisation, dropout, Gumbel noise, gradient-penalty mixing) takes a
caller's `torch.Generator`, so training never reads torch's global random state.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from ctgan.synthesizers.ctgan import Discriminator, Generator
from torch import nn

from generator.engine._transformer import TableTransformer

# ctgan 0.12.1 uses a Gumbel-softmax temperature of 0.2 and a gradient-penalty weight of 10.
GUMBEL_TAU = 0.2
GRADIENT_PENALTY_WEIGHT = 10.0


class SeededDropout(nn.Module):
    """Dropout that draws its mask from a given torch.Generator."""

    def __init__(self, p: float, generator: torch.Generator):
        super().__init__()
        self.p = p
        self.generator = generator

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return inputs
        keep = torch.empty_like(inputs).bernoulli_(1.0 - self.p, generator=self.generator)
        return inputs * keep / (1.0 - self.p)


def build_generator(
    input_dim: int, generator_dim: tuple[int, ...], data_dim: int, generator: torch.Generator
) -> Generator:
    """Build ctgan's Generator with weights drawn from `generator`."""
    network = _without_global_draws(lambda: Generator(input_dim, generator_dim, data_dim))
    _reset_linear_layers(network, generator)
    return network


def build_discriminator(
    input_dim: int, discriminator_dim: tuple[int, ...], pac: int, generator: torch.Generator
) -> Discriminator:
    """Build ctgan's Discriminator with weights and dropout masks drawn from `generator`."""
    network = _without_global_draws(lambda: Discriminator(input_dim, discriminator_dim, pac=pac))
    for index, layer in enumerate(network.seq):
        if isinstance(layer, nn.Dropout):
            network.seq[index] = SeededDropout(layer.p, generator)
    _reset_linear_layers(network, generator)
    return network


def gradient_penalty(
    discriminator: Discriminator,
    real: torch.Tensor,
    fake: torch.Tensor,
    pac: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """Return WGAN-GP's penalty on pac groups interpolated between real and fake rows."""
    groups = real.size(0) // pac
    alpha = torch.rand(groups, 1, 1, generator=generator).expand(groups, pac, real.size(1))
    alpha = alpha.reshape(-1, real.size(1))
    interpolates = (alpha * real + (1.0 - alpha) * fake).requires_grad_(True)

    scores = discriminator(interpolates)
    (gradients,) = torch.autograd.grad(
        outputs=scores,
        inputs=interpolates,
        grad_outputs=torch.ones_like(scores),
        create_graph=True,
    )
    group_norms = gradients.reshape(-1, pac * real.size(1)).norm(2, dim=1)
    return ((group_norms - 1.0) ** 2).mean() * GRADIENT_PENALTY_WEIGHT


def gumbel_noise(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Draw standard Gumbel noise, -log(-log(U)) with U uniform, clamped away from log(0)."""
    uniform = torch.rand(shape, generator=generator).clamp_(min=torch.finfo(torch.float32).tiny)
    return -torch.log(-torch.log(uniform))


class OutputLayout:
    """Activations, conditional loss and decoding over the generator's output columns.

    Softmax spans are processed in groups of equal width, one tensor operation per group, so the
    cost does not grow with a Python loop over rows or columns.
    """

    def __init__(self, transformer: TableTransformer):
        self.scalar_index = torch.from_numpy(transformer.scalar_offsets)

        self.groups: list[tuple[torch.Tensor, torch.Tensor]] = []
        for width in np.unique(transformer.softmax_widths):
            positions = np.flatnonzero(transformer.softmax_widths == width)
            index = transformer.softmax_offsets[positions, None] + np.arange(width)
            self.groups.append((torch.from_numpy(positions), torch.from_numpy(index)))

        order = torch.cat([self.scalar_index] + [index.reshape(-1) for _, index in self.groups])
        self._restore_order = torch.argsort(order)
        self.column_count = len(transformer.columns)
        self._discrete_index, self._discrete_padding = _padded_discrete_index(transformer)

    def activate(self, logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Apply tanh to scalars and a Gumbel-softmax to every softmax span, as ctgan's training does."""
        pieces = [torch.tanh(logits[:, self.scalar_index])]
        for _, index in self.groups:
            span_logits = logits[:, index]
            noise = gumbel_noise(tuple(span_logits.shape), generator)
            pieces.append(torch.softmax((span_logits + noise) / GUMBEL_TAU, dim=-1).flatten(1))
        return torch.cat(pieces, dim=1)[:, self._restore_order]

    def conditional_loss(
        self, logits: torch.Tensor, column: torch.Tensor, category: torch.Tensor
    ) -> torch.Tensor:
        """Return the mean cross-entropy between each row's conditioned span and its category."""
        span_logits = logits.gather(1, self._discrete_index[column])
        span_logits = span_logits.masked_fill(self._discrete_padding[column], float("-inf"))
        target_logits = span_logits.gather(1, category.unsqueeze(1)).squeeze(1)
        return (torch.logsumexp(span_logits, dim=1) - target_logits).mean()

    def decode(self, logits: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return tanh scalars and, per column, the span position chosen by the Gumbel-max trick.

        argmax(logits + Gumbel noise) draws from softmax(logits), which is what the argmax of
        ctgan's Gumbel-softmax output followed by its inverse transform draws from.
        """
        scalars = torch.tanh(logits[:, self.scalar_index])
        noisy = logits + noise
        choices = torch.empty(logits.size(0), self.column_count, dtype=torch.int64)
        for positions, index in self.groups:
            choices[:, positions] = noisy[:, index].argmax(dim=-1)
        return scalars, choices


def _padded_discrete_index(transformer: TableTransformer) -> tuple[torch.Tensor, torch.Tensor]:
    """Return, per discrete column, the data-matrix indices of its span padded to equal width."""
    widths = transformer.softmax_widths[transformer.discrete_positions]
    offsets = transformer.softmax_offsets[transformer.discrete_positions]
    max_width = int(widths.max()) if len(widths) else 0

    positions = np.arange(max_width)
    padding = positions[None, :] >= widths[:, None]
    index = np.where(padding, 0, offsets[:, None] + positions[None, :])
    return torch.from_numpy(index.astype(np.int64)), torch.from_numpy(padding)


def _without_global_draws(build):
    """Build a module and restore torch's global random state, which its default init advances."""
    with torch.random.fork_rng(devices=[]):
        return build()


def _reset_linear_layers(network: nn.Module, generator: torch.Generator) -> None:
    """Initialise every Linear layer as torch's default does, drawing from `generator`."""
    for module in network.modules():
        if isinstance(module, nn.Linear):
            nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
            bound = 1.0 / math.sqrt(module.in_features)
            nn.init.uniform_(module.bias, -bound, bound, generator=generator)
