"""Sampling from a fitted generator in blocks of fixed random inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from generator.engine._conditions import ConditionSampler
from generator.engine._inference import FoldedGenerator
from generator.engine._networks import OutputLayout, gumbel_noise
from generator.engine._transformer import TableTransformer

# Rows whose random inputs are drawn together. Every block draws the same shapes, so the inputs
# of row i depend only on the seed and i, whatever the requested rows and batch size are.
SAMPLE_BLOCK_ROWS = 4096
# Rows per generator forward pass. Batches of 512 to 1024 rows ran fastest on one CPU thread,
# where larger ones fall out of cache; it is not tuned for GPUs.
SAMPLE_BATCH_ROWS = 1024


class GeneratorSampler:
    """The fitted parts that sampling needs: transformer, conditions, output layout and generator."""

    def __init__(
        self,
        transformer: TableTransformer,
        conditions: ConditionSampler,
        generator: torch.nn.Module,
        embedding_dim: int,
    ):
        # Sampling runs the eval-mode forward pass, so BatchNorm uses its running statistics and
        # no row depends on the other rows of its batch.
        generator.eval()
        self.transformer = transformer
        self.conditions = conditions
        self.generator = generator
        self.embedding_dim = embedding_dim
        self.layout = OutputLayout(transformer)
        self._folded_generator = FoldedGenerator(generator)

    def sample(
        self, rows: int, requested: tuple[int, int] | None, seed: int | None, batch_size: int
    ) -> pd.DataFrame:
        """Generate `rows` decoded rows, conditioned on (discrete index, category index) if requested."""
        random_generator = torch_generator(np.random.SeedSequence(seed))
        batch_size = min(batch_size, SAMPLE_BLOCK_ROWS)

        scalars, choices = [], []
        with torch.no_grad():
            for block_start in range(0, rows, SAMPLE_BLOCK_ROWS):
                block_rows = min(SAMPLE_BLOCK_ROWS, rows - block_start)
                for block_scalars, block_choices in self._sample_block(
                    random_generator, block_rows, batch_size, requested
                ):
                    scalars.append(block_scalars)
                    choices.append(block_choices)

        return self.transformer.inverse_transform(torch.cat(scalars).numpy(), torch.cat(choices).numpy())

    def _sample_block(
        self,
        random_generator: torch.Generator,
        block_rows: int,
        batch_size: int,
        requested: tuple[int, int] | None,
    ):
        """Yield decoded (scalars, choices) batches for the first `block_rows` rows of one block."""
        noise = torch.randn(SAMPLE_BLOCK_ROWS, self.embedding_dim, generator=random_generator)
        thresholds = torch.rand(SAMPLE_BLOCK_ROWS, generator=random_generator)
        span_noise = gumbel_noise((SAMPLE_BLOCK_ROWS, self.transformer.output_dimensions), random_generator)

        for start in range(0, block_rows, batch_size):
            stop = min(start + batch_size, block_rows)
            cond = None
            if self.conditions.discrete_count and requested is None:
                cond = self.conditions.unconditional(thresholds[start:stop])
            elif self.conditions.discrete_count:
                cond = self.conditions.conditional(stop - start, *requested)

            logits = self._folded_generator(noise[start:stop], cond)
            yield self.layout.decode(logits, span_noise[start:stop])


def torch_generator(sequence: np.random.SeedSequence) -> torch.Generator:
    return torch.Generator().manual_seed(int(sequence.generate_state(1, dtype=np.uint64)[0]))
