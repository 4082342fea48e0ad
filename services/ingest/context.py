"""What every part of the ingest service shares, built once in server.py."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.bus import Bus
from services.common.registry_client import RegistryClient
from services.common.store import ArtifactStore
from services.ingest.config import IngestSettings
from services.ingest.core import Database
from services.ingest.inputs import InputResolver
from services.ingest.secrets import SecretBox, SecretResolver
from services.ingest.urls import UrlPolicy


@dataclass
class IngestContext:
    settings: IngestSettings
    db: Database
    store: ArtifactStore
    registry: RegistryClient
    bus: Bus
    box: SecretBox
    policy: UrlPolicy
    resolver: InputResolver

    @classmethod
    def build(
        cls,
        settings: IngestSettings,
        db: Database,
        store: ArtifactStore,
        registry: RegistryClient,
        bus: Bus,
    ) -> IngestContext:
        box = SecretBox.from_settings(settings)
        policy = UrlPolicy.from_settings(settings)
        resolver = InputResolver(store, registry, SecretResolver(box, settings), policy)
        return cls(settings, db, store, registry, bus, box, policy, resolver)
