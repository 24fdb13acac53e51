"""liftshift: lift and shift containerised applications onto AWS.

The map (data flows down; no module reaches back up). Issue 11 will group these into subpackages.

    cli             parses options, calls one pipeline function, prints its result; exit codes
      |
    pipeline        prepare (read everything, plan) -> deploy (apply, report); status, destroy
      |             rollback: history and putting an earlier release out again (same prepare/gate/finish)
      |
    spec            app.yaml -> validated AppSpec (pydantic); yamlsource: YAML 1.2 scalars, lines of keys;
      |             check_limits: AWS limits known before any call. names: every resource name and tag
      |
    images          build locally, push to the registry (docker SDK)
    observe         what the stack has in AWS, by tags (read only); the network and zones it may use
    ownership       refuses to adopt a resource of the same name that another stack owns (read only)
    resources       desired resources (pure data): roles and policies, groups, launch templates, user-data
    render          the user-data template (templates/user-data.sh.j2), every value shell-quoted
      |
    plan, plan_fleet, plan_in_place
                    desired vs observed -> ordered Steps of Calls (steps.py): pure data, printed by `plan`
    checks          warnings about risky but valid settings (--strict refuses them)
      |
    apply           the executor: the only code that runs planned calls (AWS, the image pusher, gates)
    gate            rollout health gates on AWS; targets/local_gate the same questions locally
    lock            one deploy/rollback/destroy of a stack at a time (DynamoDB), kept alive while it runs
    releases        release records (DynamoDB), read for history and rollback
    progress        what long work prints (terminal, CI log, nothing with --output json)
      |
    aws             the one place boto3 sessions and clients are made
    targets/        the wiring of clients: aws (real or emulated AWS) and local (the rehearsal: emulator,
                    registry, stand-in hosts running the user-data, the load-balancer stand-in lbproxy)
"""

__version__ = "0.1.0"
