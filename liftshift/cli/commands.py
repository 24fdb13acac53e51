"""The root command's commands, each loaded only when it is used.

`liftshift --help` lists every command from the table below (name, module, one-line help) without importing a
command's module: the module, and typer's work on the command's signature, happen only when that command runs,
or its help is shown or its options are completed. tests/test_cli.py checks the table against the commands
themselves (their order, and each one-line help against the command's docstring).
"""

from __future__ import annotations

import importlib
from collections.abc import MutableMapping
from typing import Any, Iterator, NamedTuple

from typer.core import TyperGroup

from .failure import JsonAwareGroup


class Entry(NamedTuple):
    module: str  # liftshift.cli.<module>
    attribute: str  # a command function, or a typer sub-app (a group of commands)
    help: str  # the root --help's line: the first paragraph of the command's docstring (or the sub-app's help)


COMMANDS: dict[str, Entry] = {  # in the order `liftshift --help` lists them
    "init": Entry("init", "init", "Look at an app directory and write its app.yaml, and a Dockerfile when it has "
                                  "none; say what was guessed."),
    "validate": Entry("validate", "validate", "Check app.yaml (with --env, merged with its environment's overlay); "
                                              "prints nothing on success."),
    "build": Entry("build", "build", "Build the images (and push them with --push) without provisioning; prints "
                                     "each image and digest."),
    "plan": Entry("plan", "plan", "Show what deploy would create, change or delete. Builds images locally; changes "
                                  "nothing in AWS."),
    "deploy": Entry("deploy", "deploy", "Build, push and run the stack; waits until every instance is running."),
    "status": Entry("status", "status", "Services, image digests, instances, states and addresses."),
    "logs": Entry("logs", "logs", "The app's log lines (CloudWatch Logs; the local rehearsal: its containers), "
                                  "merged by time."),
    "render": Entry("render", "render", "Print the user-data and launch template data deploy would use."),
    "destroy": Entry("destroy", "destroy", "Remove everything the stack owns in AWS (found by its tags); data "
                                           "volumes only with --delete-data."),
    "history": Entry("releases", "history", "The releases of each service, newest first: number, image, who, when, "
                                            "commit, outcome."),
    "rollback": Entry("releases", "rollback", "Put an earlier release back, through the same health-gated rollout "
                                              "as deploy."),
    "unlock": Entry("unlock", "unlock", "Clear the stack's deploy lock (left by a killed deploy; it also expires by "
                                        "itself)."),
    "verify": Entry("verify", "verify", "Check health (through the load balancer, else each instance), internal "
                                        "services and data volumes; exit 3 on a failure."),
    "cutover": Entry("cutover", "cutover", "Move services.X.dns.name to the stack (--to N%, --complete) or back "
                                           "(--back); without a move, show the records."),
    "runbook": Entry("runbook", "runbook", "Write a migration runbook: inventory, checklist, rehearsal, resources, "
                                           "cutover, validation, rollback."),
    "doctor": Entry("doctor", "doctor", "Check the machine, credentials, permissions, quotas and network a deploy "
                                        "needs; exit 2 if something blocks."),
    # reads no stack: after the stack commands
    "schema": Entry("schema", "schema", "Print the JSON Schema of app.yaml (or of a command's -o json output)."),
    "local": Entry("local", "local_app", "The local rehearsal's background services."),
    "import": Entry("import_compose", "import_app", "Write an app.yaml from another tool's description of the app."),
}


def load_command(name: str) -> Any:
    """The click command `name`, as typer makes it from the command's function (guarded: failures become exit
    codes, cli/base.py) or, for a sub-app (`local`, `import`), the group of its commands."""
    import typer
    import typer.main

    entry = COMMANDS[name]
    found = getattr(importlib.import_module(f"{__package__}.{entry.module}"), entry.attribute)
    if isinstance(found, typer.Typer):
        group = typer.main.get_group(found)
        group.name = name
        return group
    from .base import guarded_command

    single = typer.Typer(add_completion=False, rich_markup_mode=None)
    single.command(name=name)(guarded_command(found))
    return typer.main.get_command(single)


class LazyCommands(MutableMapping):
    """The root group's `commands`: every name of the table, each command made on first access."""

    def __init__(self) -> None:
        self._made: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._made:
            if name not in COMMANDS:
                raise KeyError(name)
            self._made[name] = load_command(name)
        return self._made[name]

    def __setitem__(self, name: str, command: Any) -> None:  # click's add_command
        self._made[name] = command

    def __delitem__(self, name: str) -> None:
        raise TypeError("liftshift's commands are not removed")

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self._made if name not in COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS) + sum(name not in COMMANDS for name in self._made)


class SparesAbsentOptions(TyperGroup):
    """A group whose own options (--help; the root's --version and completion) are each given a coercion that
    needs no pydantic for an option not given. typer 0.29 coerces every value through a pydantic TypeAdapter
    that it builds on the parameter's first use, even for an absent option's None (typer/core.py,
    `_TyperParameter.process_value`), and a group's options are processed on every run through it: that alone
    imported pydantic (~0.1 s) into `liftshift deploy --help` and each Tab press. Where typer differs, nothing
    is changed (tests/test_startup.py would tell)."""

    def get_params(self, ctx: Any) -> list:
        params = super().get_params(ctx)
        for param in params:
            if getattr(param, "_runtime_param", False) is None:
                param._runtime_param = _AbsentNeedsNoAdapter()
        return params


class RootGroup(SparesAbsentOptions, JsonAwareGroup):
    """`liftshift`: its commands come from the table (LazyCommands); usage errors as JSON (cli/failure.py)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        registered, self.commands = self.commands, LazyCommands()
        for name, command in registered.items():
            self.commands[name] = command

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The Commands section of --help from the table: no command is loaded to show it."""
        rows = [(name, entry.help) for name, entry in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def shell_complete(self, ctx: Any, incomplete: str) -> list:
        """Command names with their help from the table (a Tab press loads no command); then the root's options."""
        from typer._click.shell_completion import CompletionItem

        names = [CompletionItem(name, help=entry.help) for name, entry in COMMANDS.items()
                 if name.startswith(incomplete)]
        return names + super(TyperGroup, self).shell_complete(ctx, incomplete)


class _AbsentNeedsNoAdapter:
    """A root option's coercion until it is given a value: None stays None, as in typer's own RuntimeParam.coerce;
    a value makes typer build its real coercion (the pydantic adapter) and use it from then on."""

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        if value is None:
            return () if param.multiple or param.nargs == -1 else None
        param._runtime_param = None
        return param.get_runtime_param().coerce(value, param=param, ctx=ctx)
