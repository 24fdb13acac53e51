"""`liftshift render`: the user-data and launch template data deploy would use, for reading and debugging."""

from typing import Any

import typer

from .. import report
from ..errors import BadInput
from .base import emit, load, open_target
from .options import File, Service, StackOptions, stack_options


@stack_options
def render(file: File, service: Service = None, *, opts: StackOptions) -> None:
    """Print the user-data and launch template data deploy would use."""
    from ..model.launch_template import user_data_context
    from ..model.user_data import render_user_data
    from ..pipeline.prepare import prepare

    spec, base = load(file, opts.env)
    if service is not None and service not in spec.services:
        raise BadInput(f"{file}: no service {service!r} (services: {', '.join(spec.services)})")
    prepared = prepare(spec, base, open_target(spec, opts, quiet=True))
    result: dict[str, Any] = {}
    for name, want in prepared.want.services.items():
        if service and name != service:
            continue
        user_data = want.launch_template.user_data
        if user_data is None:
            placeholder = f"{want.repository_uri}@sha256:{'0' * 64}"
            typer.echo(f"note: {name}'s image is not pushed yet; the digest shown is a placeholder", err=True)
            hashes = {n: w.launch_template.config_hash for n, w in prepared.want.services.items()}
            user_data = render_user_data(user_data_context(
                spec, name, placeholder, prepared.want.registry, prepared.want.region,
                want.launch_template.config_hash, hashes))
        data = {k: v for k, v in want.launch_template.data.items() if k != "UserData"}
        data["SecurityGroupIds"] = [repr(v) if not isinstance(v, str) else v for v in data["SecurityGroupIds"]]
        result[name] = {"launch_template": want.launch_template.name, "launch_template_data": data,
                        "user_data": user_data}
    emit(result, opts.output, report.render_text)
