"""The torch algorithms: a multilayer perceptron (classification, regression) and an LSTM
(forecasting, sequence classification), trained on the CPU with mini-batches, a learning-rate
schedule, early stopping on the validation rows and per-epoch progress.

A fitted network is saved as safetensors (the weights only) plus its architecture in the
learner's config; ``load`` rebuilds the network from this module's code and loads the weights
into it, so nothing in the files is executed. TorchScript is not offered: torch 2.9+ deprecates
``torch.jit`` (script, trace and load all warn).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from services.common.errors import FailedPrecondition, InvalidArgument
from services.trainer.library.base import (
    FORMAT_SAFETENSORS,
    AlgorithmInfo,
    FitOptions,
    Learner,
    Progress,
    SavedLearner,
    Task,
)
from services.trainer.library.params import (
    Condition,
    Param,
    ParamPython,
    ParamType,
    SuggestedSearch,
)

MLP = "torch.mlp"
LSTM = "torch.lstm"
WEIGHTS_FILE = "model.safetensors"
PREDICT_CHUNK = 8192  # rows per forward pass when predicting or measuring validation loss

Params = Mapping[str, ParamPython]
_I, _F, _B, _CAT = ParamType.INT, ParamType.FLOAT, ParamType.BOOL, ParamType.CATEGORICAL

# ---------------------------------------------------------------------------------------------
# Hyperparameters


def _dropout(default: float, description: str) -> Param:
    return Param(
        "dropout",
        _F,
        default,
        description,
        minimum=0.0,
        maximum=0.9,
        search=SuggestedSearch(low=0.0, high=0.5),
    )


def _training_params(
    batch_size: int, epochs: int, gradient_clip: float | None
) -> tuple[Param, ...]:
    """What the MLP and the LSTM share: optimiser, schedule, batches, epochs, early stopping."""
    return (
        Param(
            "optimizer",
            _CAT,
            "adam",
            "Optimiser: adam, adamw (decoupled weight decay) or sgd (with momentum).",
            choices=("adam", "adamw", "sgd"),
        ),
        Param(
            "learning_rate",
            _F,
            1e-3,
            "Initial step size of the optimiser.",
            minimum=0.0,
            maximum=10.0,
            exclusive_minimum=True,
            search=SuggestedSearch(low=1e-4, high=1e-1, log=True),
        ),
        Param(
            "momentum",
            _F,
            0.9,
            "Momentum of sgd.",
            minimum=0.0,
            maximum=0.999,
            condition=Condition("optimizer", ("sgd",)),
            search=SuggestedSearch(low=0.5, high=0.99),
        ),
        Param(
            "weight_decay",
            _F,
            0.0,
            "L2 penalty on the weights (decoupled for adamw).",
            minimum=0.0,
            maximum=1.0,
            search=SuggestedSearch(low=1e-6, high=1e-2, log=True),
        ),
        Param(
            "batch_size",
            _I,
            batch_size,
            "Rows (windows) per optimiser step.",
            minimum=1,
            maximum=1_000_000,
            search=SuggestedSearch(low=16, high=512, log=True),
        ),
        Param(
            "epochs",
            _I,
            epochs,
            "Most passes over the training rows; early stopping may use fewer.",
            minimum=1,
            maximum=100_000,
        ),
        Param(
            "patience",
            _I,
            10,
            "Stop when the validation loss has not improved for this many epochs (only with "
            "validation rows); the best epoch's weights are kept. None: train every epoch.",
            minimum=1,
            maximum=100_000,
            nullable=True,
        ),
        Param(
            "lr_schedule",
            _CAT,
            "none",
            "Learning-rate schedule: none, step (times lr_gamma every lr_step_size epochs), "
            "cosine (annealed to 0 over the epochs) or plateau (times lr_gamma when the "
            "validation loss, else the training loss, stalls for lr_plateau_patience epochs).",
            choices=("none", "step", "cosine", "plateau"),
        ),
        Param(
            "lr_step_size",
            _I,
            10,
            "Epochs between two reductions of the step schedule.",
            minimum=1,
            maximum=100_000,
            condition=Condition("lr_schedule", ("step",)),
        ),
        Param(
            "lr_gamma",
            _F,
            0.5,
            "Factor of each reduction (step and plateau schedules).",
            minimum=0.0,
            maximum=1.0,
            exclusive_minimum=True,
            condition=Condition("lr_schedule", ("step", "plateau")),
            search=SuggestedSearch(low=0.1, high=0.9),
        ),
        Param(
            "lr_plateau_patience",
            _I,
            5,
            "Epochs without improvement before the plateau schedule reduces the rate.",
            minimum=0,
            maximum=100_000,
            condition=Condition("lr_schedule", ("plateau",)),
        ),
        Param(
            "gradient_clip",
            _F,
            gradient_clip,
            "Largest norm of the gradient per step (clipped above it); none: no clipping.",
            minimum=0.0,
            maximum=1e6,
            exclusive_minimum=True,
            nullable=True,
        ),
    )


ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "leaky_relu": nn.LeakyReLU,
}

MLP_PARAMS = (
    Param(
        "hidden_layers",
        ParamType.INT_LIST,
        [128, 64],
        "Width of each hidden layer, input side first.",
        minimum=1,
        maximum=65_536,
        search=SuggestedSearch(
            choices=([32], [64], [128], [64, 32], [128, 64], [256, 128], [128, 64, 32])
        ),
    ),
    Param(
        "activation",
        _CAT,
        "relu",
        "Activation after each hidden layer.",
        choices=tuple(ACTIVATIONS),
    ),
    _dropout(0.1, "Fraction of each hidden layer's outputs zeroed while training."),
    Param("batch_norm", _B, False, "Batch normalisation after each hidden layer's linear map."),
    *_training_params(batch_size=64, epochs=100, gradient_clip=None),
)

LSTM_PARAMS = (
    Param(
        "hidden_size",
        _I,
        64,
        "Units of each LSTM layer (per direction).",
        minimum=1,
        maximum=4096,
        search=SuggestedSearch(low=16, high=256, log=True),
    ),
    Param(
        "num_layers",
        _I,
        1,
        "Stacked LSTM layers.",
        minimum=1,
        maximum=8,
        search=SuggestedSearch(low=1, high=3),
    ),
    _dropout(
        0.0, "Fraction zeroed while training between stacked layers and before the output layer."
    ),
    Param(
        "bidirectional",
        _B,
        False,
        "Read each window in both directions (sequence_classification only).",
    ),
    *_training_params(batch_size=32, epochs=50, gradient_clip=1.0),
)

# ---------------------------------------------------------------------------------------------
# Networks: rebuilt from their architecture (JSON) when loading


class MlpNet(nn.Module):
    def __init__(
        self,
        in_features: int,
        hidden_layers: list[int],
        activation: str,
        dropout: float,
        batch_norm: bool,
        out_features: int,
    ) -> None:
        super().__init__()
        self.out_features = out_features
        layers: list[nn.Module] = []
        width = in_features
        for size in hidden_layers:
            layers.append(nn.Linear(width, size))
            if batch_norm:
                layers.append(nn.BatchNorm1d(size))
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, out_features))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class LstmNet(nn.Module):
    def __init__(
        self,
        in_features: int,
        hidden_size: int,
        num_layers: int,
        dropout: float,
        bidirectional: bool,
        out_features: int,
    ) -> None:
        super().__init__()
        self.out_features = out_features
        self.bidirectional = bidirectional
        # torch warns about dropout between layers when there is a single layer.
        self.lstm = nn.LSTM(
            in_features,
            hidden_size,
            num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
            bidirectional=bidirectional,
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(x)  # hidden: (layers x directions) x batch x hidden_size
        last = torch.cat([hidden[-2], hidden[-1]], dim=1) if self.bidirectional else hidden[-1]
        return self.head(self.dropout(last))


NETWORKS: dict[str, type[nn.Module]] = {"mlp": MlpNet, "lstm": LstmNet}


def build_network(kind: str, architecture: Mapping[str, Any]) -> nn.Module:
    return NETWORKS[kind](**architecture)


@contextmanager
def torch_runtime(threads: int, seed: int | None = None) -> Iterator[None]:
    """torch's thread count and deterministic algorithms (restored after), and, given a seed,
    a seeded private copy of its global random state, so dropout and initialisation are
    reproducible without touching the caller's."""
    previous, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(max(threads, 1))
    torch.use_deterministic_algorithms(True)
    try:
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            yield
    finally:
        torch.use_deterministic_algorithms(deterministic)
        torch.set_num_threads(previous)


