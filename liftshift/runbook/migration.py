"""migration.yaml: the stacks of one migration in waves, each wave moved after the waves it names.

    version: 1
    name: shop-migration        # the runbook's title
    warranty_days: 14           # how long the old host is kept after the cutover (default 14)
    waves:
      - name: data
        stacks: [db/app.yaml]   # app.yaml files, relative to migration.yaml
      - name: front
        after: [data]           # waves that must be cut over first
        stacks: [web/app.yaml]

Validated like app.yaml (pydantic; unknown keys refused): every problem is one error naming the file, line and
key, exit 2. `ordered` puts the waves in dependency order (file order among equals) and refuses a cycle.
Several app.yaml files given on the command line instead make one wave, in the order given.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from ..errors import BadInput
from ..spec.grammar import check_name
from ..spec.yamlsource import LocatedData, SourceError, load_yaml

DEFAULT_WARRANTY_DAYS = 14


class MigrationError(SourceError, BadInput):
    """Bad input in migration.yaml: exit 2, naming the file, line and key."""

    @classmethod
    def at(cls, located: LocatedData, path: tuple, message: str) -> "MigrationError":
        return cls(located.file, located.line_of(path), path, message)


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be 1 (the only migration.yaml version this liftshift reads)")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WaveSpec(_Model):
    name: str
    stacks: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)
    after: list[str] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value, "a wave name")


class MigrationSpec(_Model):
    version: Annotated[Literal[1], BeforeValidator(_no_bool)]
    name: str = Field(min_length=1, max_length=200)
    warranty_days: int = Field(DEFAULT_WARRANTY_DAYS, ge=0, le=365)
    waves: list[WaveSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Wave:
    name: str
    after: tuple[str, ...]
    stacks: tuple[Path, ...]  # app.yaml files
    lines: tuple[tuple[str, int | None], ...] = ()  # (file as written, its line in migration.yaml) per stack


@dataclass(frozen=True)
class Migration:
    name: str
    warranty_days: int
    waves: tuple[Wave, ...]  # in dependency order
    file: str | None = None  # migration.yaml, when one was given


def is_migration(path: Path) -> bool:
    """Whether `path` is a migration.yaml (a mapping with `waves`) rather than an app.yaml."""
    try:
        located = load_yaml(path, str(path))
    except SourceError:
        return False  # load_spec reports it as the app.yaml it then is
    return isinstance(located.data, dict) and "waves" in located.data


def load_migration(path: Path) -> Migration:
    located = _read(path)
    if not isinstance(located.data, dict):
        raise MigrationError(located.file, 1, (), "must be a mapping with version, name and waves")
    _unknown_keys(located)
    try:
        spec = MigrationSpec.model_validate(located.data)
    except ValidationError as exc:
        raise _first_error(located, exc) from None
    base = path.resolve().parent
    waves = []
    seen_waves: dict[str, int] = {}
    seen_files: dict[Path, tuple] = {}
    for i, wave in enumerate(spec.waves):
        if wave.name in seen_waves:
            raise MigrationError.at(located, ("waves", i, "name"),
                                    f"wave {wave.name!r} is named twice (first as waves[{seen_waves[wave.name]}])")
        seen_waves[wave.name] = i
        files, lines = [], []
        for j, written in enumerate(wave.stacks):
            where = ("waves", i, "stacks", j)
            file = (base / written).resolve()
            if not file.is_file():
                raise MigrationError.at(located, where, f"{written!r} is not a file ({file})")
            if file in seen_files:
                raise MigrationError.at(located, where, f"{written!r} is listed twice (first at "
                                        f"line {located.line_of(seen_files[file])})")
            seen_files[file] = where
            files.append(file)
            lines.append((written, located.line_of(where)))
        waves.append(Wave(wave.name, tuple(wave.after), tuple(files), tuple(lines)))
    for i, wave in enumerate(spec.waves):
        for j, other in enumerate(wave.after):
            if other not in seen_waves:
                hint = difflib.get_close_matches(other, list(seen_waves), n=1)
                raise MigrationError.at(located, ("waves", i, "after", j), f"names no wave {other!r}"
                                        + (f" (did you mean {hint[0]!r}?)" if hint else
                                           f" (waves: {', '.join(seen_waves)})"))
            if other == wave.name:
                raise MigrationError.at(located, ("waves", i, "after", j), "a wave cannot come after itself")
    return Migration(spec.name, spec.warranty_days, ordered(waves, located), str(path))


def from_app_files(files: list[Path]) -> Migration:
    """Several app.yaml files on the command line: one wave, in the order given."""
    seen: set[Path] = set()
    for file in files:
        if file.resolve() in seen:
            raise BadInput(f"{file}: given twice")
        seen.add(file.resolve())
    title = "migration" if len(files) > 1 else ""
    return Migration(title, DEFAULT_WARRANTY_DAYS, (Wave("1", (), tuple(files)),))


def ordered(waves: list[Wave], located: LocatedData | None = None) -> tuple[Wave, ...]:
    """The waves in dependency order: each after every wave it names; among waves that are free to go,
    the one first in the file. A cycle is refused at the `after` of its first wave."""
    index = {w.name: i for i, w in enumerate(waves)}
    done: list[Wave] = []
    placed: set[str] = set()
    while len(done) < len(waves):
        ready = [w for w in waves if w.name not in placed and all(a in placed for a in w.after)]
        if not ready:
            left = [w for w in waves if w.name not in placed]
            cycle = _cycle(left)
            message = "waves come after each other in a cycle: " + " -> ".join(cycle)
            if located is None:
                raise BadInput(message)
            raise MigrationError.at(located, ("waves", index[cycle[0]], "after"), message)
        done.append(ready[0])
        placed.add(ready[0].name)
    return tuple(done)


def _cycle(left: list[Wave]) -> list[str]:
    by_name = {w.name: w for w in left}
    trail: list[str] = []
    name = left[0].name
    while name not in trail:
        trail.append(name)
        name = next(a for a in by_name[name].after if a in by_name)
    return trail[trail.index(name):] + [name]


def _read(path: Path) -> LocatedData:
    try:
        return load_yaml(path, str(path))
    except SourceError as exc:
        raise MigrationError(exc.file, exc.line, exc.path, exc.message) from None


def _unknown_keys(located: LocatedData) -> None:
    def check(data: Any, fields: dict, path: tuple) -> None:
        if not isinstance(data, dict):
            return
        for key in data:
            if key not in fields:
                hint = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.6)
                raise MigrationError.at(located, path + (key,), "unknown field" + (
                    f" (did you mean {hint[0]!r}?)" if hint else f" (allowed: {', '.join(fields)})"))

    check(located.data, MigrationSpec.model_fields, ())
    waves = located.data.get("waves")
    if isinstance(waves, list):
        for i, wave in enumerate(waves):
            check(wave, WaveSpec.model_fields, ("waves", i))


def _first_error(located: LocatedData, exc: ValidationError) -> MigrationError:
    errors = sorted(exc.errors(), key=lambda e: located.line_of(tuple(e["loc"])) or 0)
    err = errors[0]
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "missing":
        message = "is required"
    elif "input" in err and not isinstance(err["input"], (dict, list)):
        message = f"{message} (got {err['input']!r})"[:300]
    return MigrationError.at(located, tuple(err["loc"]), message)
