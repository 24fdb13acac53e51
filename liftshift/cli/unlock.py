"""`liftshift unlock`: clear a stack's deploy lock left by a killed run."""

from .. import report
from .base import emit, load, open_target
from .options import File, StackOptions, stack_options


@stack_options
def unlock(file: File, *, opts: StackOptions) -> None:
    """Clear the stack's deploy lock (left by a killed deploy; it also expires by itself)."""
    from ..aws.lock import force_unlock

    spec, _ = load(file, opts.env)
    where = open_target(spec, opts, quiet=True)
    where.aws.account_id()
    held = force_unlock(where.aws.client("dynamodb"), spec.name)
    data = {"stack": spec.name, "held_by": None if held is None else {
        "owner": held.owner, "operation": held.operation, "acquired_at": held.acquired_at,
        "expires_at": held.expires_at}}
    emit(data, opts.output, report.unlock_text)
