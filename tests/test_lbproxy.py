"""The local ALB data plane (liftshift.targets.local.lbproxy): real moto, real Docker labels, real HTTP.

The apps behind the load balancer are small stdlib HTTP servers in this process;
each "instance" is a fake instance id whose stand-in host is a created (never
started) busybox container carrying the labels the proxy reads.
"""
from __future__ import annotations

import email.message
import http.client
import http.server
import os
import socket
import threading
import time
import uuid

import pytest

from liftshift.aws.listeners import forward_target
from liftshift.targets.local import lbproxy as lbproxy
from liftshift.targets.local.lbproxy_routing import code_matches, parse_rule
from liftshift.targets.local.services import LocalSetupError
from support.registry import free_port

REGION = "eu-west-1"  # what aws_env sets
RELEASE = "X-Liftshift-Release"


class App:
    """An app on a free port: `body` on / (and on /slow after `slow` seconds), `health` status on /healthz."""

    def __init__(self, body: str):
        self.body, self.health, self.slow, self.hits = body, 200, 3.0, 0
        app = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/healthz":
                    code, text = app.health, b"ok"
                elif self.path == "/headers":  # the names of the header fields that reached the app
                    code, text = 200, " ".join(sorted(self.headers.keys())).encode()
                else:
                    app.hits += 1
                    if self.path == "/slow":
                        time.sleep(app.slow)
                    code, text = 200, app.body.encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def do_POST(self):  # echoes what the proxy forwarded
                body = self.rfile.read(int(self.headers["Content-Length"]))
                text = " ".join([app.body, self.command, self.path, body.decode(), self.headers["X-Forwarded-For"],
                                 self.headers["X-Forwarded-Port"], self.headers["X-Forwarded-Proto"],
                                 self.headers["X-Custom"], str(self.headers["Proxy-Connection"])]).encode()
                self.send_response(201)
                self.send_header("Content-Length", str(len(text)))
                self.send_header("Set-Cookie", "a=1")
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.id = "i-" + uuid.uuid4().hex[:17]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()
        self.stopped = False

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.server.shutdown()
            self.server.server_close()


class Load:
    """Requests in a loop from a thread; every failure (not 200, or an error) is kept."""

    def __init__(self, port: int):
        self.port, self.bodies, self.failures = port, [], []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                status, body = get(self.port)
                (self.bodies if status == 200 else self.failures).append(body if status == 200 else (status, body))
            except OSError as exc:
                self.failures.append(repr(exc))
            time.sleep(0.01)

    def stop(self) -> None:
        self.done.set()
        self.thread.join(10)


