"""The CTGAN engine: longtail's training loop and sampler around ctgan 0.12.1's networks."""

from generator.engine._engine import CTGANEngine, EpochProgress

__all__ = ["CTGANEngine", "EpochProgress"]
