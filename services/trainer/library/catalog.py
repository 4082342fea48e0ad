"""Every algorithm the trainer knows: the built-in modules plus the plugins installed in the
environment under the entry-point group ``aimass.algorithms``.

A plugin's entry point names an ``AlgorithmInfo`` or a zero-argument callable returning one. A
plugin that fails to import or describes itself wrongly is logged and skipped: one broken package
must not take the trainer (or the predictor) down.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib
import logging
from importlib.metadata import EntryPoint, entry_points

from services.common.errors import InvalidArgument
from services.trainer.library.base import AlgorithmInfo, Learner, Task

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "aimass.algorithms"
# Built-in modules, each with ALGORITHMS: tuple[AlgorithmInfo, ...]. torch is optional.
BUILTIN_MODULES = (
    "services.trainer.library.sklearn_algorithms",
    "services.trainer.library.xgboost_algorithms",
)
OPTIONAL_MODULES = ("services.trainer.library.torch_algorithms",)


@functools.cache
def algorithms() -> dict[str, AlgorithmInfo]:
    """Name -> algorithm; computed once per process (``algorithms.cache_clear()`` rescans)."""
    found: dict[str, AlgorithmInfo] = {}
    for info in builtin_algorithms():
        if info.name in found:
            raise RuntimeError(f"two built-in algorithms are called {info.name!r}")
        found[info.name] = info
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            info = _plugin(entry_point)
        except Exception:
            logger.warning(
                "skipping algorithm plugin %r (%s): it could not be loaded",
                entry_point.name,
                entry_point.value,
                exc_info=True,
            )
            continue
        if info.name in found:
            logger.warning(
                "skipping algorithm plugin %r (%s): the name %r is already taken by %s",
                entry_point.name,
                entry_point.value,
                info.name,
                "a plugin" if found[info.name].plugin else "a built-in algorithm",
            )
            continue
        found[info.name] = info
        logger.info("algorithm plugin %s loaded from %s", info.name, entry_point.value)
    return found


def builtin_algorithms() -> list[AlgorithmInfo]:
    infos: list[AlgorithmInfo] = []
    for module_name in BUILTIN_MODULES:
        infos.extend(importlib.import_module(module_name).ALGORITHMS)
    for module_name in OPTIONAL_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            # The module itself absent, or its library (torch) not installed in this image.
            logger.warning("algorithms of %s are unavailable: %s", module_name, exc)
            continue
        infos.extend(module.ALGORITHMS)
    return infos


def _plugin(entry_point: EntryPoint) -> AlgorithmInfo:
    target = entry_point.load()
    info = target if isinstance(target, AlgorithmInfo) else None
    if info is None and callable(target):
        info = target()
    if not isinstance(info, AlgorithmInfo):
        raise TypeError(
            f"entry point {entry_point.value} gives {type(info).__name__}, not an "
            "AlgorithmInfo or a zero-argument callable returning one"
        )
    _check_plugin(info)
    return dataclasses.replace(info, plugin=True)


def _check_plugin(info: AlgorithmInfo) -> None:
    """The things a wrong plugin would otherwise only show when a job runs."""
    if not info.name or "." not in info.name or info.name != info.name.strip():
        raise ValueError(f"plugin algorithm name {info.name!r} is not '<library>.<name>'")
    if not info.tasks or not all(isinstance(t, Task) for t in info.tasks):
        raise ValueError(f"plugin {info.name!r} declares no tasks (Task values)")
    if not (isinstance(info.learner_class, type) and issubclass(info.learner_class, Learner)):
        raise ValueError(f"plugin {info.name!r}: learner_class is not a Learner subclass")
    if not info.formats:
        raise ValueError(f"plugin {info.name!r} declares no artifact format")
    if not callable(info.factory):
        raise ValueError(f"plugin {info.name!r}: factory is not callable")
    names = [p.name for p in info.params]
    if len(set(names)) != len(names):
        raise ValueError(f"plugin {info.name!r} declares a hyperparameter twice")
    info.resolve_params({})  # every default must pass its own check


def get_algorithm(name: str) -> AlgorithmInfo:
    """The algorithm called ``name``; InvalidArgument listing the known ones otherwise."""
    known = algorithms()
    info = known.get(name)
    if info is not None:
        return info
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise InvalidArgument(
        f"unknown algorithm {name!r}{hint}; known algorithms: {', '.join(sorted(known))}"
    )


def algorithms_for(task: Task) -> list[AlgorithmInfo]:
    """The algorithms that do ``task``, by name."""
    return [info for name, info in sorted(algorithms().items()) if task in info.tasks]
