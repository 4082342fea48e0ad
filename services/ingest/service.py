"""Ingest's domain, assembled: one object the servicer (and tests) talk to."""

from __future__ import annotations

from services.ingest.context import IngestContext
from services.ingest.jobs import JobService
from services.ingest.previews import PreviewService
from services.ingest.secrets import SecretResolver
from services.ingest.sources import SourceService
from services.ingest.uploads import UploadService
from services.ingest.worker import Janitor


class Ingest:
    def __init__(self, ctx: IngestContext) -> None:
        self.ctx = ctx
        self.uploads = UploadService(ctx)
        self.sources = SourceService(ctx, SecretResolver(ctx.box, ctx.settings))
        self.previews = PreviewService(ctx)
        self.jobs = JobService(ctx, self.previews)
        self.janitor = Janitor(ctx)
