"""liftshift: lift and shift containerised applications onto AWS.

The map (data flows down; nothing reaches back up). ARCHITECTURE.md walks through a deploy with it.

    cli/          one module per command, loaded only when used (commands.py: the table `--help` lists);
      |           options.py declares the shared options once, base.py turns any LiftshiftError into its exit
      |           code; report.py (top level) is what commands print
    pipeline/     deploy (prepare -> push images -> replan with digests -> roll out -> report), prepare,
      |           status, destroy, history, rollback (orchestration only), lock (stack_lock), describe
      |           (steps and plans as data for -o json), verify (the migration's checks, read only), cutover
      |           (a DNS move under the stack lock), runbook, doctor (pre-flight checks, read only), logs (the app's
      |           lines merged by time, --follow), bounded (builds and pulls on at most --parallel threads,
      |           stopping at the first failure)
    checks/       pre-flight checks shared by doctor and runbook --check (aws, machine, local), the
      |           deployer's IAM actions by kind of stack (permissions) and doctor --policy's document
      |
    spec/         app.yaml -> validated AppSpec: load (located errors), model, settings and runtime (pydantic;
      |           runtime: ports, depends_on, aliases, secret_files, data, dns),
      |           grammar (names, image, secret and peer references: one definition each), limits (AWS
      |           limits known before any call), checks (warnings; --strict refuses), yamlsource (YAML 1.2,
      |           lines of keys), schema (app.yaml's JSON Schema from the models: `liftshift schema`)
    model/        pure data: names (every resource name and tag, the DynamoDB table), registry (where images
      |           go: its host and repository URIs), desired (what the
      |           stack should have), policies (the instance roles' IAM documents), launch_template (its
      |           data, the AMI, the user-data context and EC2's 16 KB limit), observed (what it has),
      |           refs (values a planned call saves), steps (Step, Action, Kind; instructions Call, Wait,
      |           PushImage, GateCall), releases (the release record), user_data (the template, every
      |           value shell-quoted; templating: the Jinja2 environment and its sh filter, compiled templates cached), secret_files (secrets delivered as files, as user_data takes them),
      |           data_volumes (services.X.data with their device names), cutover (Route 53 record sets, the
      |           original record and the moves a cutover keeps), log_events (`logs`: the query, --since, the
      |           merge, --follow's de-duplication)
    plan/         desired vs observed -> ordered Steps, pure: stack (a deploy's plan), phases (prepare ->
      |           gates -> finishes, undo), images, roles, groups, instances, in_place, fleet (blue-green
      |           behind a load balancer), records (release-record writes), data (data volumes: made once,
      |           attached, deleted only by destroy --delete-data), rollback, destroy, cutover (weighted
      |           records old / liftshift-STACK: --to N%, --complete, --back)
      |
    apply/        the only code that changes things: executor (runs instructions, dispatching by type;
      |           independent steps side by side on up to --parallel worker threads), dependencies (pure:
      |           which earlier steps each step waits for), stopping (a failed or interrupted run stops its
      |           other steps; gates wait with `pause`), gate (AwsGate: health gates read from AWS), images
      |           (build and push, docker SDK; one client per thread)
    aws/          session (the one place boto3 clients are made), observe (what the stack has, by tag; its
      |           kinds read side by side: side_by_side, for reads only),
      |           network (subnets, zones, AMIs), listeners, ecr_auth, ownership (never adopt another
      |           stack's resource), lock and release_store (DynamoDB), route53 (a cutover's reads), logs
      |           (CloudWatch Logs reads for `liftshift logs`)
    targets/      base (Target, and the Gate and Hosts interfaces the pipeline calls), aws (real or
                  emulated AWS), local/ (the rehearsal: emulator, registry, stand-in hosts running the
                  user-data, emulated_reads (what EC2 would read for them), standin_files (their secret-file directories, more ports), data_volumes
                  (the Docker volumes standing in for EBS data volumes), gate, the load-balancer stand-in
                  lbproxy*, standin_logs (`logs` from the stand-in app containers)

    migrate/      moving an app in: compose_load (a compose file with lines, interpolation, .env, env_file,
                  extends, profiles) -> compose_map (pure: app.yaml data and warnings) -> appyaml_write
                  (app.yaml with decision comments); `liftshift import compose` (cli/import_compose.py)
                  init_scan/init_python/init_kinds (pure: an app directory's kind, port, start command,
                  health path, data) -> init_app (app.yaml, Dockerfile, .dockerignore planned, checked, written);
                  `liftshift init` (cli/init.py)
    runbook/      the migration runbook: migration (migration.yaml waves, ordered), inventory and document
                  (pure: the runbook as data from the specs and plans), cutover (its procedures), checks
                  (--check, live through aws/session), markdown and render (templates/runbook.md.j2, or a
                  team's own); pipeline/runbook plans each stack as `plan` does; `liftshift runbook`

    errors        LiftshiftError and its kinds, each carrying its exit code (1 failed, 2 bad input,
                  3 unhealthy, 4 locked); each class lives where it is raised
    progress      what long work prints on stderr: plain lines with times (CI, NO_COLOR), only warnings
                  (--output json, --quiet); progress_live: the terminal's live lines, one per running step (rich,
                  loaded only there); safe from several threads (working_on: a worker's step)
    output_schema the JSON Schemas of the commands' -o json documents (`liftshift schema --output-of`)
    http_probe    the one HTTP/TCP probe (gates, the load-balancer stand-in, stand-in readiness)
    origin        who, when and which git commit a release came from (runs git)
"""

__version__ = "0.1.0"
