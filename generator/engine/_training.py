"""One CTGAN training step at a time: discriminator steps, then a generator step.

The losses and updates are those of ctgan 0.12.1: WGAN-GP with pac groups, plus a conditional
cross-entropy for the generator. Three changes save time without changing what is computed in
expectation. The discriminator scores real and fake rows in one forward pass. The generator runs
without autograd during discriminator steps, because ctgan discards those gradients. The
discriminator's weights get no gradients during generator steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from ctgan.synthesizers.ctgan import Discriminator, Generator
from torch import optim

from generator.engine._conditions import ConditionSampler, TrainingConditions
from generator.engine._networks import OutputLayout, gradient_penalty

# ctgan 0.12.1 uses these Adam betas for both networks.
ADAM_BETAS = (0.5, 0.9)


@dataclass(frozen=True)
class OptimizerSettings:
    generator_lr: float
    generator_decay: float
    discriminator_lr: float
    discriminator_decay: float


class TrainingLoop:
    """Networks, optimisers and data of one fit, with the steps that update them."""

    def __init__(
        self,
        *,
        generator: Generator,
        discriminator: Discriminator,
        matrix: torch.Tensor,
        conditions: ConditionSampler,
        layout: OutputLayout,
        batch_size: int,
        embedding_dim: int,
        pac: int,
        optimizer_settings: OptimizerSettings,
        random_generator: torch.Generator,
    ):
        self.generator = generator
        self.discriminator = discriminator
        self.matrix = matrix
        self.conditions = conditions
        self.layout = layout
        self.batch_size = batch_size
        self.embedding_dim = embedding_dim
        self.pac = pac
        self.random_generator = random_generator

        self.generator_optimizer = optim.Adam(
            generator.parameters(),
            lr=optimizer_settings.generator_lr,
            betas=ADAM_BETAS,
            weight_decay=optimizer_settings.generator_decay,
        )
        self.discriminator_optimizer = optim.Adam(
            discriminator.parameters(),
            lr=optimizer_settings.discriminator_lr,
            betas=ADAM_BETAS,
            weight_decay=optimizer_settings.discriminator_decay,
        )
        # Loss sums stay tensors until the epoch ends, so no step waits on a .item() call.
        self._generator_loss_sum = torch.zeros(())
        self._discriminator_loss_sum = torch.zeros(())
        self._generator_steps = 0
        self._discriminator_steps = 0

    def discriminator_step(self) -> None:
        conditions = self._sample_conditions()
        with torch.no_grad():
            logits = self.generator(self._generator_input(conditions))
            fake = self.layout.activate(logits, self.random_generator)

        real_rows = self.conditions.sample_rows(conditions, self.batch_size, self.random_generator)
        real = self.matrix[real_rows]
        if conditions is not None:
            # Real rows keep the conditions they were drawn for, in a shuffled order as in ctgan.
            shuffle = torch.randperm(self.batch_size, generator=self.random_generator)
            real = torch.cat([real[shuffle], conditions.cond[shuffle]], dim=1)
            fake = torch.cat([fake, conditions.cond], dim=1)

        scores = self.discriminator(torch.cat([real, fake], dim=0))
        real_scores, fake_scores = scores.split(self.batch_size // self.pac)
        penalty = gradient_penalty(self.discriminator, real, fake, self.pac, self.random_generator)
        loss = fake_scores.mean() - real_scores.mean()

        self.discriminator_optimizer.zero_grad(set_to_none=True)
        (loss + penalty).backward()
        self.discriminator_optimizer.step()

        self._discriminator_loss_sum += loss.detach()
        self._discriminator_steps += 1

    def generator_step(self) -> None:
        conditions = self._sample_conditions()
        logits = self.generator(self._generator_input(conditions))
        fake = self.layout.activate(logits, self.random_generator)
        if conditions is not None:
            fake = torch.cat([fake, conditions.cond], dim=1)

        self.discriminator.requires_grad_(False)
        try:
            loss = -self.discriminator(fake).mean()
        finally:
            self.discriminator.requires_grad_(True)
        if conditions is not None:
            loss = loss + self.layout.conditional_loss(logits, conditions.column, conditions.category)

        self.generator_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.generator_optimizer.step()

        self._generator_loss_sum += loss.detach()
        self._generator_steps += 1

    def take_epoch_losses(self) -> tuple[float, float]:
        """Return the epoch's mean generator and discriminator losses and reset the sums."""
        generator_loss = float(self._generator_loss_sum) / max(self._generator_steps, 1)
        discriminator_loss = float(self._discriminator_loss_sum) / max(self._discriminator_steps, 1)

        self._generator_loss_sum = torch.zeros(())
        self._discriminator_loss_sum = torch.zeros(())
        self._generator_steps = 0
        self._discriminator_steps = 0
        return generator_loss, discriminator_loss

    def _sample_conditions(self) -> TrainingConditions | None:
        if self.conditions.discrete_count == 0:
            return None
        return self.conditions.sample_training(self.batch_size, self.random_generator)

    def _generator_input(self, conditions: TrainingConditions | None) -> torch.Tensor:
        noise = torch.randn(self.batch_size, self.embedding_dim, generator=self.random_generator)
        if conditions is None:
            return noise
        return torch.cat([noise, conditions.cond], dim=1)