# ---------------------------------------------------------------------------------------------
# Training


@dataclass
class Target:
    """How the network's outputs relate to the targets: class count or output width, and the
    standardisation of a numeric target (outputs are in standard units)."""

    classes: int  # 0: a numeric target
    outputs: int
    mean: float = 0.0
    std: float = 1.0

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-row loss: cross entropy (nats), or squared error in standard units."""
        if self.classes:
            return nn.functional.cross_entropy(output, target, reduction="none")
        return ((output - target) ** 2).mean(dim=1)

    def encode(self, y: np.ndarray) -> torch.Tensor:
        if self.classes:
            return torch.from_numpy(np.asarray(y, dtype=np.int64))
        values = (np.asarray(y, dtype=np.float64).reshape(len(y), -1) - self.mean) / self.std
        return torch.from_numpy(values.astype(np.float32))

    def decode(self, output: torch.Tensor) -> np.ndarray:
        """Class probabilities, or values in the target's units."""
        if self.classes:
            return torch.softmax(output.double(), dim=1).numpy()  # sums to 1 in float64
        return output.double().numpy() * self.std + self.mean

    @property
    def loss_scale(self) -> float:
        """Standard units -> the target's units for squared errors (mean squared error)."""
        return 1.0 if self.classes else self.std**2


