"""Helpers for the engine tests: a limited connection and scikit-learn's bundled data as views."""

from __future__ import annotations

import functools
import itertools
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from sklearn import datasets

from aimass.ingest.v1 import ingest_pb2 as pb
from services.ingest.engine import ROW_COLUMN, quote_ident
from services.ingest.engine.recipe import StepsResult, apply_steps
from services.ingest.engine.session import EngineLimits, open_engine

_frames = itertools.count()


def engine(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    return open_engine(EngineLimits(temp_directory=tmp_path / "spill", memory_limit="512MB"))


def frame_view(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, name: str = "src") -> str:
    """A view over a pandas frame with the row column first, as the readers make them."""
    registered = f"frame_{next(_frames)}"
    con.register(registered, frame)
    con.execute(
        f"CREATE VIEW {quote_ident(name)} AS SELECT row_number() OVER () - 1 AS {ROW_COLUMN}, * "
        f"FROM {registered}"
    )
    return name


def table(con: duckdb.DuckDBPyConnection, view: str) -> pd.DataFrame:
    """The whole view as a frame (test data is small)."""
    return con.execute(f"SELECT * FROM {quote_ident(view)}").df()


def run(
    con: duckdb.DuckDBPyConnection,
    view: str,
    *steps: pb.Step,
    sources: dict[str, str] | None = None,
) -> StepsResult:
    return apply_steps(con, view, list(steps), sources or {}, prefix="t")


def step(**kind: Any) -> pb.Step:
    return pb.Step(**kind)


@functools.cache
def _iris() -> pd.DataFrame:
    bunch = datasets.load_iris(as_frame=True)
    frame = bunch.frame.copy()
    frame["species"] = [str(bunch.target_names[t]) for t in frame["target"]]
    return frame


def iris() -> pd.DataFrame:
    """150 rows: four float measurements, the int target and the species name."""
    return _iris().copy()


@functools.cache
def _wine() -> pd.DataFrame:
    return datasets.load_wine(as_frame=True).frame


def wine() -> pd.DataFrame:
    return _wine().copy()


@functools.cache
def _diabetes() -> pd.DataFrame:
    return datasets.load_diabetes(as_frame=True, scaled=False).frame


def diabetes() -> pd.DataFrame:
    """442 rows, unscaled: age, sex (1/2), bmi, bp, s1-s6, target."""
    return _diabetes().copy()


@functools.cache
def _breast_cancer() -> pd.DataFrame:
    return datasets.load_breast_cancer(as_frame=True).frame


def breast_cancer() -> pd.DataFrame:
    return _breast_cancer().copy()
