"""`liftshift runbook`: a migration runbook written from app.yaml and the plan (issue 13, section 2).

    migration.py  migration.yaml: stacks in waves with dependencies, validated with located errors; the order
    inventory.py  what a stack holds, from its spec: services, images, ports, env names, secret references, data
    document.py   the runbook as data: inventory, checklist, rehearsal, resources, cutover, validation, rollback,
                  warranty, decommissioning (pure: tests build it from plain values)
    (`--check` runs the pre-flight checks of liftshift/checks/, shared with `liftshift doctor`)
    markdown.py   the template's filters (`md`, `code`, `mark`): Markdown's escaping, not the shell's
    render.py     the Jinja2 rendering of templates/runbook.md.j2, or a team's own (--template)

pipeline/runbook.py loads the inputs, prepares each stack's plan (pipeline/prepare.py, as `plan` does) and
runs the checks; cli/runbook.py is the command.
"""
