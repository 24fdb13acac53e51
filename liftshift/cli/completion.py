"""Shell completion of values (Typer's bash/zsh/fish completion completes commands and options by itself).

`--service` completes the service names of the app.yaml the command line names (its FILE argument, else
./app.yaml), with `--env`'s overlay's names too. Completion runs on every Tab press, so it reads the YAML
quietly: no validation, no output, and any problem (no file yet, a YAML error) completes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def service_names(ctx: Any, incomplete: str) -> list[str]:
    """The service names of FILE (the command's argument; else ./app.yaml) starting with `incomplete`; never raises."""
    try:
        params = getattr(ctx, "params", None) or {}
        # While the option's value is being typed, click's resilient parse leaves FILE unconverted in ctx.args.
        words = [w for w in getattr(ctx, "args", None) or [] if isinstance(w, str) and not w.startswith("-")]
        file = Path(params.get("file") or (words[0] if words else "app.yaml"))
        names = _services(file)
        env = params.get("env")
        if env:
            names |= _services(file.with_name(f"{file.stem}.{env}{file.suffix}"))
        return sorted(n for n in names if n.startswith(incomplete or ""))
    except Exception:  # completion must never print a traceback into the user's shell
        return []


def _services(file: Path) -> set[str]:
    import yaml

    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except Exception:
        return set()
    services = data.get("services") if isinstance(data, dict) else None
    return {name for name in services if isinstance(name, str)} if isinstance(services, dict) else set()
