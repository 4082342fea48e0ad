"""The CLI's gateway subcommands (projects, datasets, train, tune, runs, models, deploy, predict,
tokens, quotas, ...), each a thin layer over :class:`aimass.Client`; ``aimass.cli`` mounts them
after the local-stack commands. Every one takes ``--url``, ``--token`` and ``--json``."""

from __future__ import annotations

from collections.abc import Callable

from aimass.cli_api_admin import add_quotas, add_tokens
from aimass.cli_api_data import add_datasets, add_projects
from aimass.cli_api_kit import Subparsers
from aimass.cli_api_runs import add_runs
from aimass.cli_api_serve import add_deploy, add_deployments, add_lineage, add_models, add_predict
from aimass.cli_api_train import add_algorithms, add_train, add_tune

COMMANDS: list[Callable[[Subparsers], None]] = [
    add_projects,
    add_datasets,
    add_algorithms,
    add_train,
    add_tune,
    add_runs,
    add_models,
    add_deploy,
    add_deployments,
    add_predict,
    add_lineage,
    add_tokens,
    add_quotas,
]