def get(port: int, path: str = "/", headers: dict | None = None) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def wait_for(predicate, what: str, timeout: float = 8.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


def health(state, group) -> dict[str, dict]:
    return {t["id"]: t for t in lbproxy.target_health(state, group)}


@pytest.fixture
def apps():
    made: list[App] = []
    yield lambda body: made.append(App(body)) or made[-1]
    for app in made:
        app.stop()


@pytest.fixture
def proxies():
    """State files of started proxies: each is stopped at teardown."""
    states: list = []
    yield states
    for state in states:
        lbproxy.stop(state)


@pytest.fixture
def elb(aws_env):
    import boto3
    from botocore.config import Config

    def client(name):
        return boto3.client(name, endpoint_url=aws_env, region_name=REGION,
                            config=Config(retries={"total_max_attempts": 1}))
    return client("ec2"), client("elbv2")


def stand_in(docker_client, busybox_image, docker_cleanup, unique, app: App) -> None:
    name = f"{unique}-{app.id}"
    docker_cleanup.append(name)
    docker_client.containers.create(busybox_image, ["true"], name=name, labels={
        "liftshift.host": app.id, "liftshift.port": str(app.port), "liftshift.host.stack": unique})


def test_proxy_follows_the_load_balancer(aws_env, elb, apps, proxies, docker_client, busybox_image,
                                         docker_cleanup, unique, tmp_path):
    ec2, elbv2 = elb
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(
        Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]]
    lb = elbv2.create_load_balancer(Name=unique, Subnets=subnets[:2], Scheme="internal",
                                    Type="application")["LoadBalancers"][0]["LoadBalancerArn"]

    def group(suffix):
        return elbv2.create_target_group(
            Name=f"{unique}-{suffix}", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="instance",
            HealthCheckPath="/healthz", HealthyThresholdCount=2, UnhealthyThresholdCount=2,
            Matcher={"HttpCode": "200"})["TargetGroups"][0]["TargetGroupArn"]

    tg_a, tg_b = group("a"), group("b")
    a1, a_bad, b1, b2 = apps("A"), apps("bad"), apps("B"), apps("B")
    a_bad.health = 500
    for app in (a1, a_bad, b1, b2):
        stand_in(docker_client, busybox_image, docker_cleanup, unique, app)
    elbv2.register_targets(TargetGroupArn=tg_a, Targets=[{"Id": a1.id}, {"Id": a_bad.id}])
    elbv2.register_targets(TargetGroupArn=tg_b, Targets=[{"Id": b1.id}, {"Id": b2.id}])
    port = free_port()
    listener = elbv2.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=port, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": tg_a}])["Listeners"][0]["ListenerArn"]
    elbv2.create_rule(ListenerArn=listener, Priority=1, Actions=[{"Type": "forward", "TargetGroupArn": tg_b}],
                      Conditions=[{"Field": "http-header",
                                   "HttpHeaderConfig": {"HttpHeaderName": RELEASE, "Values": ["2"]}}])

    state, log = tmp_path / "lb.json", tmp_path / "lb.log"
    proxies.append(state)
    pid = lbproxy.start(aws_env, REGION, lb, state, log, dict(os.environ))
    assert lbproxy.alive(pid)
    recorded = lbproxy.read_state(state)
    assert recorded["pid"] == pid and recorded["load_balancer"] == lb
    assert recorded["listeners"][str(port)]["default"] == tg_a
    assert recorded["listeners"][str(port)]["rules"] == [
        {"priority": 1, "header": RELEASE, "values": ["2"], "target_group": tg_b}]

    # Health as an ALB sees it: thresholds of 2, the failing app unhealthy for its status code.
    wait_for(lambda: {t["state"] for t in health(state, tg_b).values()} == {"healthy"}, "TG B healthy")
    wait_for(lambda: health(state, tg_a).get(a_bad.id, {}).get("state") == "unhealthy", "bad app unhealthy")
    wait_for(lambda: health(state, tg_a)[a1.id]["state"] == "healthy", "A healthy")
    bad = health(state, tg_a)[a_bad.id]
    assert bad["reason"] == "Target.ResponseCodeMismatch"
    assert "[500]" in bad["description"]

    hits = a_bad.hits
    assert [get(port) for _ in range(10)] == [(200, "A")] * 10
    assert a_bad.hits == hits  # no traffic to an unhealthy target while a healthy one exists
    assert get(port, headers={RELEASE: "2"}) == (200, "B")
    assert get(port, headers={RELEASE.lower(): "2"}) == (200, "B")
    assert get(port, headers={RELEASE: "3"}) == (200, "A")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/echo?x=1", body=b"hello", headers={"X-Custom": "kept", "Proxy-Connection": "dropped"})
    response = conn.getresponse()
    assert response.status == 201
    assert response.read().decode() == f"A POST /echo?x=1 hello 127.0.0.1 {port} http kept None"
    assert response.getheader("Set-Cookie") == "a=1"
    conn.close()

    # Switch the default to B under load, with a slow request in flight to A: nothing fails.
    slow: list = []
    slow_thread = threading.Thread(target=lambda: slow.append(get(port, "/slow")), daemon=True)
    slow_thread.start()
    wait_for(lambda: (health_state := lbproxy.read_state(state)) and
             health_state["target_groups"][tg_a]["targets"][a1.id]["in_flight"] == 1, "slow request in flight")
    load = Load(port)
    try:
        wait_for(lambda: len(load.bodies) >= 5, "requests through the proxy")
        elbv2.modify_listener(ListenerArn=listener, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_b}])
        wait_for(lambda: load.bodies[-5:] == ["B"] * 5, "the switch to B")
        # The old group is no longer referenced: its target drains, then disappears.
        wait_for(lambda: lbproxy.read_state(state)["target_groups"][tg_a]["targets"][a1.id]["state"] == "draining",
                 "A draining")
        elbv2.deregister_targets(TargetGroupArn=tg_a, Targets=[{"Id": a1.id}, {"Id": a_bad.id}])
        slow_thread.join(10)
        assert slow == [(200, "A")]
        wait_for(lambda: tg_a not in lbproxy.read_state(state)["target_groups"], "TG A forgotten")
        a1.stop()
        # A registered, healthy target dies: its requests are retried on the other one, then it is unhealthy.
        b2.stop()
        wait_for(lambda: health(state, tg_b)[b2.id]["state"] == "unhealthy", "dead B2 unhealthy")
        assert health(state, tg_b)[b2.id]["reason"] == "Target.FailedHealthChecks"
        time.sleep(0.5)
    finally:
        load.stop()
    assert load.failures == []
    assert "B" in load.bodies and set(load.bodies[load.bodies.index("B"):]) == {"B"}

    # stop() ends it and closes the listener.
    lbproxy.stop(state)
    assert not lbproxy.alive(pid) and lbproxy.read_state(state) is None
    with pytest.raises(OSError):
        get(port)

    # A new proxy fails open while B1's health is still initial, then exits when the load balancer goes.
    pid = lbproxy.start(aws_env, REGION, lb, state, log, dict(os.environ))
    assert [get(port)[1] for _ in range(4)] == ["B"] * 4
    elbv2.delete_load_balancer(LoadBalancerArn=lb)
    wait_for(lambda: not lbproxy.alive(pid), "the proxy exits with its load balancer", timeout=5)
    assert lbproxy.read_state(state) is None


