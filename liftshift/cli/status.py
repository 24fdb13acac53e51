"""`liftshift status`: what the stack runs now (read only)."""

from .. import report
from .base import emit, load, open_target
from .options import File, StackOptions, stack_options


@stack_options
def status(file: File, *, opts: StackOptions) -> None:
    """Services, image digests, instances, states and addresses."""
    from ..pipeline.status import status as run_status

    spec, _ = load(file, opts.env)
    emit(run_status(spec, open_target(spec, opts)), opts.output, report.status_text)
