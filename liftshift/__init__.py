"""liftshift: lift and shift containerised applications onto AWS.

The map (data flows down; no package reaches back up):

    cli/            parses options, calls one pipeline function, prints its result; exit codes
      |
    pipeline/       deploy: prepare (read everything, plan) -> apply -> report; status, destroy;
      |             rollback: history and putting an earlier release out again (same prepare/gate/finish)
      |
    spec/           app.yaml -> validated AppSpec (model, pydantic); yamlsource: YAML 1.2 scalars, lines of
      |             keys; check_limits: AWS limits known before any call; checks: warnings (--strict refuses)
    model/          pure data: names (every resource name and tag), desired (roles, groups, templates),
      |             user_data (the template, every value shell-quoted), steps (Calls and Steps), releases
    plan/           desired vs observed -> ordered Steps: stack (images, infrastructure, instances, destroy),
      |             fleet (blue-green behind a load balancer), in_place (SSM updates). Pure; printed by `plan`
      |
    apply/          the only code that changes things: executor (runs planned calls), gate (AWS health
      |             gates), images (build and push with the docker SDK)
    aws/            session (the one place boto3 clients are made), observe (what the stack has, read
      |             only), ownership (never adopt another stack's resource), lock (DynamoDB)
    progress        what long work prints (terminal, CI log, nothing with --output json)
    targets/        the wiring of clients: aws (real or emulated AWS) and local/ (the rehearsal: emulator,
                    registry, stand-in hosts running the user-data, the load-balancer stand-in lbproxy)
"""

__version__ = "0.1.0"
