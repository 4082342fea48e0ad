"""The trainer tests' fixtures: the service stack lives in service_fixtures, importable by tests."""

from tests.trainer.service_fixtures import extra_trainer, stack, trainer

__all__ = ["extra_trainer", "stack", "trainer"]