def test_no_target_answers_503_and_a_deleted_listener_closes(aws_env, elb, proxies, tmp_path, unique,
                                                              request):
    ec2, elbv2 = elb
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    lb = elbv2.create_load_balancer(Name=unique, Subnets=subnets, Type="application")["LoadBalancers"][0]
    tg = elbv2.create_target_group(Name=unique, Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]
    elbv2.register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": "i-00000000000000000"}])
    port = free_port()
    listener = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=port,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])["Listeners"][0]
    busy = socket.socket()  # a second listener on a port something else holds: recorded, not fatal
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    request.addfinalizer(busy.close)
    busy_port = busy.getsockname()[1]
    elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=busy_port,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    state = tmp_path / "lb.json"
    proxies.append(state)
    lbproxy.start(aws_env, REGION, lb["LoadBalancerArn"], state, tmp_path / "lb.log", dict(os.environ))
    recorded = lbproxy.read_state(state)
    assert recorded["listeners"][str(port)]["listening"] is True
    assert recorded["listeners"][str(busy_port)]["listening"] is False
    assert f"cannot listen on 127.0.0.1:{busy_port}" in recorded["error"]
    # A registered instance with no stand-in host is unused and gets nothing.
    assert lbproxy.target_health(state, tg["TargetGroupArn"]) == [
        {"id": "i-00000000000000000", "state": "unused", "reason": "Target.InvalidState",
         "description": "No stand-in host runs this instance"}]
    status, body = get(port)
    assert status == 503 and "no target" in body
    elbv2.delete_listener(ListenerArn=listener["ListenerArn"])
    wait_for(lambda: list(lbproxy.read_state(state)["listeners"]) == [str(busy_port)], "listener gone from the state")
    with pytest.raises(OSError):
        get(port)


