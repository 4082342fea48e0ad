"""What every part of the trainer shares, built once in server.py."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.bus import Bus
from services.common.registry_client import RegistryClient
from services.common.store import ArtifactStore
from services.trainer.config import TrainerSettings


@dataclass
class TrainerContext:
    settings: TrainerSettings
    store: ArtifactStore
    registry: RegistryClient
    bus: Bus
