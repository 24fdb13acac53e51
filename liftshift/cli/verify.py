"""`liftshift verify`: the migration's success test and a CD pipeline's smoke test (read only; exit 3 on a failure)."""

from .. import report
from .base import emit, load, open_target
from .options import File, StackOptions, stack_options


@stack_options
def verify(file: File, *, opts: StackOptions) -> None:
    """Check health (through the load balancer, else each instance), internal services and data volumes; exit 3 on a failure."""
    from ..pipeline.verify import VerifyFailed, verify as run_verify

    spec, _ = load(file, opts.env)
    result = run_verify(spec, open_target(spec, opts))
    emit(result, opts.output, report.verify_text)
    if not result["passed"]:
        raise VerifyFailed(result)