def test_start_reports_an_unknown_load_balancer(aws_env, tmp_path):
    arn = f"arn:aws:elasticloadbalancing:{REGION}:123456789012:loadbalancer/app/nothing/0123456789abcdef"
    with pytest.raises(LocalSetupError, match="exited with code 0") as raised:
        lbproxy.start(aws_env, REGION, arn, tmp_path / "lb.json", tmp_path / "lb.log", dict(os.environ))
    assert "no longer exists" in str(raised.value)  # the log tail says why


def test_rules_matchers_and_weighted_forwards():
    assert code_matches(200, "200") and not code_matches(500, "200")
    assert code_matches(302, "200-399") and code_matches(202, "200,202")
    assert not code_matches(404, "200-399,500")
    assert forward_target([{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": "light", "Weight": 1}, {"TargetGroupArn": "heavy", "Weight": 9}]}}]) == "heavy"
    assert forward_target([{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}]) is None
    # as DescribeListeners answers a simple forward (both forms), after an authenticate action in Order
    assert forward_target([
        {"Type": "forward", "Order": 2, "TargetGroupArn": "tg",
         "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": "tg", "Weight": 1}]}},
        {"Type": "authenticate-oidc", "Order": 1, "AuthenticateOidcConfig": {}}]) == "tg"
    rule = parse_rule({"Priority": "3", "Actions": [{"Type": "forward", "TargetGroupArn": "tg"}],
                       "Conditions": [{"Field": "http-header", "HttpHeaderConfig": {
                           "HttpHeaderName": RELEASE, "Values": ["2", "rc-*"]}}]})
    headers = email.message.Message()
    assert not rule.matches(headers)
    headers["x-liftshift-release"] = "RC-7"
    assert rule.matches(headers) and rule.target_group == "tg" and rule.priority == 3
    path_rule = parse_rule({"Priority": "4", "Actions": [], "Conditions": [
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/*"]}}]})
    assert path_rule.never_matches and not path_rule.matches(headers)


def test_invalid_header_fields_are_dropped_when_the_load_balancer_says_so(aws_env, elb, apps, proxies, docker_client,
                                                                          busybox_image, docker_cleanup, unique,
                                                                          tmp_path):
    """routing.http.drop_invalid_header_fields.enabled, as AWS defines it: names outside [-A-Za-z0-9]+ are
    removed (liftshift sets it on every load balancer it makes); without it they reach the app."""
    ec2, elbv2 = elb
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(
        Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]]
    lb = elbv2.create_load_balancer(Name=unique, Subnets=subnets[:2], Type="application")["LoadBalancers"][0][
        "LoadBalancerArn"]
    tg = elbv2.create_target_group(Name=unique, Protocol="HTTP", Port=80, VpcId=vpc, HealthCheckPath="/healthz",
                                   HealthyThresholdCount=2)["TargetGroups"][0]["TargetGroupArn"]
    app = apps("A")
    stand_in(docker_client, busybox_image, docker_cleanup, unique, app)
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": app.id}])
    port = free_port()
    elbv2.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=port,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    state = tmp_path / "lb.json"
    proxies.append(state)
    lbproxy.start(aws_env, REGION, lb, state, tmp_path / "lb.log", dict(os.environ))
    assert lbproxy.read_state(state)["drop_invalid_headers"] is False
    assert os.stat(state).st_mode & 0o077 == 0  # owner-only: rules hold pending releases' probe values
    wait_for(lambda: health(state, tg)[app.id]["state"] == "healthy", "A healthy")
    sent = {"X-Good-1": "a", "X_Under_Score": "b", "X.Dot": "c", "X~Tilde": "d"}  # all RFC 9110 tokens

    def received() -> set[str]:
        status, body = get(port, "/headers", sent)
        assert status == 200
        return {name.lower() for name in body.split()} & {name.lower() for name in sent}

    assert received() == {"x-good-1", "x_under_score", "x.dot", "x~tilde"}
    elbv2.modify_load_balancer_attributes(LoadBalancerArn=lb, Attributes=[
        {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"}])
    wait_for(lambda: lbproxy.read_state(state)["drop_invalid_headers"] is True, "the attribute followed")
    assert received() == {"x-good-1"}
