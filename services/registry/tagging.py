"""Tags on any entity and sharing of datasets and models: stored once, loaded in bulk."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import TypeVar

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from aimass.common.v1 import common_pb2
from services.common.errors import NotFound
from services.common.validation import MAX_TAG_VALUE, validate_key, validate_mapping
from services.registry import models
from services.registry.core import VISIBILITY_NAMES, can_see

Shareable = TypeVar("Shareable", models.Dataset, models.Model)


async def load_tags(
    session: AsyncSession, kind: str, entity_ids: Iterable[str]
) -> dict[str, dict[str, str]]:
    ids = list(entity_ids)
    found: dict[str, dict[str, str]] = defaultdict(dict)
    if not ids:
        return found
    rows = await session.execute(
        select(models.Tag.entity_id, models.Tag.key, models.Tag.value).where(
            models.Tag.entity_kind == kind, models.Tag.entity_id.in_(ids)
        )
    )
    for entity_id, key, value in rows:
        found[entity_id][key] = value
    return found


async def set_tags(
    session: AsyncSession, kind: str, entity_id: str, tags: Mapping[str, str]
) -> None:
    validate_mapping(tags, "tag", MAX_TAG_VALUE)
    if not tags:
        return
    await session.execute(
        delete(models.Tag).where(
            models.Tag.entity_kind == kind,
            models.Tag.entity_id == entity_id,
            models.Tag.key.in_(list(tags)),
        )
    )
    session.add_all(
        models.Tag(entity_kind=kind, entity_id=entity_id, key=key, value=value)
        for key, value in tags.items()
    )


async def delete_tags(
    session: AsyncSession, kind: str, entity_id: str, keys: Iterable[str]
) -> None:
    keys = [validate_key(key, "tag key") for key in keys]
    await session.execute(
        delete(models.Tag).where(
            models.Tag.entity_kind == kind,
            models.Tag.entity_id == entity_id,
            models.Tag.key.in_(keys),
        )
    )


async def load_sharing(
    session: AsyncSession, kind: str, entities: Iterable[models.Dataset | models.Model]
) -> dict[str, common_pb2.Sharing]:
    rows = list(entities)
    shared: dict[str, list[str]] = defaultdict(list)
    if rows:
        result = await session.execute(
            select(models.Share.entity_id, models.Project.name)
            .join(models.Project, models.Project.id == models.Share.project_id)
            .where(
                models.Share.entity_kind == kind,
                models.Share.entity_id.in_([row.id for row in rows]),
            )
            .order_by(models.Project.name)
        )
        for entity_id, project_name in result:
            shared[entity_id].append(project_name)
    visibility = {name: value for value, name in VISIBILITY_NAMES.items()}
    return {
        row.id: common_pb2.Sharing(
            visibility=visibility[row.visibility],
            shared_with=shared.get(row.id, []),
        )
        for row in rows
    }


async def resolve_shareable(
    session: AsyncSession,
    model: type[Shareable],
    kind: str,
    ref: str,
    viewer: models.Project,
    include_deleted: bool = False,
) -> Shareable:
    """By id, by name in the viewer's project, or "<owner project>/<name>"; hidden = not found."""
    what = kind.replace("_", " ")
    if "/" in ref:
        owner_name, _, name = ref.partition("/")
        query = (
            select(model)
            .join(models.Project, models.Project.id == model.project_id)
            .where(models.Project.name == owner_name, model.name == name)
        )
    else:
        query = select(model).where(
            or_(model.id == ref, (model.project_id == viewer.id) & (model.name == ref))
        )
    candidates = list((await session.execute(query)).scalars())
    candidates.sort(key=lambda row: row.project_id != viewer.id)
    for row in candidates:
        if row.deleted_at is not None and not include_deleted:
            continue
        if await can_see(session, kind, row.project_id, row.visibility, row.id, viewer.id):
            return row
    raise NotFound(
        f"{what} {ref!r} does not exist in project {viewer.name!r} or is not shared with it"
    )


async def replace_shares(
    session: AsyncSession, kind: str, entity_id: str, project_ids: Iterable[str]
) -> None:
    await session.execute(
        delete(models.Share).where(
            models.Share.entity_kind == kind, models.Share.entity_id == entity_id
        )
    )
    session.add_all(
        models.Share(entity_kind=kind, entity_id=entity_id, project_id=project_id)
        for project_id in dict.fromkeys(project_ids)
    )