def _optimizer(network: nn.Module, p: Params) -> torch.optim.Optimizer:
    lr, decay = float(p["learning_rate"]), float(p["weight_decay"])  # type: ignore[arg-type]
    if p["optimizer"] == "sgd":
        momentum = float(p["momentum"])  # type: ignore[arg-type]
        return torch.optim.SGD(network.parameters(), lr=lr, momentum=momentum, weight_decay=decay)
    kind = torch.optim.AdamW if p["optimizer"] == "adamw" else torch.optim.Adam
    return kind(network.parameters(), lr=lr, weight_decay=decay)


def _scheduler(optimizer: torch.optim.Optimizer, p: Params) -> Any:
    schedule, gamma = p["lr_schedule"], float(p["lr_gamma"])  # type: ignore[arg-type]
    if schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, int(p["lr_step_size"]), gamma)  # type: ignore[arg-type]
    if schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, int(p["epochs"]))  # type: ignore[arg-type]
    if schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer,
            factor=gamma,
            patience=int(p["lr_plateau_patience"]),  # type: ignore[arg-type]
        )
    return None


def _batches(rows: int, size: int, generator: torch.Generator, whole: bool) -> list[torch.Tensor]:
    """Shuffled row indices in batches; ``whole``: no batch of one row (batch norm cannot
    train on it), the last one joins the previous batch."""
    batches = list(torch.randperm(rows, generator=generator).split(size))
    if whole and len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2:] = [torch.cat(batches[-2:])]
    return batches


class Trainer:
    """One fit: the epochs, their progress, the schedule and early stopping."""

    def __init__(self, network: nn.Module, target: Target, p: Params, seed: int) -> None:
        self.network = network
        self.target = target
        self.p = p
        self.optimizer = _optimizer(network, p)
        self.scheduler = _scheduler(self.optimizer, p)
        self.generator = torch.Generator().manual_seed(seed)
        self.best_epoch = 0
        self.epochs_run = 0

    def run(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        weight: torch.Tensor | None,
        validation: tuple[torch.Tensor, np.ndarray] | None,
        progress: Progress | None,
    ) -> None:
        epochs = int(self.p["epochs"])  # type: ignore[arg-type]
        patience = self.p["patience"] if validation is not None else None
        assert patience is None or isinstance(patience, int)
        best_loss, best_state = math.inf, None
        for epoch in range(1, epochs + 1):
            metrics = {"train_loss": self.epoch(x, y, weight)}
            if not math.isfinite(metrics["train_loss"]):
                raise InvalidArgument(
                    f"training diverged (the loss is {metrics['train_loss']} in epoch {epoch}): "
                    "lower learning_rate or set gradient_clip"
                )
            if validation is not None:
                metrics.update(self.validate(*validation))
            metrics["learning_rate"] = float(self.optimizer.param_groups[0]["lr"])
            self.epochs_run = epoch
            if progress is not None:
                progress.step(epoch, epochs, "epoch", metrics)
            self.schedule(metrics.get("val_loss", metrics["train_loss"]))
            if patience is None:
                continue
            if metrics["val_loss"] < best_loss:
                best_loss, self.best_epoch = metrics["val_loss"], epoch
                best_state = {k: v.detach().clone() for k, v in self.network.state_dict().items()}
            elif epoch - self.best_epoch >= patience:
                break
        if best_state is not None:
            self.network.load_state_dict(best_state)
        else:
            self.best_epoch = self.epochs_run

    def epoch(self, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None) -> float:
        """One pass over the shuffled rows; the weighted mean training loss (target units)."""
        self.network.train()
        clip = self.p["gradient_clip"]
        batch_size = int(self.p["batch_size"])  # type: ignore[arg-type]
        total = 0.0
        for rows in _batches(len(x), batch_size, self.generator, whole=True):
            losses = self.target.loss(self.network(x[rows]), y[rows])
            if weight is not None:
                losses = losses * weight[rows]
            self.optimizer.zero_grad(set_to_none=True)
            losses.mean().backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(self.network.parameters(), float(clip))  # type: ignore[arg-type]
            self.optimizer.step()
            total += float(losses.detach().sum())
        return total / len(x) * self.target.loss_scale

    def validate(self, x: torch.Tensor, y: np.ndarray) -> dict[str, float]:
        """val_loss (log loss, or mean squared error in the target's units) and, for
        classifiers, val_accuracy."""
        predicted = forward(self.network, x, self.target)
        if self.target.classes:
            proba = np.clip(predicted[np.arange(len(y)), y], 1e-15, 1.0)
            accuracy = float((predicted.argmax(axis=1) == y).mean())
            return {"val_loss": float(-np.log(proba).mean()), "val_accuracy": accuracy}
        errors = predicted - np.asarray(y, dtype=np.float64).reshape(predicted.shape)
        return {"val_loss": float((errors**2).mean())}

    def schedule(self, loss: float) -> None:
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(loss)
        elif self.scheduler is not None:
            self.scheduler.step()


