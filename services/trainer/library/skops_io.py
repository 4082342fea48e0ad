"""Saving and loading scikit-learn objects with skops, refusing any file that names a type outside
an allow-list, so that loading a model folder cannot run code from it.

skops never unpickles: it rebuilds objects from a JSON schema and lists the types it would have
to import (``get_untrusted_types``). We accept scikit-learn, numpy and harmless builtins, plus the
types an algorithm declares in ``AlgorithmInfo.trusted_types``; anything else is a
FailedPrecondition before a single object is built.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from services.common.errors import FailedPrecondition

TRUSTED_PREFIXES = ("sklearn.", "numpy.", "builtins.")

# Builtins a crafted file could smuggle in as an estimator's callable attribute (a
# FunctionTransformer's func, say) and have called later at predict time.
_DANGEROUS_BUILTINS = frozenset(
    f"builtins.{name}"
    for name in (
        "__import__",
        "breakpoint",
        "compile",
        "delattr",
        "eval",
        "exec",
        "getattr",
        "globals",
        "input",
        "locals",
        "open",
        "print",
        "setattr",
        "vars",
    )
)


def dump_skops(obj: Any, path: Path) -> None:
    from skops.io import dump  # imported here: skops is slow to import

    dump(obj, path)


def untrusted_types(path: Path, extra_trusted: Iterable[str] = ()) -> list[str]:
    """The types in the skops file at ``path`` that the allow-list does not cover."""
    from skops.io import get_untrusted_types

    extra = set(extra_trusted)
    return sorted(
        name
        for name in get_untrusted_types(file=path)
        if not is_trusted(name) and name not in extra
    )


def is_trusted(type_name: str) -> bool:
    return type_name.startswith(TRUSTED_PREFIXES) and type_name not in _DANGEROUS_BUILTINS


def load_skops(path: Path, extra_trusted: Iterable[str] = ()) -> Any:
    """The object in the skops file at ``path``; FailedPrecondition when the file is missing or
    names a type outside the allow-list."""
    from skops.io import get_untrusted_types, load

    extra = tuple(extra_trusted)
    try:
        refused = untrusted_types(path, extra)
    except OSError as exc:
        raise FailedPrecondition(f"cannot read the model file {path.name}: {exc}") from None
    except Exception as exc:  # skops raises assorted errors on a corrupt archive
        raise FailedPrecondition(f"{path.name} is not a readable skops file: {exc}") from None
    if refused:
        raise FailedPrecondition(
            f"{path.name} holds types this server does not load: {', '.join(refused)}; "
            "only scikit-learn, numpy and the algorithm's declared trusted types are allowed"
        )
    return load(path, trusted=get_untrusted_types(file=path))


def algorithm_trusted_types(algorithm: str) -> tuple[str, ...]:
    """The extra trusted types the algorithm called ``algorithm`` declares (none when the
    catalog does not know it)."""
    from services.trainer.library.catalog import algorithms  # the catalog imports learners

    info = algorithms().get(algorithm)
    return () if info is None else info.trusted_types
