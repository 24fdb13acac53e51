"""`liftshift schema`: the JSON Schema of app.yaml (for editors and pipelines), or of a command's -o json."""

from typing import Annotated, Optional

import typer

from ..output_schema import COMMANDS  # plain data: nothing heavy


def _commands(incomplete: str) -> list[str]:
    return [c for c in COMMANDS if c.startswith(incomplete)]


OutputOf = Annotated[Optional[str], typer.Option(
    "--output-of", metavar="COMMAND", autocompletion=_commands,
    help="The schema of COMMAND's -o json document instead: " + ", ".join(COMMANDS)
         + " (error: what any command prints when it fails).")]


def schema(output_of: OutputOf = None) -> None:
    """Print the JSON Schema of app.yaml (or of a command's -o json output)."""
    import json

    if output_of is None:
        from ..spec.schema import app_schema

        typer.echo(schema_text(app_schema()), nl=False)
        return
    from ..output_schema import output_schema

    if output_of not in COMMANDS:
        raise typer.BadParameter(f"no schema for {output_of!r}; one of {', '.join(COMMANDS)}",
                                 param_hint="--output-of")
    typer.echo(json.dumps(output_schema(output_of), indent=2) + "\n", nl=False)


def schema_text(schema: dict) -> str:
    """The schema as committed in schema/app.schema.json (tests compare the two)."""
    import json

    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
