"""Exceptions raised by longtail.

Every error a caller can cause derives from `LongtailInputError`, so the CLI
maps it to exit code 2 and the HTTP service to a 4xx status. Everything else
derives from `LongtailError` alone and means that longtail itself failed.
"""

from __future__ import annotations


class LongtailError(Exception):
    """Base class of every exception longtail raises on purpose."""


class LongtailInputError(LongtailError):
    """The input (data, schema, option or request) is invalid."""


class InvalidDataError(LongtailInputError):
    """A data file is missing, empty, unreadable or does not fit its schema."""


class SchemaError(LongtailInputError):
    """A schema is malformed or does not match the data."""


class ConditionError(LongtailInputError):
    """A sampling condition names an unknown column or value."""


class PlanError(LongtailInputError):
    """A balancing request cannot be turned into a plan."""


class LimitExceededError(LongtailInputError):
    """A request exceeds a configured limit, such as the rows per request."""

    def __init__(self, message: str, *, limit_name: str, limit: int | float, requested: int | float):
        super().__init__(message)
        self.limit_name = limit_name
        self.limit = limit
        self.requested = requested


class ModelNotFoundError(LongtailInputError):
    """No model or version of that id exists in the registry."""


class ArtifactIntegrityError(LongtailInputError):
    """A model artifact is corrupted, tampered with or was not written by longtail."""


class SamplingError(LongtailInputError):
    """The model cannot produce rows that satisfy the conditions within the try budget.

    It counts as an input error because the request is for rows the model
    does not produce, so a different condition or model is the fix.
    """


class TrainingCancelledError(LongtailError):
    """Training stopped because the caller cancelled it; nothing was registered."""


class NotFittedError(LongtailError):
    """A model was used before `fit` was called."""
