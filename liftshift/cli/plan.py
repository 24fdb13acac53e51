"""`liftshift plan`: what deploy would create, change or delete, from the same data deploy runs."""

from .. import report
from ..errors import BadInput
from .base import emit, load, open_target
from .deploy import Image, image_sources
from .options import File, StackOptions, Strict, stack_options


@stack_options
def plan(file: File, strict: Strict = False, image: Image = None, *, opts: StackOptions) -> None:
    """Show what deploy would create, change or delete. Builds images locally; changes nothing in AWS."""
    from ..pipeline.describe import plan_json
    from ..pipeline.prepare import prepare

    spec, base = load(file, opts.env)
    sources = image_sources(image, spec, file)
    prepared = prepare(spec, base, open_target(spec, opts), sources)
    emit(plan_json(prepared), opts.output, report.plan_text)
    if strict and prepared.warnings:
        raise BadInput("--strict: " + "; ".join(prepared.warnings))
