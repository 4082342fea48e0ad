"""Training xgboost on a Dask cluster (``xgboost.dask``) for data beyond one worker.

The rows are scattered to the cluster's workers as dask arrays, one block per worker. Rounds are
trained in calls of ``DASK_ROUNDS_PER_CALL``, each continuing the previous booster, so that the
per-round losses reach the progress listeners between calls (a listener that raises stops the
job there) and early stopping is decided here, on the validation loss of every round.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xgboost as xgb

from services.common.errors import Unavailable
from services.trainer.library.base import Progress
from services.trainer.library.xgboost_algorithms import DASK_ROUNDS_PER_CALL, round_metrics

CONNECT_TIMEOUT_SECONDS = 30


def train_on_dask(
    address: str,
    params: Mapping[str, Any],
    x: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray | None,
    validation: tuple[np.ndarray, np.ndarray] | None,
    *,
    rounds: int,
    patience: int | None,
    progress: Progress | None,
) -> xgb.Booster:
    from distributed import Client
    from xgboost import dask as dxgb

    try:
        client = Client(address, set_as_default=False, timeout=CONNECT_TIMEOUT_SECONDS)
    except OSError as exc:
        raise Unavailable(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    # xgboost.dask looks the client up as the current one.
    with client, client.as_current():
        parts = max(len(client.scheduler_info().get("workers", {})), 1)
        train = dxgb.DaskQuantileDMatrix(
            client,
            _scatter(client, x, parts),
            _scatter(client, y, parts),
            weight=None if weight is None else _scatter(client, weight, parts),
            max_bin=params["max_bin"],
        )
        evals = [(train, "train")]
        if validation is not None:
            valid = dxgb.DaskQuantileDMatrix(
                client,
                _scatter(client, validation[0], parts),
                _scatter(client, validation[1], parts),
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


def _scatter(client: Any, array: np.ndarray, parts: int) -> Any:
    """``array`` as a dask array whose blocks live on the workers (not in the task graph)."""
    import dask.array as da

    bounds = np.linspace(0, len(array), min(parts, max(len(array), 1)) + 1).astype(int)
    pieces = [array[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    futures = client.scatter(pieces)
    blocks = [
        da.from_delayed(future, shape=piece.shape, dtype=piece.dtype)
        for future, piece in zip(futures, pieces, strict=True)
    ]
    return da.concatenate(blocks)
