"""CTGANEngine: longtail's training loop and sampler around ctgan 0.12.1's networks."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from generator.engine import _persistence, _validation
from generator.engine._conditions import ConditionSampler
from generator.engine._networks import OutputLayout, build_discriminator, build_generator
from generator.engine._sampling import SAMPLE_BATCH_ROWS, GeneratorSampler, torch_generator
from generator.engine._training import OptimizerSettings, TrainingLoop
from generator.engine._transformer import TableTransformer
from generator.errors import ConditionError, NotFittedError, TrainingCancelledError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EpochProgress:
    """Progress of one finished training epoch, with losses averaged over the epoch's steps."""

    epoch: int
    epochs: int
    generator_loss: float
    discriminator_loss: float
    seconds: float
    eta_seconds: float


class CTGANEngine:
    """Conditional tabular GAN on a model-space table (discrete columns str, continuous float).

    Hyperparameters mean what they mean in ctgan.CTGAN. `max_transformer_rows` bounds the rows
    that the Bayesian mixtures are fitted on. `seed` makes the fit reproducible. With None, `fit`
    draws a seed and stores it in `seed_`.
    """

    def __init__(
        self,
        *,
        epochs: int = 300,
        batch_size: int = 500,
        embedding_dim: int = 128,
        generator_dim: tuple[int, ...] = (256, 256),
        discriminator_dim: tuple[int, ...] = (256, 256),
        generator_lr: float = 2e-4,
        discriminator_lr: float = 2e-4,
        generator_decay: float = 1e-6,
        discriminator_decay: float = 1e-6,
        discriminator_steps: int = 1,
        pac: int = 10,
        log_frequency: bool = True,
        max_transformer_rows: int = 20_000,
        seed: int | None = None,
    ):
        self.epochs = epochs
        self.batch_size = batch_size
        self.embedding_dim = embedding_dim
        self.generator_dim = tuple(generator_dim)
        self.discriminator_dim = tuple(discriminator_dim)
        self.generator_lr = generator_lr
        self.discriminator_lr = discriminator_lr
        self.generator_decay = generator_decay
        self.discriminator_decay = discriminator_decay
        self.discriminator_steps = discriminator_steps
        self.pac = pac
        self.log_frequency = log_frequency
        self.max_transformer_rows = max_transformer_rows
        self.seed = seed
        _validation.validate_hyperparameters(self.get_params())

        self.losses_: list[dict] = []
        self.seed_: int | None = None
        self._sampler: GeneratorSampler | None = None

    def get_params(self) -> dict:
        """Return the hyperparameters, as passed to the constructor."""
        return {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "embedding_dim": self.embedding_dim,
            "generator_dim": self.generator_dim,
            "discriminator_dim": self.discriminator_dim,
            "generator_lr": self.generator_lr,
            "discriminator_lr": self.discriminator_lr,
            "generator_decay": self.generator_decay,
            "discriminator_decay": self.discriminator_decay,
            "discriminator_steps": self.discriminator_steps,
            "pac": self.pac,
            "log_frequency": self.log_frequency,
            "max_transformer_rows": self.max_transformer_rows,
            "seed": self.seed,
        }

    def fit(
        self,
        data: pd.DataFrame,
        discrete_columns: list[str],
        *,
        on_epoch: Callable[[EpochProgress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> CTGANEngine:
        """Fit the GAN, calling `on_epoch` after every epoch and `should_stop` before every step.

        Raises TrainingCancelledError when `should_stop()` returns True and leaves the engine
        unfitted. Invalid input raises SchemaError or InvalidDataError.
        """
        discrete_columns = list(discrete_columns)
        _validation.validate_training_data(data, discrete_columns)
        self._reset()

        seed = self.seed if self.seed is not None else int(np.random.SeedSequence().entropy)
        transform_sequence, mixture_sequence, torch_sequence = np.random.SeedSequence(seed).spawn(3)
        transform_rng = np.random.default_rng(transform_sequence)
        random_generator = torch_generator(torch_sequence)
        started = time.perf_counter()
        logger.info(
            "CTGAN fit started: %d rows, %d columns (%d discrete), %d epochs, seed %d",
            len(data), data.shape[1], len(discrete_columns), self.epochs, seed,
        )

        transformer = TableTransformer.fit(
            data,
            discrete_columns,
            max_rows=self.max_transformer_rows,
            rng=transform_rng,
            mixture_seed=int(mixture_sequence.generate_state(1)[0]),
        )
        matrix, codes = transformer.transform(data, transform_rng)
        # The fitted engine keeps only what a saved one keeps, so both sample alike.
        transformer = TableTransformer.from_state(*transformer.to_state())
        loop = self._build_training_loop(transformer, torch.from_numpy(matrix), codes, random_generator)

        losses = self._run_epochs(loop, len(data), on_epoch, should_stop)

        self._sampler = GeneratorSampler(transformer, loop.conditions, loop.generator, self.embedding_dim)
        self.losses_ = losses
        self.seed_ = seed
        logger.info("CTGAN fit finished in %.1f s", time.perf_counter() - started)
        return self

    def sample(
        self,
        n: int,
        *,
        condition: tuple[str, str] | None = None,
        seed: int | None = None,
        batch_size: int | None = None,
    ) -> pd.DataFrame:
        """Generate `n` rows in model space, with the columns and dtypes of the training data.

        `condition=(column, value)` feeds the conditional vector of that discrete value. It raises
        the value's probability without guaranteeing it, so callers filter. Without a condition,
        the conditional vectors follow the training frequencies. The column a vector names then
        follows them closely, and the other columns as far as the generator has learned their
        distribution given that column. `batch_size` is the rows per forward pass (default
        SAMPLE_BATCH_ROWS). It changes speed and float32 rounding, by about 1e-7 of the generator
        output, but not the random inputs of any row.
        """
        self._check_fitted()
        rows = _validation.validate_row_count(n)
        batch_rows = SAMPLE_BATCH_ROWS
        if batch_size is not None:
            batch_rows = _validation.validate_row_count(batch_size, "batch_size")
        requested = self._condition_indices(condition)

        sample = self._sampler.sample(rows, requested, seed, batch_rows)

        logger.debug("CTGAN sampled %d rows, condition %s", rows, condition)
        return sample

    def discrete_values(self) -> dict[str, list[str]]:
        """Return every discrete column with its training values, sorted."""
        self._check_fitted()
        return {column.name: list(column.categories) for column in self._sampler.transformer.discrete_columns}

    def value_frequencies(self, column: str) -> dict[str, float]:
        """Return the share of training rows of each value of a discrete column."""
        self._check_fitted()
        names = list(self.discrete_values())
        if column not in names:
            raise ConditionError(
                f"Column {column!r} is not a discrete column of the model. "
                f"Its discrete columns are {_validation.format_choices(names)}."
            )

        discrete_index = names.index(column)
        categories = self._sampler.transformer.discrete_columns[discrete_index].categories
        shares = self._sampler.conditions.frequencies(discrete_index)
        return {value: float(share) for value, share in zip(categories, shares)}

    def save(self, directory: Path) -> None:
        """Write the fitted engine to `directory` as JSON, NumPy and a torch state_dict, without pickle."""
        self._check_fitted()
        descriptions, arrays = self._sampler.transformer.to_state()
        hyperparameters = {
            **self.get_params(),
            "generator_dim": list(self.generator_dim),
            "discriminator_dim": list(self.discriminator_dim),
        }
        metadata = {
            "hyperparameters": hyperparameters,
            "seed": self.seed_,
            "columns": descriptions,
            "losses": self.losses_,
        }
        weights = self._sampler.generator.state_dict()
        _persistence.write_artifact(Path(directory), _persistence.Artifact(metadata, arrays, weights))

    @classmethod
    def load(cls, directory: Path) -> CTGANEngine:
        """Read an engine written by `save`. Raises ArtifactIntegrityError if a file is missing or invalid."""
        artifact = _persistence.read_artifact(Path(directory))
        try:
            engine = cls(**artifact.metadata["hyperparameters"])
            transformer = TableTransformer.from_state(artifact.metadata["columns"], artifact.arrays)
            counts = [column.counts for column in transformer.discrete_columns]
            conditions = ConditionSampler(counts, log_frequency=engine.log_frequency)
            generator = build_generator(
                engine.embedding_dim + conditions.cond_dimensions,
                engine.generator_dim,
                transformer.output_dimensions,
                torch.Generator(),
            )
            generator.load_state_dict(artifact.weights)
            losses = list(artifact.metadata["losses"])
            seed = int(artifact.metadata["seed"])
        except _persistence.READ_ERRORS as error:
            raise _persistence.artifact_error(Path(directory), error) from error

        engine._sampler = GeneratorSampler(transformer, conditions, generator, engine.embedding_dim)
        engine.losses_ = losses
        engine.seed_ = seed
        return engine

    def _build_training_loop(
        self,
        transformer: TableTransformer,
        matrix: torch.Tensor,
        codes: np.ndarray,
        random_generator: torch.Generator,
    ) -> TrainingLoop:
        counts = [column.counts for column in transformer.discrete_columns]
        conditions = ConditionSampler(counts, log_frequency=self.log_frequency)
        conditions.index_rows(codes)
        data_dim = transformer.output_dimensions

        generator = build_generator(
            self.embedding_dim + conditions.cond_dimensions, self.generator_dim, data_dim, random_generator
        )
        discriminator = build_discriminator(
            data_dim + conditions.cond_dimensions, self.discriminator_dim, self.pac, random_generator
        )
        generator.train()
        discriminator.train()

        return TrainingLoop(
            generator=generator,
            discriminator=discriminator,
            matrix=matrix,
            conditions=conditions,
            layout=OutputLayout(transformer),
            batch_size=self.batch_size,
            embedding_dim=self.embedding_dim,
            pac=self.pac,
            optimizer_settings=OptimizerSettings(
                generator_lr=self.generator_lr,
                generator_decay=self.generator_decay,
                discriminator_lr=self.discriminator_lr,
                discriminator_decay=self.discriminator_decay,
            ),
            random_generator=random_generator,
        )

    def _run_epochs(
        self,
        loop: TrainingLoop,
        rows: int,
        on_epoch: Callable[[EpochProgress], None] | None,
        should_stop: Callable[[], bool] | None,
    ) -> list[dict]:
        steps = max(rows // self.batch_size, 1)
        losses: list[dict] = []
        elapsed = 0.0

        for epoch in range(1, self.epochs + 1):
            epoch_started = time.perf_counter()
            for step in range(1, steps + 1):
                if should_stop is not None and should_stop():
                    raise TrainingCancelledError(
                        f"Training was cancelled at epoch {epoch} of {self.epochs}, step {step} of {steps}."
                    )
                for _ in range(self.discriminator_steps):
                    loop.discriminator_step()
                loop.generator_step()

            progress = self._end_epoch(loop, epoch, time.perf_counter() - epoch_started, elapsed)
            elapsed += progress.seconds
            losses.append(
                {
                    "epoch": epoch,
                    "generator_loss": progress.generator_loss,
                    "discriminator_loss": progress.discriminator_loss,
                    "seconds": progress.seconds,
                }
            )
            if on_epoch is not None:
                on_epoch(progress)

        return losses

    def _end_epoch(
        self, loop: TrainingLoop, epoch: int, seconds: float, elapsed_before: float
    ) -> EpochProgress:
        generator_loss, discriminator_loss = loop.take_epoch_losses()
        mean_seconds = (elapsed_before + seconds) / epoch
        logger.debug(
            "CTGAN epoch %d/%d: generator loss %.4f, discriminator loss %.4f, %.2f s",
            epoch, self.epochs, generator_loss, discriminator_loss, seconds,
        )

        return EpochProgress(
            epoch=epoch,
            epochs=self.epochs,
            generator_loss=generator_loss,
            discriminator_loss=discriminator_loss,
            seconds=seconds,
            eta_seconds=mean_seconds * (self.epochs - epoch),
        )

    def _condition_indices(self, condition: tuple[str, str] | None) -> tuple[int, int] | None:
        """Return the (discrete column index, category index) of a validated condition."""
        if condition is None:
            return None

        categories = self.discrete_values()
        columns = [column.name for column in self._sampler.transformer.columns]
        column, value = _validation.validate_condition(condition, categories, columns)
        return list(categories).index(column), categories[column].index(value)

    def _check_fitted(self) -> None:
        if self._sampler is None:
            raise NotFittedError("The CTGAN engine is not fitted. Call fit() or CTGANEngine.load() first.")

    def _reset(self) -> None:
        self.losses_ = []
        self.seed_ = None
        self._sampler = None
