"""Structural checks of a recipe, before anything is read: what can be known without data.

Column-level mistakes (an unknown column, a cast that fails) need the data; the job's dry run on
a sample (jobs.py) and the engine report those.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.errors import InvalidArgument
from services.common.validation import validate_key, validate_name, validate_text
from services.ingest.engine.sql_guard import check_query, parse_url, split_table
from services.ingest.urls import UrlPolicy, check_file_url, check_sqlite_url

MAX_SOURCES = 64
MAX_STEPS = 500
FRACTION_TOLERANCE = 1e-6
SECRET_OPTION_WORDS = ("secret", "password", "token", "key", "credential", "session")
NEEDS_COLUMN = {pb.SPLIT_METHOD_STRATIFIED, pb.SPLIT_METHOD_TIME, pb.SPLIT_METHOD_GROUP}


def validate_recipe(recipe: pb.Recipe, policy: UrlPolicy) -> None:
    if not recipe.sources:
        raise InvalidArgument("recipe.sources is empty: add at least one source")
    if len(recipe.sources) > MAX_SOURCES:
        raise InvalidArgument(f"a recipe reads at most {MAX_SOURCES} sources")
    aliases: list[str] = []
    for index, source in enumerate(recipe.sources):
        where = f"recipe.sources[{index}]"
        validate_name(source.alias, f"{where}.alias")
        if source.alias in aliases:
            raise InvalidArgument(
                f"{where}.alias {source.alias!r} is used twice; aliases are unique"
            )
        aliases.append(source.alias)
        validate_source(source, where, policy)
        _validate_steps(source.steps, f"{where}.steps", (), combine=False)
    used = _validate_steps(recipe.steps, "recipe.steps", aliases[1:], combine=True)
    unused = [alias for alias in aliases[1:] if alias not in used]
    if unused:
        raise InvalidArgument(
            f"source(s) {', '.join(unused)} are never joined or unioned; only the first source "
            "starts the pipeline: add a join/union step or remove them"
        )
    if recipe.HasField("split"):
        validate_split(recipe.split)


def validate_source(source: pb.Source, where: str, policy: UrlPolicy) -> None:
    kind = source.WhichOneof("kind")
    if kind is None:
        raise InvalidArgument(f"{where} has no kind: give file, sql, dataset or source_id")
    if (source.table or source.query) and kind != "source_id":
        raise InvalidArgument(f"{where}: table/query apply to a saved SQL source (source_id)")
    if source.table and source.query:
        raise InvalidArgument(f"{where}: give table or query, not both")
    if kind == "file":
        validate_file(source.file, f"{where}.file", policy)
    elif kind == "sql":
        validate_sql(source.sql, f"{where}.sql", policy)
    elif kind == "dataset":
        if not source.dataset.dataset_version_id and not source.dataset.dataset:
            raise InvalidArgument(f"{where}.dataset: give dataset_version_id, or dataset")
        if source.dataset.version < 0:
            raise InvalidArgument(f"{where}.dataset.version cannot be negative (0 means latest)")
        for split in source.dataset.splits:
            validate_key(split, f"{where}.dataset.splits item")
    elif not source.source_id:
        raise InvalidArgument(f"{where}.source_id is empty")


def validate_file(source: pb.FileSource, where: str, policy: UrlPolicy) -> None:
    location = source.WhichOneof("location")
    if location is None:
        raise InvalidArgument(f"{where}: give url or upload_id")
    if location == "url":
        check_file_url(source.url, policy, where)
    if source.format not in pb.FileFormat.values():
        raise InvalidArgument(f"{where}.format {source.format} is not a known format")
    delimiter = source.csv.delimiter
    if delimiter and len(delimiter) != 1:
        raise InvalidArgument(f'{where}.csv.delimiter must be one character ("\\t" for TSV)')
    if source.csv.skip_rows < 0:
        raise InvalidArgument(f"{where}.csv.skip_rows cannot be negative")
    for option in source.storage_options:
        if any(word in option.lower() for word in SECRET_OPTION_WORDS):
            raise InvalidArgument(
                f"{where}.storage_options[{option!r}] looks like a secret: put it in credentials "
                "(secret_ref or secret), which are never stored in plain text"
            )


def validate_sql(source: pb.SqlSource, where: str, policy: UrlPolicy) -> None:
    if not source.url:
        raise InvalidArgument(f"{where}.url is required (a SQLAlchemy URL without password)")
    url, _ = parse_url(source.url, source.credentials.username, None)  # no password, known db
    check_sqlite_url(source.url, policy, f"{where}.url")
    if source.chunk_rows < 0:
        raise InvalidArgument(f"{where}.chunk_rows cannot be negative")
    if source.WhichOneof("read") == "query":
        validate_text(source.query, f"{where}.query", 100_000)
        check_query(source.query, url.get_backend_name())
    elif source.table:
        split_table(source.table)


def _validate_steps(
    steps: Iterable[pb.Step], where: str, others: Sequence[str], combine: bool
) -> set[str]:
    used: set[str] = set()
    for index, step in enumerate(steps):
        if index >= MAX_STEPS:
            raise InvalidArgument(f"{where}: at most {MAX_STEPS} steps")
        kind = step.WhichOneof("kind")
        here = f"{where}[{index}]"
        if kind is None:
            raise InvalidArgument(f"{here} has no kind (select, rename, cast, filter, ...)")
        if kind not in ("join", "union"):
            continue
        if not combine:
            raise InvalidArgument(f"{here}: {kind} steps belong in recipe.steps, not a source's")
        names = [step.join.right] if kind == "join" else list(step.union.sources)
        if not names or not all(names):
            raise InvalidArgument(f"{here}.{kind} names no source alias")
        for name in names:
            if name not in others:
                raise InvalidArgument(
                    f"{here}.{kind} refers to source {name!r}, which is not one of the recipe's "
                    f"other sources ({', '.join(others) or 'none'})"
                )
            if name in used:
                raise InvalidArgument(f"{here}.{kind}: source {name!r} is combined twice")
            used.add(name)
        if kind == "join" and not step.join.keys:
            raise InvalidArgument(f"{here}.join.keys is empty: name the columns to join on")
    return used


def validate_split(split: pb.SplitSpec) -> None:
    if split.method == pb.SPLIT_METHOD_UNSPECIFIED:
        if split.parts:
            raise InvalidArgument("split.method is required when split.parts are given")
        return
    if split.method not in pb.SplitMethod.values():
        raise InvalidArgument(f"split.method {split.method} is not a known method")
    if not split.parts:
        raise InvalidArgument("split.parts is empty: name the parts (train, test, ...)")
    names = [part.name for part in split.parts]
    for name in names:
        validate_key(name, "split part name")
    if len(set(names)) != len(names):
        raise InvalidArgument("split part names must be unique")
    if split.method in NEEDS_COLUMN and not split.column:
        raise InvalidArgument(f"split.column is required for {pb.SplitMethod.Name(split.method)}")
    if split.time_boundaries:
        if split.method != pb.SPLIT_METHOD_TIME:
            raise InvalidArgument("split.time_boundaries apply to SPLIT_METHOD_TIME only")
        if len(split.time_boundaries) != len(split.parts) - 1:
            raise InvalidArgument(
                f"split.time_boundaries needs {len(split.parts) - 1} boundaries for "
                f"{len(split.parts)} parts, got {len(split.time_boundaries)}"
            )
        return
    fractions = [part.fraction for part in split.parts]
    if any(not math.isfinite(f) or f <= 0 for f in fractions):
        raise InvalidArgument("split fractions must be positive numbers")
    if abs(sum(fractions) - 1.0) > FRACTION_TOLERANCE:
        raise InvalidArgument(f"split fractions sum to {sum(fractions):g}; they must sum to 1")
