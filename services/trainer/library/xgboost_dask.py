"""Training xgboost on a Dask cluster (``xgboost.dask``) for data beyond one worker.

The rows reach the workers either as numpy arrays scattered by the caller, one block per worker,
or as dask arrays the workers compute themselves (``services.trainer.dask_data`` reads the
Parquet parts on the workers). Rounds are trained in calls of ``DASK_ROUNDS_PER_CALL``, each
continuing the previous booster, so that the per-round losses reach the progress listeners
between calls (a listener that raises stops the job there) and early stopping is decided here, on
the validation loss of every round.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import dask.array as da
import numpy as np
import xgboost as xgb

from services.common.errors import Unavailable
from services.trainer.library.base import Progress
from services.trainer.library.xgboost_algorithms import DASK_ROUNDS_PER_CALL, round_metrics

CONNECT_TIMEOUT_SECONDS = 30

# Rows as the caller holds them (scattered here) or already on the cluster.
Rows = np.ndarray | da.Array


@contextlib.contextmanager
def connect(address: str) -> Iterator[Any]:
    """A ``distributed.Client`` of the scheduler at ``address``, current for ``xgboost.dask``
    (never the process-wide default), closed on exit."""
    from distributed import Client

    try:
        client = Client(address, set_as_default=False, timeout=CONNECT_TIMEOUT_SECONDS)
    except OSError as exc:
        raise Unavailable(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    with client, client.as_current():
        yield client


def train_on_dask(
    address: str,
    params: Mapping[str, Any],
    x: Rows,
    y: Rows,
    weight: Rows | None,
    validation: tuple[Rows, Rows] | None,
    *,
    rounds: int,
    patience: int | None,
    progress: Progress | None,
) -> xgb.Booster:
    with connect(address) as client:
        return train_on_client(
            client,
            params,
            x,
            y,
            weight,
            validation,
            rounds=rounds,
            patience=patience,
            progress=progress,
        )


def train_on_client(
    client: Any,
    params: Mapping[str, Any],
    x: Rows,
    y: Rows,
    weight: Rows | None,
    validation: tuple[Rows, Rows] | None,
    *,
    rounds: int,
    patience: int | None,
    progress: Progress | None,
) -> xgb.Booster:
    """Train on ``client``'s cluster; numpy rows are scattered first, dask arrays are used as
    they are (their blocks must line up: x, y and weight made from the same partitions)."""
    from xgboost import dask as dxgb

    parts = max(len(client.scheduler_info().get("workers", {})), 1)
    train = dxgb.DaskQuantileDMatrix(
        client,
        _on_cluster(client, x, parts),
        _on_cluster(client, y, parts),
        weight=None if weight is None else _on_cluster(client, weight, parts),
        max_bin=params["max_bin"],
    )
    evals = [(train, "train")]
    if validation is not None:
        valid = dxgb.DaskQuantileDMatrix(
            client,
            _on_cluster(client, validation[0], parts),
            _on_cluster(client, validation[1], parts),
            ref=train,
        )
        evals.append((valid, "validation"))
    stopper = _EarlyStopping(patience if validation is not None else None)
    booster: xgb.Booster | None = None
    done = 0
    while done < rounds and not stopper.stopped:
        chunk = min(DASK_ROUNDS_PER_CALL, rounds - done)
        output = dxgb.train(
            client,
            dict(params),
            train,
            num_boost_round=chunk,
            evals=evals,
            xgb_model=booster,
            verbose_eval=False,
        )
        booster = output["booster"]
        for index in range(chunk):
            step = done + index + 1
            metrics = _metrics_at(output["history"], params["eval_metric"], index)
            if progress is not None:
                progress.step(step, rounds, "round", metrics)
            if stopper.update(step, metrics.get("val_loss")):
                break
        done += chunk
    assert booster is not None
    if stopper.best_step and stopper.best_step < booster.num_boosted_rounds():
        booster = booster[: stopper.best_step]
    return booster


def predict_on_client(client: Any, booster: xgb.Booster, x: da.Array) -> da.Array:
    """The booster's raw output for ``x``'s rows, computed on the workers holding them:
    probabilities of class 1 (binary), rows x classes (multiclass) or values (regression)."""
    from xgboost import dask as dxgb

    predicted: da.Array = dxgb.inplace_predict(client, booster, x)
    return predicted


class _EarlyStopping:
    def __init__(self, patience: int | None) -> None:
        self.patience = patience
        self.best_loss = float("inf")
        self.best_step = 0
        self.stopped = False

    def update(self, step: int, loss: float | None) -> bool:
        if self.patience is None or loss is None:
            return False
        if loss < self.best_loss:
            self.best_loss, self.best_step = loss, step
        self.stopped = step - self.best_step >= self.patience
        return self.stopped


def _metrics_at(history: Mapping[str, Mapping[str, list[Any]]], metric: str, index: int) -> dict:
    at_round = {name: {metric: scores[metric][: index + 1]} for name, scores in history.items()}
    return round_metrics(at_round, metric)


def _on_cluster(client: Any, rows: Rows, parts: int) -> da.Array:
    return rows if isinstance(rows, da.Array) else _scatter(client, rows, parts)


def _scatter(client: Any, array: np.ndarray, parts: int) -> da.Array:
    """``array`` as a dask array whose blocks live on the workers (not in the task graph)."""
    bounds = np.linspace(0, len(array), min(parts, max(len(array), 1)) + 1).astype(int)
    pieces = [array[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    futures = client.scatter(pieces)
    blocks = [
        da.from_delayed(future, shape=piece.shape, dtype=piece.dtype)
        for future, piece in zip(futures, pieces, strict=True)
    ]
    return da.concatenate(blocks)
