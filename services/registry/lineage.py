"""Lineage: one generic edge table from upstream (what was used) to downstream (what it made)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from aimass.common.v1 import common_pb2
from aimass.registry.v1 import registry_pb2 as pb
from services.common.errors import InvalidArgument, NotFound
from services.common.outbox import timestamp
from services.common.validation import validate_count
from services.registry import models
from services.registry.core import (
    KIND_BY_NAME,
    KIND_NAMES,
    Caller,
    Database,
    Kind,
    acting_project,
    can_see,
)

_OWNED: dict[str, Any] = {"run": models.Run, "deployment": models.Deployment}
_VERSIONS: dict[str, tuple[Any, Any, str]] = {
    "dataset_version": (models.DatasetVersion, models.Dataset, "dataset_id"),
    "model_version": (models.ModelVersion, models.Model, "model_id"),
    "dataset": (models.Dataset, models.Dataset, "id"),
    "model": (models.Model, models.Model, "id"),
}
_CATALOG = {
    "dataset_version": "dataset",
    "model_version": "model",
    "dataset": "dataset",
    "model": "model",
}

MAX_DEPTH = 50
DEFAULT_DEPTH = 10


@dataclass(frozen=True)
class Edge:
    source_kind: str
    source_id: str
    target_kind: str
    target_id: str
    relation: str


async def record_edges(session: AsyncSession, edges: Iterable[Edge]) -> int:
    rows = [edge.__dict__ for edge in dict.fromkeys(edges)]
    if not rows:
        return 0
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(models.LineageEdge).values(rows).on_conflict_do_nothing()
    result = await session.execute(statement)
    return max(int(getattr(result, "rowcount", 0) or 0), 0)


def _kind_name(ref: common_pb2.EntityRef, what: str) -> str:
    if ref.kind not in KIND_NAMES or not ref.id:
        raise InvalidArgument(f"{what} needs a kind and an id")
    return KIND_NAMES[ref.kind]


async def _labels(
    session: AsyncSession, refs: set[tuple[str, str]]
) -> dict[tuple[str, str], tuple[str, str, bool]]:
    """(label, project_id, deleted) per entity, in one query per kind."""
    by_kind: dict[str, list[str]] = {}
    for kind, entity_id in refs:
        by_kind.setdefault(kind, []).append(entity_id)
    found: dict[tuple[str, str], tuple[str, str, bool]] = {}
    parents: dict[str, tuple[Any, Any, str]] = {
        "dataset_version": (models.DatasetVersion, models.Dataset, "dataset_id"),
        "model_version": (models.ModelVersion, models.Model, "model_id"),
    }
    plain: dict[str, Any] = {
        "dataset": models.Dataset,
        "model": models.Model,
        "run": models.Run,
        "deployment": models.Deployment,
        "project": models.Project,
    }
    for kind, ids in by_kind.items():
        if kind in parents:
            child, parent, key = parents[kind]
            query = select(child, parent.name).join(parent, parent.id == getattr(child, key))
            for row, parent_name in await session.execute(query.where(child.id.in_(ids))):
                found[(kind, row.id)] = (
                    f"{parent_name}@{row.version}",
                    row.project_id,
                    row.deleted_at is not None,
                )
        elif kind in plain:
            table = plain[kind]
            for row in (await session.execute(select(table).where(table.id.in_(ids)))).scalars():
                label = getattr(row, "name", "") or f"{kind} {row.id[:8]}"
                project_id = row.id if kind == "project" else row.project_id
                found[(kind, row.id)] = (label, project_id, row.deleted_at is not None)
    return found


async def _owner(session: AsyncSession, kind: str, entity_id: str) -> Any:
    """The row that carries project_id (and visibility, for catalog entries), or None."""
    if kind in _OWNED:
        return await session.get(_OWNED[kind], entity_id)
    if kind in _VERSIONS:
        child, parent, key = _VERSIONS[kind]
        version: Any = await session.get(child, entity_id)
        return await session.get(parent, getattr(version, key)) if version else None
    return None


async def _is_visible(
    session: AsyncSession, viewer: models.Project, kind: str, entity_id: str, owned: bool = False
) -> bool:
    """May the acting project see (or, with ``owned``, change) this entity? Deleted ones count:
    lineage is history. Sources lie outside the platform and are always visible."""
    if kind == "source":
        return not owned
    if kind == "project":
        return entity_id == viewer.id
    owner = await _owner(session, kind, entity_id)
    if owner is None:
        return False
    if owner.project_id == viewer.id:
        return True
    if owned or kind in _OWNED:
        return False
    return await can_see(
        session, _CATALOG[kind], owner.project_id, owner.visibility, owner.id, viewer.id
    )


async def _check_visible(
    session: AsyncSession, viewer: models.Project, kind: str, entity_id: str, owned: bool = False
) -> None:
    if not await _is_visible(session, viewer, kind, entity_id, owned):
        raise NotFound(
            f"{kind.replace('_', ' ')} {entity_id!r} does not exist in project "
            f"{viewer.name!r}" + ("" if owned else " or is not shared with it")
        )


class LineageService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, caller: Caller, request: pb.AddLineageEdgesRequest) -> int:
        validate_count(request.edges, "lineage edges", 1000)
        edges = [
            Edge(
                _kind_name(e.source, "lineage source"),
                e.source.id,
                _kind_name(e.target, "lineage target"),
                e.target.id,
                e.relation or "related_to",
            )
            for e in request.edges
        ]
        async with self.db.unit(caller) as work:
            project = await acting_project(work.session, caller)
            for edge in dict.fromkeys(edges):
                await _check_visible(work.session, project, edge.source_kind, edge.source_id)
                await _check_visible(
                    work.session, project, edge.target_kind, edge.target_id, owned=True
                )
            added = await record_edges(work.session, edges)
            if added:
                work.changed(
                    Kind.ENTITY_KIND_PROJECT, project.id, "lineage_added", project.id, project.name
                )
        return added

    async def get(self, caller: Caller, request: pb.GetLineageRequest) -> pb.GetLineageResponse:
        start = (_kind_name(request.entity, "entity"), request.entity.id)
        if request.direction == pb.LINEAGE_DIRECTION_UNSPECIFIED:
            raise InvalidArgument("direction is required: UPSTREAM or DOWNSTREAM")
        if not 0 <= request.depth <= MAX_DEPTH:
            raise InvalidArgument(f"depth {request.depth} is out of range: use 1..{MAX_DEPTH}")
        upstream = request.direction == pb.LINEAGE_DIRECTION_UPSTREAM
        depth_limit = request.depth or DEFAULT_DEPTH
        E = models.LineageEdge
        near, far = ((E.target_kind, E.target_id), (E.source_kind, E.source_id))
        if not upstream:
            near, far = far, near
        seen = {start: 0}
        frontier = [start]
        edges: list[models.LineageEdge] = []
        hidden: set[tuple[str, str]] = set()
        truncated = False
        async with self.db.read() as session:
            viewer = await acting_project(session, caller)
            await _check_visible(session, viewer, *start)
            for level in range(1, depth_limit + 2):
                if not frontier:
                    break
                rows = (
                    (
                        await session.execute(
                            select(E).where(tuple_(*near).in_(frontier)).order_by(E.id)
                        )
                    )
                    .scalars()
                    .all()
                )
                if level > depth_limit:
                    truncated = bool(rows)
                    break
                frontier = []
                for edge in rows:
                    node = (getattr(edge, far[0].key), getattr(edge, far[1].key))
                    if node not in seen:
                        if node in hidden or not await _is_visible(session, viewer, *node):
                            hidden.add(node)
                            continue
                        seen[node] = level
                        frontier.append(node)
                    edges.append(edge)
            labels = await _labels(session, set(seen))
        return _response(seen, labels, edges, truncated)


def _response(
    seen: dict[tuple[str, str], int],
    labels: dict[tuple[str, str], tuple[str, str, bool]],
    edges: list[models.LineageEdge],
    truncated: bool,
) -> pb.GetLineageResponse:
    response = pb.GetLineageResponse(truncated=truncated)
    for (kind, entity_id), depth in seen.items():
        label, project_id, deleted = labels.get((kind, entity_id), (entity_id, "", False))
        response.nodes.add(
            entity=common_pb2.EntityRef(kind=KIND_BY_NAME[kind], id=entity_id),  # type: ignore[arg-type]
            label=label,
            project_id=project_id,
            deleted=deleted,
            depth=depth,
        )
    for edge in edges:
        item = response.edges.add(
            source=common_pb2.EntityRef(kind=KIND_BY_NAME[edge.source_kind], id=edge.source_id),  # type: ignore[arg-type]
            target=common_pb2.EntityRef(kind=KIND_BY_NAME[edge.target_kind], id=edge.target_id),  # type: ignore[arg-type]
            relation=edge.relation,
        )
        stamp = timestamp(edge.created_at)
        if stamp is not None:
            item.created_at.CopyFrom(stamp)
    return response
