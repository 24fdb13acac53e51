"""`liftshift logs` and the on-call parts of `status` (issue 14, section 3).

Pure: --since, the merge, --grep, the follow's de-duplication (with a late line), Docker's timestamps, the
text of logs and of status (an unhealthy target with its reason, the lock holder). On moto: events put into
the stack's streams (`SERVICE/INSTANCE_ID` in /liftshift/STACK, as the awslogs driver writes them) and read
back through the CLI with --service/--instance/--since/--grep/-o json, across pages and stream batches;
--follow for a bounded time with a line written while it follows (JSON Lines, nothing twice), and stopped by
SIGINT with exit 0; the calls are the README's rows; `status` names the lock holder; CloudHosts reads
describe_target_health's answer (a stubbed unhealthy one: moto says healthy always). In the local rehearsal:
a busybox stack that logs is deployed and its lines read back, labelled by service and instance.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from liftshift import report
from liftshift.cli.base import app
from liftshift.model.log_events import BadSince, LogEvent, LogQuery, Seen, merge, parse_since
from liftshift.pipeline import logs as pipeline_logs
from liftshift.targets.local.standin_logs import _epoch_ms, _parse

ROOT = Path(__file__).resolve().parent.parent
NOW = 1_764_500_000_000  # 2025-11-30T10:53:20Z in ms


def event(ts: int, service: str = "web", instance: str = "i-1", message: str = "x", key: str | None = None):
    return LogEvent(ts, service, instance, message, key or f"{service}/{instance}@{ts}@{message}")


# --------------------------------------------------------------------------- pure


@pytest.mark.parametrize("text,expected", [
    ("10m", NOW - 600_000), ("90s", NOW - 90_000), ("2h", NOW - 7_200_000), ("1d", NOW - 86_400_000),
    ("2025-11-30T10:00:00Z", NOW - 3_200_000), ("2025-11-30T10:00:00", NOW - 3_200_000),
    ("2025-11-30T11:00:00+01:00", NOW - 3_200_000),
])
def test_since_takes_durations_and_iso_times(text, expected):
    assert parse_since(text, NOW) == expected


@pytest.mark.parametrize("text", ["10 minutes", "-5m", "yesterday", "2025-13-01", ""])
def test_a_bad_since_is_bad_input_naming_the_option(text):
    with pytest.raises(BadSince) as caught:
        parse_since(text, NOW)
    assert caught.value.exit_code == 2 and "--since" in str(caught.value)


def test_merge_orders_by_time_across_streams_and_is_stable():
    events = [event(3, "web", "i-2", "c"), event(1, "web", "i-1", "a"), event(2, "worker", "i-3", "b"),
              event(3, "web", "i-1", "c1"), event(3, "web", "i-1", "c2")]
    assert [e.message for e in merge(events)] == ["a", "b", "c1", "c2", "c"]


def test_a_query_keeps_its_service_instance_time_and_plain_substring():
    query = LogQuery("s", service="web", instance="i-1", start_ms=10, grep="a.b")
    assert query.keeps(event(10, message="xa.by"))
    assert not query.keeps(event(10, message="axb"))  # a plain substring, not a pattern
    assert not query.keeps(event(10, message="A.B"))  # case-sensitive
    assert not query.keeps(event(9, message="a.b"))
    assert not query.keeps(event(10, instance="i-2", message="a.b"))
    assert query.wants_stream("web/i-1") and not query.wants_stream("worker/i-1")


def test_seen_shows_each_line_once_and_a_late_line_within_the_window():
    seen = Seen(window_ms=1000)
    assert [e.message for e in seen.fresh([event(5000, message="a"), event(6000, message="b")])] == ["a", "b"]
    assert seen.next_start(0) == 5000
    # the next poll reads from 5000 again: a and b come back, and c, logged at 5500 but ingested late
    again = seen.fresh([event(5000, message="a"), event(5500, message="c"), event(6000, message="b")])
    assert [e.message for e in again] == ["c"]
    # two equal lines are two lines (different keys)
    assert len(seen.fresh([event(7000, message="d", key="k1"), event(7000, message="d", key="k2")])) == 2


def test_follow_polls_shows_new_lines_once_and_stops_on_ctrl_c():
    reads = [[event(1000, message="a")], [event(1000, message="a"), event(1500, message="b")], KeyboardInterrupt]
    asked: list[LogQuery] = []

    class Hosts:
        def log_events(self, aws, query):
            asked.append(query)
            answer = reads.pop(0)
            if answer is KeyboardInterrupt:
                raise KeyboardInterrupt
            return answer

    class Aws:
        def account_id(self):
            return "1"

    class Target:
        hosts, aws = Hosts(), Aws()

    shown: list[str] = []
    slept: list[float] = []
    count = pipeline_logs.follow(Target(), LogQuery("s", start_ms=0), lambda e: shown.append(e.message),
                                 sleep=slept.append)
    assert shown == ["a", "b"] and count == 2
    assert slept == [2.0, 2.0]
    assert [q.start_ms for q in asked] == [0, 0, 0]  # 30 s window back from the newest line, never before start


def test_docker_timestamps_become_milliseconds_and_lines_keep_their_labels():
    assert _epoch_ms("2025-11-30T10:53:20.123456789Z") == NOW + 123
    assert _epoch_ms("2025-11-30T10:53:20Z") == NOW
    assert _epoch_ms("garbage") is None
    text = ("2025-11-30T10:53:20.100000000Z hello world\r\n"
            "2025-11-30T10:53:20.100000000Z hello world\n"
            "2025-11-30T10:53:19.000000000Z too early\n")
    events = _parse(text, "abc", "web", "i-9", LogQuery("s", start_ms=NOW))
    assert [(e.timestamp, e.service, e.instance, e.message) for e in events] == [
        (NOW + 100, "web", "i-9", "hello world"), (NOW + 100, "web", "i-9", "hello world")]
    assert len({e.key for e in events}) == 2


def test_logs_text_and_json_shape():
    data = {"stack": "s", "service": "web", "instance": None, "grep": "err", "events": []}
    assert report.logs_text(data) == "No log lines for stack s in that time (--service web --grep err)."
    data["events"] = [event(NOW, message="boom").to_json()]
    assert report.logs_text(data) == "2025-11-30T10:53:20.000Z web/i-1  boom"
    assert data["events"][0] == {"time": "2025-11-30T10:53:20.000Z", "timestamp": NOW, "service": "web",
                                 "instance": "i-1", "message": "boom"}


def _status(lock=None, health=None) -> dict:
    lb = {"address": "http://lb:80", "name": "lb", "release": 3, "health": health}
    return {"stack": "s", "region": "eu-west-1", "target": "aws", "lock": lock, "services": {"web": {
        "declared": True, "internal": False, "count": 2, "image": "sha256:1", "load_balancer": lb,
        "extra_ports": [], "instances": [], "data": []}}}


def test_status_text_shows_unhealthy_targets_with_the_load_balancers_reason():
    health = {"healthy": 1, "total": 3, "states": {"healthy": 1, "unhealthy": 1, "initial": 1}, "targets": [
        {"id": "i-1", "state": "healthy", "reason": None, "description": None},
        {"id": "i-2", "state": "unhealthy", "reason": "Target.ResponseCodeMismatch",
         "description": "Health checks failed with these codes: [500]"},
        {"id": "i-3", "state": "initial", "reason": "Elb.RegistrationInProgress", "description": None}]}
    lines = report.status_text(_status(health=health)).splitlines()
    assert "    load balancer http://lb:80: release #3 serving" in lines
    assert "      targets healthy 1/3 (initial 1, unhealthy 1)" in lines
    assert ("        i-2 unhealthy (Target.ResponseCodeMismatch: Health checks failed with these codes: [500])"
            in lines)
    assert "        i-3 initial (Elb.RegistrationInProgress)" in lines
    assert not any("i-1" in line for line in lines)


def test_status_text_shows_a_deploy_in_progress_and_a_lock_left_behind():
    lock = {"owner": "ci@runner pid 7", "operation": "deploy", "since": "2026-11-30T15:00:00Z",
            "expires_at": 1, "expired": False}
    text = report.status_text(_status(lock=lock))
    assert "  In progress: deploy by ci@runner pid 7 since 2026-11-30T15:00:00Z (holds the stack's lock)" in text
    text = report.status_text(_status(lock={**lock, "expired": True}))
    assert "Lock left by ci@runner pid 7 (deploy since 2026-11-30T15:00:00Z, expired" in text
    assert "In progress" not in report.status_text(_status())


def test_cloud_hosts_read_the_serving_groups_target_health_as_aws_answers_it():
    """moto says healthy always: AWS's answer for an unhealthy target is stubbed (botocore's Stubber checks it
    against the API's shape)."""
    import boto3
    from botocore.stub import Stubber

    from liftshift.targets.base import CloudHosts

    client = boto3.client("elbv2", region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b")
    arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/s-web-abc/0123456789abcdef"
    with Stubber(client) as stub:
        stub.add_response("describe_target_health", {"TargetHealthDescriptions": [
            {"Target": {"Id": "i-2", "Port": 8080}, "TargetHealth": {
                "State": "unhealthy", "Reason": "Target.Timeout", "Description": "Request timed out"}},
            {"Target": {"Id": "i-1", "Port": 8080}, "TargetHealth": {"State": "healthy"}}]},
            {"TargetGroupArn": arn})

        class Aws:
            def client(self, name):
                assert name == "elbv2"
                return client

        found = CloudHosts().target_health(Aws(), "s", "web", arn)
    assert found == [{"id": "i-1", "state": "healthy", "reason": None, "description": None},
                     {"id": "i-2", "state": "unhealthy", "reason": "Target.Timeout",
                      "description": "Request timed out"}]


# --------------------------------------------------------------------------- on moto


def _app(tmp_path: Path, stack: str) -> Path:
    app_yaml = tmp_path / "app.yaml"
    app_yaml.write_text(f"version: 1\nname: {stack}\nservices:\n"
                        "  web: {image: 'busybox:1.36', port: 8080}\n"
                        "  worker: {image: 'busybox:1.36', port: 9000}\n")
    return app_yaml


def _logs_client():
    import boto3
    from botocore.config import Config

    return boto3.client("logs", config=Config(retries={"total_max_attempts": 1}))


def _put(client, stack: str, stream: str, events: list[tuple[int, str]]) -> None:
    group = f"/liftshift/{stack}"
    try:
        client.create_log_group(logGroupName=group)
    except client.exceptions.ResourceAlreadyExistsException:
        pass
    try:
        client.create_log_stream(logGroupName=group, logStreamName=stream)
    except client.exceptions.ResourceAlreadyExistsException:
        pass
    client.put_log_events(logGroupName=group, logStreamName=stream,
                          logEvents=[{"timestamp": t, "message": m} for t, m in sorted(events)])


@pytest.fixture
def written(aws_env, tmp_path, unique):
    """A stack's log group with three streams written as the awslogs driver names them; removed afterwards."""
    client = _logs_client()
    now = int(time.time() * 1000)
    minute = 60_000
    _put(client, unique, "web/i-1", [(now - 50 * minute, "web one GET /"), (now - 30 * minute, "web one ERROR boom"),
                                     (now - 180 * minute, "web one old")])
    _put(client, unique, "web/i-2", [(now - 40 * minute, "web two GET /"), (now - 20 * minute, "web two error lower")])
    _put(client, unique, "worker/i-3", [(now - 45 * minute, "worker ERROR queue"), (now - 10 * minute, "worker done")])
    yield _app(tmp_path, unique), client, now
    client.delete_log_group(logGroupName=f"/liftshift/{unique}")


def _messages(result) -> list[str]:
    assert result.exit_code == 0, (result.output, result.exception)
    return [e["message"] for e in _documented(json.loads(result.stdout))["events"]]


def _documented(document: dict, part: str | None = None) -> dict:
    """The document has the shape `liftshift schema --output-of logs` documents (`part` "event": one line of
    --follow's JSON Lines)."""
    import jsonschema

    from liftshift.output_schema import output_schema

    schema = output_schema("logs")
    jsonschema.validate(document, schema["properties"]["events"]["items"] if part == "event" else schema)
    return document


def test_logs_merges_every_stream_in_time_order_and_filters(written):
    app_yaml, _, _ = written
    run = CliRunner().invoke
    assert _messages(run(app, ["logs", str(app_yaml), "-o", "json"])) == [
        "web one GET /", "worker ERROR queue", "web two GET /", "web one ERROR boom", "web two error lower",
        "worker done"]  # the last hour by default: not the line of three hours ago
    assert _messages(run(app, ["logs", str(app_yaml), "--since", "4h", "-o", "json"]))[0] == "web one old"
    assert _messages(run(app, ["logs", str(app_yaml), "--service", "web", "-o", "json"])) == [
        "web one GET /", "web two GET /", "web one ERROR boom", "web two error lower"]
    assert _messages(run(app, ["logs", str(app_yaml), "--instance", "i-2", "-o", "json"])) == [
        "web two GET /", "web two error lower"]
    assert _messages(run(app, ["logs", str(app_yaml), "--grep", "ERROR", "-o", "json"])) == [
        "worker ERROR queue", "web one ERROR boom"]
    assert _messages(run(app, ["logs", str(app_yaml), "--since", "25m", "-o", "json"])) == [
        "web two error lower", "worker done"]
    text = run(app, ["logs", str(app_yaml), "-s", "worker"])
    assert text.exit_code == 0 and len(text.stdout.splitlines()) == 2
    assert text.stdout.splitlines()[0].endswith(" worker/i-3  worker ERROR queue")
    document = json.loads(run(app, ["logs", str(app_yaml), "-i", "i-3", "-o", "json"]).stdout)
    assert document["stack"] == app_yaml.read_text().split("name: ")[1].split()[0]
    assert document["events"][0]["service"] == "worker" and document["events"][0]["instance"] == "i-3"


def test_logs_reads_every_page_and_every_batch_of_streams(written, monkeypatch):
    from liftshift.aws import logs as aws_logs

    monkeypatch.setattr(aws_logs, "PAGE_LIMIT", 1)  # a page per event
    monkeypatch.setattr(aws_logs, "NAMES_PER_CALL", 1)  # a call per stream
    assert len(_messages(CliRunner().invoke(app, ["logs", str(written[0]), "-o", "json"]))) == 6


def test_logs_refuses_bad_input_and_says_so_when_nothing_logged(written, tmp_path):
    app_yaml = written[0]
    bad = CliRunner().invoke(app, ["logs", str(app_yaml), "--since", "soon"])
    assert bad.exit_code == 2 and "--since 'soon'" in bad.stderr
    unknown = CliRunner().invoke(app, ["logs", str(app_yaml), "--service", "db"])
    assert unknown.exit_code == 2 and "--service db" in unknown.stderr and "web, worker" in unknown.stderr
    (tmp_path / "other").mkdir()
    nothing = CliRunner().invoke(app, ["logs", str(_app(tmp_path / "other", "tnolog" + uuid.uuid4().hex[:6]))])
    assert nothing.exit_code == 0 and nothing.stdout.startswith("No log lines for stack tnolog")


def test_follow_prints_json_lines_including_lines_written_while_it_follows(written):
    app_yaml, client, now = written
    stack = f"/liftshift/{app_yaml.read_text().split('name: ')[1].split()[0]}"

    def later():
        time.sleep(1.0)
        _put(client, stack.rsplit("/", 1)[1], "web/i-1", [(int(time.time() * 1000), "web one arrived late")])

    writer = threading.Thread(target=later)
    writer.start()
    result = CliRunner().invoke(app, ["logs", str(app_yaml), "--service", "web", "--follow", "--follow-for", "4.5",
                                      "-o", "json"])
    writer.join()
    assert result.exit_code == 0, (result.output, result.exception)
    lines = [_documented(json.loads(line), "event") for line in result.stdout.splitlines()]  # JSON Lines
    assert [e["message"] for e in lines] == ["web one GET /", "web two GET /", "web one ERROR boom",
                                             "web two error lower", "web one arrived late"]


def test_follow_stops_on_ctrl_c_with_exit_0(written):
    app_yaml = written[0]
    # As a terminal's Ctrl-C reaches it: SIGINT handled, even when this test run inherited it ignored (a run
    # started in the background by a script).
    proc = subprocess.Popen([sys.executable, "-m", "liftshift.cli", "logs", str(app_yaml), "--follow"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        first = proc.stdout.readline()
        assert "web one GET /" in first
        time.sleep(2.5)  # at least one poll
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert len([first, *out.splitlines()]) == 6 and "Traceback" not in err


def test_logs_calls_are_the_readmes_logs_rows(written):
    from test_permissions import actions, readme_permissions

    from liftshift.aws.session import CallLog
    from liftshift.progress import Progress
    from liftshift.spec.load import load_spec
    from liftshift.targets.aws import aws_target

    log = CallLog()
    spec, _ = load_spec(written[0])
    target = aws_target(None, None, Progress(), log)
    pipeline_logs.logs_report(spec, target, LogQuery(spec.name, instance="i-1"))
    table = readme_permissions()
    assert actions(log) == {"logs:DescribeLogStreams", "logs:FilterLogEvents"}
    assert actions(log) <= table["logs"]


def test_status_names_the_lock_holder_and_since_when(aws_env, tmp_path, unique):
    import boto3

    from liftshift.aws import lock as locks

    app_yaml = _app(tmp_path, unique)
    client = boto3.client("dynamodb")
    held = locks.acquire(client, unique, "ci@runner pid 42", "deploy")
    try:
        data = json.loads(CliRunner().invoke(app, ["status", str(app_yaml), "-o", "json"]).stdout)
        assert data["lock"] == {"owner": "ci@runner pid 42", "operation": "deploy", "since": held.acquired_at,
                                "expires_at": held.expires_at, "expired": False}
        text = CliRunner().invoke(app, ["status", str(app_yaml)]).stdout
        assert f"In progress: deploy by ci@runner pid 42 since {held.acquired_at}" in text
    finally:
        locks.release(client, unique, held.token)
    assert json.loads(CliRunner().invoke(app, ["status", str(app_yaml), "-o", "json"]).stdout)["lock"] is None


# --------------------------------------------------------------------------- the local rehearsal


def test_logs_in_the_local_rehearsal_reads_the_stand_in_containers(local, stack_dir, unique, destroyed):
    from support.local import run_local

    dockerfile = stack_dir / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace(
        'CMD ["httpd", "-f", "-v", "-p", "8080", "-h", "/www"]',
        'CMD ["sh", "-c", "echo liftshift-logs-marker ready; (i=0; while :; do i=$((i+1)); echo tick $i; sleep 1; '
        'done) & exec httpd -f -v -p 8080 -h /www"]'))
    app_yaml = stack_dir / "app.yaml"
    destroyed.append((app_yaml, unique))
    assert run_local("deploy", str(app_yaml)).exit_code == 0
    status = json.loads(run_local("status", str(app_yaml), "-o", "json").stdout)
    instance = status["services"]["web"]["instances"][0]["id"]
    assert status["lock"] is None

    result = run_local("logs", str(app_yaml), "-o", "json")
    events = json.loads(result.stdout)["events"]
    marker = [e for e in events if "liftshift-logs-marker ready" in e["message"]]
    assert marker and marker[0]["service"] == "web" and marker[0]["instance"] == instance
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)

    grep = json.loads(run_local("logs", str(app_yaml), "--grep", "logs-marker", "--instance", instance,
                                "-o", "json").stdout)["events"]
    assert [e["message"] for e in grep] == ["liftshift-logs-marker ready"]
    assert json.loads(run_local("logs", str(app_yaml), "--instance", "i-nothere", "-o", "json").stdout)[
        "events"] == []
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    assert json.loads(run_local("logs", str(app_yaml), "--since", later, "-o", "json").stdout)["events"] == []

    started = time.time()
    followed = run_local("logs", str(app_yaml), "--follow-for", "4.5", "--since", "10m")
    assert followed.exit_code == 0
    lines = followed.stdout.splitlines()
    assert any(line.endswith(f" web/{instance}  liftshift-logs-marker ready") for line in lines)
    ticks = [int(line.rsplit("tick ", 1)[1]) for line in lines if "  tick " in line]
    assert ticks == list(range(ticks[0], ticks[-1] + 1)), ticks  # in order, each once, none lost between polls
    new = [line for line in lines if "  tick " in line and line[:19] >= time.strftime(
        "%Y-%m-%dT%H:%M:%S", time.gmtime(started + 2))]
    assert new, lines  # lines the container wrote while it was followed
    assert len(lines) == len(set(lines))


def test_status_in_the_rehearsal_shows_the_stand_in_load_balancers_view_of_its_targets(local, tmp_path, unique,
                                                                                      destroyed):
    import re
    import shutil

    from support.local import run_local
    from support.registry import free_port

    target = tmp_path / "fleet"
    shutil.copytree(ROOT / "stacks" / "fleet", target)
    app_yaml = target / "app.yaml"
    text = app_yaml.read_text().replace("name: fleet", f"name: {unique}")
    app_yaml.write_text(re.sub(r"^(\s{6})port: \d+", rf"\g<1>port: {free_port()}", text, flags=re.M))
    destroyed.append((app_yaml, unique))
    assert run_local("deploy", str(app_yaml)).exit_code == 0
    deadline = time.monotonic() + 60  # the stand-in's checks run every few seconds; a busy machine can fail one
    while True:
        data = json.loads(run_local("status", str(app_yaml), "-o", "json").stdout)
        web = data["services"]["web"]
        health = web["load_balancer"]["health"]
        if health["healthy"] == 2 or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert health["healthy"] == health["total"] == 2 and health["states"] == {"healthy": 2}, health
    assert sorted(t["id"] for t in health["targets"]) == sorted(i["id"] for i in web["instances"])
    assert data["lock"] is None
    text = run_local("status", str(app_yaml)).stdout.splitlines()
    assert any(line.startswith("      targets healthy ") and line.endswith("/2") for line in text), text


def test_status_counts_the_serving_groups_targets_by_state():
    from liftshift.pipeline.status import _target_health

    asked = []

    class Hosts:
        def target_health(self, aws, stack, service, target_group):
            asked.append((stack, service, target_group))
            return [{"id": "i-1", "state": "healthy", "reason": None, "description": None},
                    {"id": "i-2", "state": "unhealthy", "reason": "Target.Timeout", "description": "timed out"},
                    {"id": "i-3", "state": "draining", "reason": "Target.DeregistrationInProgress",
                     "description": None}]

    class Target:
        hosts, aws = Hosts(), None

    health = _target_health(Target(), "s", "web", "arn:tg")
    assert asked == [("s", "web", "arn:tg")]
    assert health["healthy"] == 1 and health["total"] == 3
    assert health["states"] == {"healthy": 1, "unhealthy": 1, "draining": 1}
    assert _target_health(Target(), "s", "web", None) is None  # no listener yet: no serving group


def test_both_targets_hosts_answer_logs_and_target_health_with_the_protocols_parameters():
    import inspect

    from liftshift.targets.base import CloudHosts, Hosts
    from liftshift.targets.local.standin import StandInHosts

    for name in ("log_events", "target_health"):
        wanted = list(inspect.signature(getattr(Hosts, name)).parameters)
        for cls in (CloudHosts, StandInHosts):
            assert list(inspect.signature(getattr(cls, name)).parameters) == wanted, (cls, name)


def test_a_closed_pipe_ends_logs_quietly(written):
    """`liftshift logs app.yaml | head -1`: the reader is gone before the lines are written."""
    proc = subprocess.Popen([sys.executable, "-m", "liftshift.cli", "logs", str(written[0])],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    proc.stdout.close()  # no reader: the first write fails with EPIPE
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and err == "", err


def test_logs_reads_past_empty_pages_that_carry_a_token(written, monkeypatch):
    """AWS: "A returned page might only be partially full, or even empty ... If the results include a nextToken,
    there might be more log events available" (FilterLogEvents API reference). moto's pages are always full,
    so its backend is made to answer an empty first page with a token, as AWS may."""
    from moto.logs.models import LogsBackend

    original = LogsBackend.filter_log_events
    empties = []

    def empty_first(self, log_group_name, log_stream_names, start_time, end_time, limit, next_token,
                    filter_pattern, interleaved):
        if next_token is None:
            empties.append(log_group_name)
            return [], "liftshift-test-empty-page", []
        if next_token == "liftshift-test-empty-page":
            next_token = None
        return original(self, log_group_name, log_stream_names, start_time, end_time, limit, next_token,
                        filter_pattern, interleaved)

    monkeypatch.setattr(LogsBackend, "filter_log_events", empty_first)
    assert len(_messages(CliRunner().invoke(app, ["logs", str(written[0]), "-o", "json"]))) == 6
    assert empties  # the empty page was served and read past
