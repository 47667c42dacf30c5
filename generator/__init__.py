"""longtail: conditional tabular GANs for the minority of interaction logs.

The public names below load lazily, so `import generator.errors` stays cheap
and does not import torch.
"""

from __future__ import annotations

from importlib import import_module

_EXPORTS = {
    "Schema": "generator.schema",
    "Role": "generator.schema",
    "ColumnSpec": "generator.schema",
    "SourceOptions": "generator.schema",
    "load_table": "generator.loading",
    "apply_schema": "generator.loading",
    "infer_schema": "generator.inference",
    "train": "generator.model",
    "TrainingSettings": "generator.model",
    "LongtailModel": "generator.model",
    "SampleResult": "generator.model",
    "AugmentResult": "generator.model",
    "EpochProgress": "generator.engine",
    "CTGANEngine": "generator.engine",
    "Registry": "generator.registry",
    "plan_balance": "generator.balancing",
    "BalancingPlan": "generator.balancing",
    "ReferenceProfile": "generator.fidelity",
    "compute_fidelity": "generator.fidelity",
    "LongtailOverSampler": "generator.oversampler",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'generator' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
