"""The catalog: built-ins, lookups, plugins discovered through the ``aimass.algorithms``
entry-point group (the example plugin installed as Python would find it, then trained, saved and
loaded), broken plugins skipped, and docs/algorithms.md in step with the code."""

from __future__ import annotations

import logging
import re
import shutil
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine
from sklearn.model_selection import train_test_split

from aimass.trainer.v1 import trainer_pb2 as tpb
from services.common.errors import InvalidArgument
from services.predictor.runtimes import load_runtime
from services.trainer.library.base import FitOptions, Task
from services.trainer.library.catalog import (
    algorithms,
    algorithms_for,
    builtin_algorithms,
    get_algorithm,
)
from services.trainer.library.model import ModelSpec, TrainingData, fit_model, load_model
from services.trainer.library.params import suggested_distribution
from services.trainer.library.preprocessing import Column, ColumnKind, resolve_choice

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "examples" / "plugin"
DOCS = ROOT / "docs" / "algorithms.md"

SKLEARN_AND_XGBOOST = {
    "sklearn.logistic_regression",
    "sklearn.linear_regression",
    "sklearn.ridge",
    "sklearn.lasso",
    "sklearn.decision_tree",
    "sklearn.random_forest",
    "sklearn.svm",
    "sklearn.knn",
    "sklearn.kmeans",
    "sklearn.dbscan",
    "sklearn.pca",
    "xgboost.gbdt",
}


@pytest.fixture(autouse=True)
def _fresh_catalog() -> Iterator[None]:
    algorithms.cache_clear()
    yield
    algorithms.cache_clear()


def test_the_built_in_algorithms() -> None:
    known = algorithms()
    assert SKLEARN_AND_XGBOOST <= set(known)
    assert algorithms() is known  # built once per process
    for name, info in known.items():
        assert name == info.name and name.startswith(f"{info.library}.")
        assert not info.plugin and info.tasks and info.formats
        info.resolve_params({})  # every default passes its own check
        message = info.to_proto()
        assert message.name == name and len(message.hyperparameters) == len(info.params)
        for param in info.params:
            if param.search is not None:
                suggested_distribution(param)


def test_algorithms_for_a_task() -> None:
    clustering = [info.name for info in algorithms_for(Task.CLUSTERING)]
    assert {"sklearn.kmeans", "sklearn.dbscan"} <= set(clustering)
    assert clustering == sorted(clustering)
    regression = {info.name for info in algorithms_for(Task.REGRESSION)}
    assert {"sklearn.linear_regression", "sklearn.ridge", "sklearn.lasso", "xgboost.gbdt"} <= (
        regression
    )
    assert "sklearn.logistic_regression" not in regression
    reduction = [info.name for info in algorithms_for(Task.DIMENSIONALITY_REDUCTION)]
    assert "sklearn.pca" in reduction


def test_an_unknown_name_lists_the_known_ones_and_a_close_match() -> None:
    with pytest.raises(InvalidArgument) as raised:
        get_algorithm("sklearn.logistic_regresion")
    message = raised.value.message
    assert "did you mean 'sklearn.logistic_regression'" in message
    assert "sklearn.pca" in message and "xgboost.gbdt" in message
    with pytest.raises(InvalidArgument, match="unknown algorithm 'nothing.like.it'"):
        get_algorithm("nothing.like.it")


# ---------------------------------------------------------------------------------------------
# Plugins, installed the way Python discovers entry points: a <name>.dist-info folder with
# METADATA and entry_points.txt on sys.path.

Install = Callable[[str, dict[str, str]], None]


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Install]:
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    modules_before = set(sys.modules)

    def install_distribution(name: str, entry_points: dict[str, str]) -> None:
        info = site / f"{name.replace('-', '_')}-0.1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n")
        lines = [f"{key} = {value}" for key, value in entry_points.items()]
        (info / "entry_points.txt").write_text("[aimass.algorithms]\n" + "\n".join(lines) + "\n")
        algorithms.cache_clear()

    yield install_distribution
    for module in set(sys.modules) - modules_before:
        if module.startswith(("aimass_nearest_centroid", "broken_plugins")):
            del sys.modules[module]


def install_example(install: Install) -> None:
    """The example plugin's package, and the entry points its pyproject.toml declares."""
    site = Path(sys.path[0])
    shutil.copytree(PLUGIN / "src" / "aimass_nearest_centroid", site / "aimass_nearest_centroid")
    project = tomllib.loads((PLUGIN / "pyproject.toml").read_text())["project"]
    install(project["name"], project["entry-points"]["aimass.algorithms"])


def wine() -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = load_wine(as_frame=True).frame
    frame["target"] = np.asarray(["barolo", "grignolino", "barbera"], dtype=object)[frame["target"]]
    return train_test_split(frame, test_size=0.25, random_state=0, stratify=frame["target"])


