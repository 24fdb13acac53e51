"""The runbook's Markdown from its data: templates/runbook.md.j2, or a team's own (`--template PATH`).

A template of one's own is looked up beside itself first and then among liftshift's templates, so it can
`{% extends "liftshift/runbook.md.j2" %}` (the prefix names liftshift's own even beside a file of that name) and
replace only some blocks. Filters: `md` (literal text, table-safe), `code`
(a code span), `mark` (✓ ✗ ☐), all in markdown.py; undefined names are errors (StrictUndefined).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import jinja2

from ..errors import BadInput
from ..model.templating import templates_dir
from .markdown import code, mark, md

DEFAULT = "runbook.md.j2"


class TemplateError(BadInput):
    """A runbook template that cannot be read or rendered: exit 2."""


def environment(extra: Optional[Path] = None) -> jinja2.Environment:
    ours = jinja2.FileSystemLoader(str(templates_dir()))
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(str(extra))] if extra is not None else []
    loaders += [jinja2.PrefixLoader({"liftshift": ours}), ours]
    env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), undefined=jinja2.StrictUndefined,
                             autoescape=False, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(md=md, code=code, mark=mark)
    return env


def render_runbook(data: dict[str, Any], template: Optional[Path] = None) -> str:
    if template is None:
        return environment().get_template(DEFAULT).render(**data)
    if not template.is_file():
        raise TemplateError(f"{template}: no such template file")
    try:
        return environment(template.resolve().parent).get_template(template.name).render(**data)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{template}:{exc.lineno}: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"{template}: {exc.message} (the runbook's data: liftshift runbook -o json)") from None
