"""Conditional vectors and per-category row sampling (CTGAN's training-by-sampling).

A conditional vector concatenates one one-hot block per discrete column, in table order, so the
block of the d-th discrete column starts at `cond_offsets[d]`. When ctgan 0.12.1 samples with a
condition, it sets the requested bit at the category's index within the first discrete column's
block, whatever column the condition names, so it requests the wrong category. This module
places the bit at `cond_offsets[d]` plus the category's index.

Everything here is vectorised over the batch and draws from a caller's `torch.Generator`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class TrainingConditions:
    """Conditional vectors of a training batch, with the chosen discrete column and category per row."""

    cond: torch.Tensor
    column: torch.Tensor
    category: torch.Tensor


class ConditionSampler:
    """Draws conditional vectors and the real rows that match them.

    `category_counts[d]` are the training row counts of the d-th discrete column's categories.
    Training draws the column uniformly and the category by (log) frequency as ctgan does.
    Unconditional sampling draws the category by its empirical frequency. ctgan 0.12.1 reuses the
    log frequencies there. After a 5-epoch fit on Taobao, it sampled `buy`, 2.1% of the rows, at 21%.
    """

    def __init__(self, category_counts: list[np.ndarray], *, log_frequency: bool):
        self.category_counts = [np.asarray(counts, dtype=np.int64) for counts in category_counts]
        self.discrete_count = len(self.category_counts)

        widths = np.asarray([len(counts) for counts in self.category_counts], dtype=np.int64)
        self.cond_dimensions = int(widths.sum())
        self.cond_offsets = np.cumsum(widths) - widths
        self._widths = torch.from_numpy(widths)
        self._cond_offsets = torch.from_numpy(self.cond_offsets)
        self._flat_counts = torch.from_numpy(np.concatenate([np.zeros(0, np.int64), *self.category_counts]))

        self._training_cumulative = self._padded_cumulative(log_frequency)
        self._empirical_cumulative = self._flat_empirical_cumulative()
        self._row_order: torch.Tensor | None = None
        self._row_starts: torch.Tensor | None = None
        self._row_total = 0

    def frequencies(self, discrete_index: int) -> np.ndarray:
        counts = self.category_counts[discrete_index]
        return counts / counts.sum()

    def index_rows(self, codes: np.ndarray) -> None:
        """Store, once, the training rows of every category for `sample_rows`.

        `codes` has shape (rows, discrete columns). The rows of category k of column d are
        `row_order[row_starts[g]:row_starts[g] + count]` with g = cond_offsets[d] + k.
        """
        self._row_total = len(codes)
        if self.discrete_count == 0:
            return

        orders = [np.argsort(codes[:, d], kind="stable") for d in range(self.discrete_count)]
        starts = []
        for d, counts in enumerate(self.category_counts):
            column_start = d * len(codes)
            starts.append(column_start + np.concatenate([[0], np.cumsum(counts)[:-1]]))

        self._row_order = torch.from_numpy(np.concatenate(orders).astype(np.int64))
        self._row_starts = torch.from_numpy(np.concatenate(starts).astype(np.int64))

    def sample_training(self, batch_size: int, generator: torch.Generator) -> TrainingConditions:
        """Draw a discrete column uniformly per row, then a category of it by training frequency."""
        column = torch.randint(self.discrete_count, (batch_size,), generator=generator)
        thresholds = torch.rand(batch_size, 1, generator=generator)
        category = (self._training_cumulative[column] <= thresholds).sum(dim=1)
        category = torch.minimum(category, self._widths[column] - 1)

        cond = self.one_hot(self._cond_offsets[column] + category)
        return TrainingConditions(cond=cond, column=column, category=category)

    def sample_rows(
        self, conditions: TrainingConditions | None, batch_size: int, generator: torch.Generator
    ) -> torch.Tensor:
        """Return indices of real training rows, each matching its row's condition."""
        if conditions is None:
            return torch.randint(self._row_total, (batch_size,), generator=generator)
        if self._row_order is None or self._row_starts is None:
            raise RuntimeError("index_rows must be called before sample_rows")

        flat_category = self._cond_offsets[conditions.column] + conditions.category
        counts = self._flat_counts[flat_category]
        picks = (torch.rand(batch_size, generator=generator) * counts).long()
        picks = torch.minimum(picks, counts - 1)
        return self._row_order[self._row_starts[flat_category] + picks]

    def unconditional(self, thresholds: torch.Tensor) -> torch.Tensor:
        """Return conditional vectors drawn by empirical frequency, from one uniform draw per row."""
        flat_category = torch.searchsorted(self._empirical_cumulative, thresholds, right=True)
        flat_category = flat_category.clamp(max=self.cond_dimensions - 1)
        return self.one_hot(flat_category)

    def conditional(self, rows: int, discrete_index: int, category_index: int) -> torch.Tensor:
        """Return `rows` copies of the conditional vector that requests one category."""
        flat_category = int(self.cond_offsets[discrete_index]) + category_index
        return self.one_hot(torch.full((rows,), flat_category, dtype=torch.int64))

    def one_hot(self, flat_category: torch.Tensor) -> torch.Tensor:
        cond = torch.zeros(len(flat_category), self.cond_dimensions, dtype=torch.float32)
        cond[torch.arange(len(flat_category)), flat_category] = 1.0
        return cond

    def _padded_cumulative(self, log_frequency: bool) -> torch.Tensor:
        """Return the cumulative training probabilities, one row per column, padded with 1.0."""
        max_width = int(self._widths.max()) if self.discrete_count else 0
        cumulative = np.ones((self.discrete_count, max_width), dtype=np.float64)
        for d, counts in enumerate(self.category_counts):
            weights = np.log(counts + 1.0) if log_frequency else counts.astype(np.float64)
            cumulative[d, : len(counts)] = np.cumsum(weights / weights.sum())
        return torch.from_numpy(cumulative.astype(np.float32))

    def _flat_empirical_cumulative(self) -> torch.Tensor:
        """Return the cumulative probability over all categories: column uniform, category empirical."""
        if self.discrete_count == 0:
            return torch.zeros(0)
        shares = [counts / counts.sum() / self.discrete_count for counts in self.category_counts]
        return torch.from_numpy(np.cumsum(np.concatenate(shares)).astype(np.float32))