def forward(network: nn.Module, x: torch.Tensor, target: Target) -> np.ndarray:
    """The network's decoded outputs for ``x``, in chunks, without gradients."""
    network.eval()
    with torch.inference_mode():
        outputs = [network(chunk) for chunk in x.split(PREDICT_CHUNK)]
    return target.decode(torch.cat(outputs))


# ---------------------------------------------------------------------------------------------
# Learners


class TorchLearner(Learner):
    """What the MLP and the LSTM share; subclasses say what input they take and how the
    architecture follows from the data."""

    kind = ""
    input_dims = 2
    labels_from_probabilities = True

    def __init__(
        self,
        task: Task,
        params: Params,
        options: FitOptions,
        network: nn.Module | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.task = task
        self.params = dict(params)
        self.options = options
        self.network = network
        self.config: dict[str, Any] = dict(config or {})

    def architecture(self, x: np.ndarray, outputs: int) -> dict[str, Any]:
        raise NotImplementedError

    # -- fitting -----------------------------------------------------------------------------

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray | None,
        *,
        sample_weight: np.ndarray | None = None,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        progress: Progress | None = None,
    ) -> None:
        if y is None:
            raise InvalidArgument(f"{self.task.value} needs a target column")
        self.network, self.config = None, {}
        self._check_input(x)
        if len(x) < 2 or len(y) != len(x):
            raise InvalidArgument(
                f"{self.kind} training needs at least 2 rows with one target each; "
                f"got {len(x)} rows and {len(y)} targets"
            )
        target = self._target(y, validation)
        architecture = self.architecture(x, target.outputs)
        weight = _weights(sample_weight, len(x))
        held_out = self._held_out(x, validation, target)
        seed = self.options.seed % 2**63
        with torch_runtime(self.options.threads, seed):
            network = build_network(self.kind, architecture)
            trainer = Trainer(network, target, self.params, seed)
            trainer.run(_tensor(x), target.encode(y), weight, held_out, progress)
        self.network = network
        self.config = {
            "task": self.task.value,
            "network": self.kind,
            "architecture": architecture,
            "target": vars(target),
            "fitted_epochs": trainer.best_epoch,
            "epochs_run": trainer.epochs_run,
        }

    def _target(self, y: np.ndarray, validation: tuple[np.ndarray, np.ndarray] | None) -> Target:
        if self.task.classifies:
            labels = np.asarray(y)
            if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
                raise InvalidArgument("class labels must be one index 0..k-1 per row")
            top = int(labels.max())
            if validation is not None and len(validation[1]):
                top = max(top, int(np.max(validation[1])))
            if top < 1:
                raise InvalidArgument(
                    "the training rows hold a single class: classification needs at least 2"
                )
            return Target(classes=top + 1, outputs=top + 1)
        values = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        if not np.isfinite(values).all():
            raise InvalidArgument("the target holds missing or infinite values: drop or fill them")
        std = float(values.std())
        return Target(0, values.shape[1], float(values.mean()), std if std > 0 else 1.0)

    def _held_out(
        self, x: np.ndarray, validation: tuple[np.ndarray, np.ndarray] | None, target: Target
    ) -> tuple[torch.Tensor, np.ndarray] | None:
        if validation is None or not len(validation[0]):
            return None
        features, y = validation
        self._check_input(features)
        if features.shape[-1] != x.shape[-1] or len(y) != len(features):
            raise InvalidArgument(
                f"the validation rows have {features.shape[-1]} features and {len(y)} targets "
                f"for {len(features)} rows; the training rows have {x.shape[-1]} features"
            )
        labels = np.asarray(y, dtype=np.int64 if target.classes else np.float64)
        return _tensor(features), labels

    def _check_input(self, x: np.ndarray) -> None:
        if x.ndim != self.input_dims:
            shape = "rows x features" if self.input_dims == 2 else "windows x steps x features"
            raise InvalidArgument(f"{self.kind} takes {shape}, got an array of shape {x.shape}")
        expected = self.config.get("architecture", {}).get("in_features")
        if expected is not None and x.shape[-1] != expected:
            raise InvalidArgument(f"the model takes {expected} features, got {x.shape[-1]}")
        if not np.isfinite(x).all():
            raise InvalidArgument(
                "the features hold missing or infinite values: impute them (preprocessing "
                "numeric_imputation) or drop those rows"
            )

    # -- use -----------------------------------------------------------------------------------

    def _outputs(self, x: np.ndarray) -> np.ndarray:
        if self.network is None:
            raise FailedPrecondition(f"the {self.kind} model is not fitted")
        self._check_input(x)
        target = Target(**self.config["target"])
        with torch_runtime(self.options.threads):
            return forward(self.network, _tensor(x), target)

    def predict(self, x: np.ndarray) -> np.ndarray:
        outputs = self._outputs(x)
        if self.task.classifies:
            return outputs.argmax(axis=1).astype(np.int64)
        return outputs[:, 0] if self.task is Task.REGRESSION else outputs

    def predict_proba(self, x: np.ndarray) -> np.ndarray | None:
        return self._outputs(x) if self.task.classifies else None

    def fitted_steps(self) -> int | None:
        return self.config.get("fitted_epochs") if self.network is not None else None

    # -- storage -------------------------------------------------------------------------------

    def save(self, directory: Path) -> SavedLearner:
        if self.network is None:
            raise FailedPrecondition(f"the {self.kind} model is not fitted")
        state = {k: v.detach().contiguous() for k, v in self.network.state_dict().items()}
        save_file(state, str(directory / WEIGHTS_FILE), metadata={"network": self.kind})
        config = {**self.config, "params": self.params, "seed": self.options.seed}
        return SavedLearner(FORMAT_SAFETENSORS, (WEIGHTS_FILE,), config)

    @classmethod
    def load(cls, directory: Path, saved: SavedLearner) -> TorchLearner:
        if saved.format != FORMAT_SAFETENSORS or tuple(saved.files) != (WEIGHTS_FILE,):
            raise FailedPrecondition(
                f"a torch learner is one safetensors file {WEIGHTS_FILE}, "
                f"not {saved.format} {list(saved.files)}"
            )
        config = dict(saved.config)
        if config.get("network") != cls.kind:
            raise FailedPrecondition(
                f"the learner config is of a {config.get('network')!r} network, not {cls.kind!r}"
            )
        try:
            state = load_file(str(directory / WEIGHTS_FILE), device="cpu")
            # Built without memory or random draws and compared with the file first, so a
            # config naming layers the file does not hold allocates nothing.
            with torch.device("meta"):
                network = build_network(cls.kind, config["architecture"])
            _check_tensors(network, state)
            network = network.to_empty(device="cpu")
            network.load_state_dict(state, strict=True)
            task, target = Task(config["task"]), Target(**config["target"])
        except (OSError, SafetensorError, KeyError, TypeError, ValueError, RuntimeError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise FailedPrecondition(
                f"{WEIGHTS_FILE} is not a loadable torch model: {reason}"
            ) from None
        if target.outputs != network_outputs(network):
            raise FailedPrecondition(
                f"the learner config says {target.outputs} outputs; the network has "
                f"{network_outputs(network)}"
            )
        declared = MLP_PARAMS if cls.kind == "mlp" else LSTM_PARAMS
        params = {p.name: p.default for p in declared} | dict(config.get("params", {}))
        return cls(task, params, FitOptions(seed=int(config.get("seed", 0))), network, config)


def _check_tensors(network: nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    expected = {k: tuple(v.shape) for k, v in network.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in state.items()}
    if expected == found:
        return
    problems = []
    if missing := sorted(set(expected) - set(found)):
        problems.append("missing tensors " + ", ".join(missing))
    if unexpected := sorted(set(found) - set(expected)):
        problems.append("unexpected tensors " + ", ".join(unexpected))
    if shaped := sorted(k for k in set(expected) & set(found) if expected[k] != found[k]):
        problems.append("other shapes for " + ", ".join(shaped))
    raise ValueError(f"the file does not match the learner config: {'; '.join(problems)}")


def network_outputs(network: nn.Module) -> int:
    return network.out_features if isinstance(network, MlpNet | LstmNet) else -1


def _tensor(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def _weights(sample_weight: np.ndarray | None, rows: int) -> torch.Tensor | None:
    """Sample weights scaled to mean 1, so the learning rate means the same with or without."""
    if sample_weight is None:
        return None
    weight = np.asarray(sample_weight, dtype=np.float64).ravel()
    if len(weight) != rows or not np.isfinite(weight).all() or (weight < 0).any():
        raise InvalidArgument(f"sample weights must be {rows} finite, non-negative numbers")
    if weight.sum() <= 0:
        raise InvalidArgument("sample weights are all zero: at least one row must count")
    return torch.from_numpy((weight / weight.mean()).astype(np.float32))


class MlpLearner(TorchLearner):
    kind = "mlp"
    input_dims = 2

    def architecture(self, x: np.ndarray, outputs: int) -> dict[str, Any]:
        p = self.params
        return {
            "in_features": int(x.shape[1]),
            "hidden_layers": [int(size) for size in p["hidden_layers"]],  # type: ignore[union-attr]
            "activation": str(p["activation"]),
            "dropout": float(p["dropout"]),  # type: ignore[arg-type]
            "batch_norm": bool(p["batch_norm"]),
            "out_features": outputs,
        }


class LstmLearner(TorchLearner):
    kind = "lstm"
    input_dims = 3

    def architecture(self, x: np.ndarray, outputs: int) -> dict[str, Any]:
        p = self.params
        return {
            "in_features": int(x.shape[2]),
            "hidden_size": int(p["hidden_size"]),  # type: ignore[arg-type]
            "num_layers": int(p["num_layers"]),  # type: ignore[arg-type]
            "dropout": float(p["dropout"]),  # type: ignore[arg-type]
            "bidirectional": bool(p["bidirectional"]),
            "out_features": outputs,
        }


def _mlp(task: Task, params: Params, options: FitOptions) -> Learner:
    return MlpLearner(task, params, options)


def _lstm(task: Task, params: Params, options: FitOptions) -> Learner:
    if task is Task.FORECASTING and params["bidirectional"]:
        raise InvalidArgument(
            "bidirectional is for sequence_classification: a forecast reads its window forwards"
        )
    return LstmLearner(task, params, options)


ALGORITHMS: tuple[AlgorithmInfo, ...] = (
    AlgorithmInfo(
        name=MLP,
        display_name="Multilayer perceptron (torch)",
        description="A feed-forward network: hidden layers with an activation, dropout and "
        "optional batch norm; Adam/AdamW/SGD, a learning-rate schedule and early stopping on "
        "the validation rows.",
        tasks=frozenset({Task.CLASSIFICATION, Task.REGRESSION}),
        library="torch",
        params=MLP_PARAMS,
        factory=_mlp,
        learner_class=MlpLearner,
        formats=(FORMAT_SAFETENSORS,),
        iterative=True,
        supports_sample_weight=True,
    ),
    AlgorithmInfo(
        name=LSTM,
        display_name="LSTM (torch)",
        description="A long short-term memory network over windows of a time-ordered dataset: "
        "forecasts the next values (horizon) or classifies each window.",
        tasks=frozenset({Task.FORECASTING, Task.SEQUENCE_CLASSIFICATION}),
        library="torch",
        params=LSTM_PARAMS,
        factory=_lstm,
        learner_class=LstmLearner,
        formats=(FORMAT_SAFETENSORS,),
        iterative=True,
    ),
)