def test_the_example_plugin_trains_saves_loads_and_serves(install: Install, tmp_path: Path) -> None:
    install_example(install)
    info = get_algorithm("example.nearest_centroid")
    assert info.plugin and info.library == "aimass-nearest-centroid"
    assert info.to_proto().plugin
    assert info in algorithms_for(Task.CLASSIFICATION)
    train, test = wine()
    columns = [Column(c, ColumnKind.NUMERIC, "double") for c in train.columns if c != "target"]
    spec = ModelSpec(
        algorithm=info,
        task=Task.CLASSIFICATION,
        params=info.resolve_params({"shrink_threshold": 0.2}),
        columns=columns,
        preprocessing=resolve_choice(
            tpb.Preprocessing(),
            scale_by_default=True,
            one_hot_by_default=True,
            handles_missing=False,
        ),  # fmt: skip
        target="target",
        options=FitOptions(seed=1),
    )
    model = fit_model(spec, TrainingData(train.drop(columns="target"), train["target"]))
    predicted = model.predict(test.drop(columns="target"))
    # Standardised wine is nearly linearly separable: class centroids get ~0.95+.
    assert (predicted.predictions == test["target"].to_numpy()).mean() >= 0.9
    manifest = model.save(tmp_path / "model")
    assert manifest["algorithm"] == "example.nearest_centroid"
    loaded = load_model(tmp_path / "model", get_algorithm)  # how the predictor loads it
    again = loaded.predict(test.drop(columns="target"))
    assert np.array_equal(again.predictions, predicted.predictions)
    assert again.probabilities is not None and predicted.probabilities is not None
    assert np.array_equal(again.probabilities, predicted.probabilities)
    # and served: the predictor's runtime takes the rows as Open Inference tensors
    runtime = load_runtime(tmp_path / "model", model.artifact_format)
    runtime.warm_up()
    served = runtime.predict({c.name: test[c.name].to_numpy(dtype=np.float64) for c in columns})
    assert served["predictions"].astype(str).tolist() == predicted.predictions.tolist()
    np.testing.assert_allclose(served["probabilities"], predicted.probabilities)
    with pytest.raises(InvalidArgument, match="'metric'"):
        info.build(Task.CLASSIFICATION, {"metric": "cosine"})


BROKEN = {
    "broken_plugins/__init__.py": "",
    "broken_plugins/not_info.py": "def algorithm():\n    return 42\n",
    "broken_plugins/raises.py": "def algorithm():\n    raise RuntimeError('boom')\n",
    "broken_plugins/clash.py": (
        "from services.trainer.library.sklearn_algorithms import ALGORITHMS\n"
        "algorithm = next(a for a in ALGORITHMS if a.name == 'sklearn.ridge')\n"
    ),
    "broken_plugins/nameless.py": (
        "import dataclasses\n"
        "from services.trainer.library.sklearn_algorithms import ALGORITHMS\n"
        "algorithm = dataclasses.replace(ALGORITHMS[0], name='noprefix')\n"
    ),
}


def test_broken_plugins_are_logged_and_skipped(
    install: Install, caplog: pytest.LogCaptureFixture
) -> None:
    site = Path(sys.path[0])
    for path, source in BROKEN.items():
        (site / path).parent.mkdir(exist_ok=True)
        (site / path).write_text(source)
    install_example(install)
    install(
        "broken-plugins",
        {
            "missing": "no_such_module_anywhere:algorithm",
            "not_info": "broken_plugins.not_info:algorithm",
            "raises": "broken_plugins.raises:algorithm",
            "clash": "broken_plugins.clash:algorithm",
            "nameless": "broken_plugins.nameless:algorithm",
        },
    )
    with caplog.at_level(logging.WARNING, logger="services.trainer.library.catalog"):
        known = algorithms()
    skipped = " ".join(r.getMessage() for r in caplog.records if "skipping" in r.getMessage())
    for name in ("missing", "not_info", "raises", "clash", "nameless"):
        assert f"plugin {name!r}" in skipped
    assert "already taken by a built-in algorithm" in skipped
    # The rest of the catalog is intact, the good plugin included; the clash kept the built-in.
    assert SKLEARN_AND_XGBOOST <= set(known) and "example.nearest_centroid" in known
    assert not known["sklearn.ridge"].plugin
    assert "noprefix" not in known


# ---------------------------------------------------------------------------------------------
# docs/algorithms.md


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^## ", text, flags=re.MULTILINE)
    return {part.split("\n", 1)[0].strip(): part for part in parts[1:]}


def test_every_built_in_algorithm_and_hyperparameter_is_documented() -> None:
    sections = _sections(DOCS.read_text())
    for info in builtin_algorithms():
        assert info.name in sections, f"docs/algorithms.md has no section '## {info.name}'"
        section = sections[info.name]
        for task in info.tasks:
            assert task.value in section, f"{info.name}: task {task.value} is not documented"
        for param in info.params:
            assert f"`{param.name}`" in section, f"{info.name}: `{param.name}` is not documented"
    assert "aimass.algorithms" in sections["Plugins"]
