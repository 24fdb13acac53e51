"""`liftshift validate` refuses, with one message naming file, line and key, everything that would fail
later (issue 9 §4), and still accepts every legitimate tricky input with the text the user wrote.

Each hostile file is run through the real command line (typer's CliRunner): exit 2, nothing on stdout,
one `error: <file>:<line>: <key>: ...` line on stderr, never a traceback. Pure: no docker, no AWS.
"""
from __future__ import annotations

import os
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liftshift.model.desired import Registry
from liftshift.model.launch_template import USER_DATA_LIMIT
from liftshift.spec.checks import risky_mount, warnings
from liftshift.spec.errors import SpecError
from liftshift.spec.limits import check_limits
from liftshift.spec.load import load_spec
from liftshift.spec.yamlsource import MAX_FILE_BYTES
from support.appyaml import app_repo, assert_refused, assert_validate_refuses, svc, top, validate, write

CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-0000-1111-2222-333344445555"
DIGEST = "sha256:" + "a" * 64


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return app_repo(tmp_path)


def ok(*extra: str) -> str:
    """An image service (lines 5-6) followed by `extra` service lines from line 7."""
    return svc("image: nginx:1.27", "port: 8080", *extra)


def cidrs(n: int, v6: bool = False) -> str:
    return "[" + ", ".join(f'"2001:db8:{i:x}::/48"' if v6 else f"10.{i // 250}.{i % 250}.0/24"
                           for i in range(n)) + "]"


P = pytest.param

HOSTILE = [
    # --- trailing newlines and control characters in identifiers (a regex `$` matches before "\n")
    P(top("version: 1", 'name: "shop\\n"', "services:", "  web:", "    image: x", "    port: 80"), 2, "name",
      "control character", id="name-trailing-newline"),
    P(top("version: 1", "name: shop", 'region: "eu-west-1\\n"', "services:", "  web:", "    image: x", "    port: 80"),
      3, "region", "control character", id="region-trailing-newline"),
    P(top("version: 1", "name: shop", "services:", '  "web\\n":', "    image: x", "    port: 80"), 4, "services",
      "control character", id="service-name-trailing-newline"),
    P(ok("instances:", '  ami: "ami-0123456789abcdef0\\n"'), 8, "services.web.instances.ami", "control character",
      id="ami-trailing-newline"),
    P(ok("instances:", '  type: "t3.micro\\n"'), 8, "services.web.instances.type", "control character",
      id="type-trailing-newline"),
    P(ok("instances:", '  subnets: ["subnet-0123456789abcdef0\\n"]'), 8, "services.web.instances.subnets[0]",
      "control character", id="subnet-trailing-newline"),
    P(ok("instances:", '  key_name: "me\\n"'), 8, "services.web.instances.key_name", "control character",
      id="key-name-trailing-newline"),
    P(ok("instances:", "  key_name: clé"), 8, "services.web.instances.key_name", "ASCII", id="key-name-non-ascii"),
    P(ok("instances:", '  ingress: ["10.0.0.0/8\\n"]'), 8, "services.web.instances.ingress[0]", "control character",
      id="cidr-trailing-newline"),
    P(ok("load_balancer:", f'  certificate_arn: "{CERT}\\n"'), 8, "services.web.load_balancer.certificate_arn",
      "control character", id="certificate-trailing-newline"),
    P(ok("env:", '  "API\\n": x'), 8, "services.web.env", "control character", id="env-name-trailing-newline"),
    P(ok("secrets:", '  "DB\\n": ssm:/shop/db'), 8, "services.web.secrets", "control character",
      id="secret-name-trailing-newline"),
    P(ok("secrets:", '  DB: "ssm:/shop/db\\n"'), 8, "services.web.secrets.DB", "control character",
      id="secret-ref-trailing-newline"),
    P(svc('image: "nginx:1.27\\n"', "port: 80"), 5, "services.web.image", "control character",
      id="image-trailing-newline"),
    P(svc("build:", '  context: "./web\\n"', "port: 80"), 6, "services.web.build.context", "control character",
      id="context-trailing-newline"),
    P(svc("build:", "  context: ./web", '  dockerfile: "Dockerfile\\n"', "port: 80"), 7,
      "services.web.build.dockerfile", "control character", id="dockerfile-trailing-newline"),
    P(svc("build:", "  context: ./web", '  target: "prod\\n"', "port: 80"), 7, "services.web.build.target",
      "control character", id="target-trailing-newline"),
    P(svc("build:", "  context: ./web", "  target: pro d", "port: 80"), 7, "services.web.build.target",
      "stage name", id="target-space"),
    P(svc("build:", "  context: ./web", '  args: {"V\\n": 1}', "port: 80"), 7, "services.web.build.args",
      "control character", id="build-arg-name-newline"),
    P(svc("build:", "  context: ./web", '  args: {"A B": 1}', "port: 80"), 7, "services.web.build.args",
      "build argument name", id="build-arg-name-space"),
    P(svc("build:", "  context: ./web", '  args: {V: "a\\0b"}', "port: 80"), 7, "services.web.build.args.V", "NUL",
      id="build-arg-value-nul"),
    P(ok("rollout:", '  strategy: "in-place\\n"'), 8, "services.web.rollout.strategy", "control character",
      id="strategy-trailing-newline"),
    # --- env values, commands, health paths
    P(ok("env:", '  A: "a\\0b"'), 8, "services.web.env.A", "NUL", id="env-value-nul"),
    P(ok("env:", '  A: "a\\ud800b"'), 8, "services.web.env.A", "surrogate", id="env-value-surrogate"),
    P(ok('command: [sh, "-c", "echo\\0"]'), 7, "services.web.command[2]", "NUL", id="command-nul"),
    P(ok("health:", "  path: /héalth"), 8, "services.web.health.path", "non-ASCII", id="health-non-ascii"),
    P(ok("health:", '  path: "/a\\tb"'), 8, "services.web.health.path", "control character", id="health-tab"),
    P(ok("health:", '  path: "/\\n"'), 8, "services.web.health.path", "control character", id="health-newline"),
    P(ok("load_balancer:", "  health: {path: /ü}"), 8, "services.web.load_balancer.health.path", "non-ASCII",
      id="lb-health-non-ascii"),
    # --- volumes: the mapping form checked like the string form, never onto the container's /
    P(ok("volumes:", "  - {host: data, container: /data}"), 8, "services.web.volumes[0].host", "must be absolute",
      id="volume-map-relative-host"),
    P(ok("volumes:", "  - {host: /srv/a, container: data}"), 8, "services.web.volumes[0].container",
      "must be absolute", id="volume-map-relative-container"),
    P(ok("volumes:", '  - {host: "/srv/a:b", container: /data}'), 8, "services.web.volumes[0].host", "':'",
      id="volume-map-colon"),
    P(ok("volumes:", '  - {host: "/srv/a\\0", container: /data}'), 8, "services.web.volumes[0].host", "NUL",
      id="volume-map-nul"),
    P(ok("volumes:", '  - {host: /srv/a, container: "/data\\n"}'), 8, "services.web.volumes[0].container",
      "control character", id="volume-map-newline"),
    P(ok("volumes:", "  - {host: /srv/a, container: /}"), 8, "services.web.volumes[0].container", "cannot replace",
      id="volume-map-onto-root"),
    P(ok("volumes:", "  - /srv/a:/"), 7, "services.web.volumes", "cannot replace", id="volume-onto-root"),
    P(ok("volumes:", "  - /srv/a:/data/..:ro"), 7, "services.web.volumes", "cannot replace",
      id="volume-onto-root-dotdot"),
    P(ok("volumes:", "  - /srv/a:/data", "  - /srv/b:/data/"), 7, "services.web.volumes", "duplicate mount",
      id="volume-duplicate-mount-point"),
    P(ok("volumes:", "  - {host: /srv/a, container: /data, read_only: maybe}"), 8,
      "services.web.volumes[0].read_only", "boolean", id="volume-read-only-garbage"),
    # --- YAML 1.1 surprises: numbers must be written as numbers
    P(svc("image: x", "port: true"), 6, "services.web.port", "not true or false", id="port-true"),
    P(svc("image: x", "port: false"), 6, "services.web.port", "not true or false", id="port-false"),
    P(ok("publish: 22:22"), 7, "services.web.publish", "integer", id="publish-sexagesimal"),
    P(ok("publish: 0022"), 7, "services.web.publish", "leading zeros", id="publish-octal-looking"),
    P(ok('publish: "0022"'), 7, "services.web.publish", "leading zeros", id="publish-quoted-octal-looking"),
    P(ok("publish: 8_080"), 7, "services.web.publish", "integer", id="publish-underscore"),
    P(svc("image: x", "port: 80.5"), 6, "services.web.port", "fractional", id="port-fraction"),
    P(svc("image: x", "port: 1e3"), 6, "services.web.port", "YAML 1.1", id="port-exponent"),
    P(ok("publish: 0o120"), 7, "services.web.publish", "YAML 1.1", id="publish-0o-octal"),
    P(ok("instances: {disk_gb: 2E1}"), 7, "services.web.instances.disk_gb", "YAML 1.1", id="disk-exponent"),
    P(svc("image: x", "port: .inf"), 6, "services.web.port", "fractional", id="port-inf"),
    P(ok("instances:", "  count: yes"), 8, "services.web.instances.count", "integer", id="count-yes"),
    P(ok("instances:", "  count: on"), 8, "services.web.instances.count", "integer", id="count-on"),
    P(ok("rollout: {timeout: 10:00}"), 7, "services.web.rollout.timeout", "integer", id="timeout-sexagesimal"),
    P(top("version: true", "name: shop", "services:", "  web:", "    image: x", "    port: 80"), 1, "version",
      "must be 1", id="version-true"),
    P(ok("env:", "  A: 2001-12-14", "  B: !!binary 'a'"), 9, "services.web.env.B", "invalid value",
      id="env-binary-tag"),
    P(ok("env:", "  A: ok", "  B: a\x01b"), 9, "", "control character (U+0001)", id="raw-control-character-in-file"),
    P(ok("publish: " + "9" * 5000), 7, "services.web.publish", "invalid value", id="publish-5000-digits"),
    # --- image references (Docker's grammar)
    *[P(svc(f"image: '{ref}'", "port: 80"), 5, "services.web.image", "Docker image reference", id=f"image-{label}")
      for label, ref in [("upper", "Nginx"), ("empty-tag", "nginx:"), ("short-digest", "nginx@sha256:abc"),
                         ("space", "nginx:1.27 ; rm -rf /"), ("leading-dash", "-nginx"), ("double-slash", "a//b"),
                         ("tag-too-long", "nginx:" + "a" * 129), ("bad-tag-char", "nginx:1.2$"),
                         ("upper-digest", "nginx@sha256:" + "A" * 64), ("trailing-slash", "nginx/")]],
    # --- ports the instance cannot give
    P(ok("publish: 22"), 7, "services.web.publish", "SSH", id="publish-22"),
    P(svc("image: x", "port: 22"), 6, "services.web.port", "SSH", id="port-22-published-by-default"),
    P(ok("publish: 22", "load_balancer: {port: 80}"), 7, "services.web.publish", "SSH", id="publish-22-behind-lb"),
    # --- security group quotas (60 inbound rules per family)
    P(ok("instances:", f"  ingress: {cidrs(61)}"), 8, "services.web.instances.ingress", "60",
      id="ingress-61"),
    P(ok("instances:", f"  ingress: {cidrs(61, v6=True)}"), 8, "services.web.instances.ingress", "IPv6",
      id="ingress-61-ipv6"),
    P(ok("instances:", f"  ingress: {cidrs(30)}", f"  ssh_ingress: {cidrs(31)}"), 9,
      "services.web.instances.ssh_ingress", "60", id="ingress-and-ssh-61"),
    P(ok("load_balancer: {port: 80}", "instances:", f"  ssh_ingress: {cidrs(60)}"), 9,
      "services.web.instances.ssh_ingress", "instances' security group", id="lb-ssh-60-plus-lb-rule"),
    P(ok("load_balancer: {port: 80}", "instances:", f"  ingress: {cidrs(61)}"), 9,
      "services.web.instances.ingress", "load balancer's security group", id="lb-ingress-61"),
    # --- certificates
    P(top("version: 1", "name: shop", "region: us-east-1", "services:", "  web:", "    image: x", "    port: 80",
          "    load_balancer:", f"      certificate_arn: {CERT}"), 9, "services.web.load_balancer.certificate_arn",
      "eu-west-1", id="certificate-other-region"),
    P(ok("load_balancer:", "  certificate_arn: arn:aws:acm:cn-north-1:123456789012:certificate/abc"), 8,
      "services.web.load_balancer.certificate_arn", "partition", id="certificate-wrong-partition"),
    P(ok("load_balancer:", "  certificate_arn: arn:aws:acm:eu-west-1:12345:certificate/abc"), 8,
      "services.web.load_balancer.certificate_arn", "ACM certificate ARN", id="certificate-short-account"),
    # --- SSM parameter and Secrets Manager names AWS refuses
    *[P(ok("secrets:", f"  DB: '{ref}'"), 8, "services.web.secrets.DB", words, id=f"secret-{label}")
      for label, ref, words in [
          ("ssm-aws-prefix", "ssm:awsParameter", "reserved"), ("ssm-ssm-prefix", "ssm:SSM-param", "reserved"),
          ("ssm-aws-below-slash", "ssm:/aws/service/x", "reserved"), ("ssm-Ssm-below-slash", "ssm:/Ssm/x", "reserved"),
          ("ssm-not-qualified", "ssm:shop/db", "fully qualified"), ("ssm-empty-level", "ssm:/shop//db", "empty level"),
          ("ssm-trailing-slash", "ssm:/shop/", "empty level"), ("ssm-space", "ssm:/shop/db password", "parameter name"),
          ("ssm-star", "ssm:/shop/*", "parameter name"), ("ssm-empty", "ssm:", "parameter name"),
          ("ssm-16-levels", "ssm:/" + "/".join("l" * 16), "15"), ("ssm-too-long", "ssm:/" + "p" * 1011, "1011"),
          ("sm-space", "secretsmanager:shop api", "secretsmanager:secret-name"),
          ("sm-too-long", "secretsmanager:" + "s" * 513, "secretsmanager:secret-name"),
          ("unknown-kind", "vault:shop/db", "ssm:/parameter/name")]],
    P(ok("secrets:", "  DB: 'ssm:/" + "p" * 970 + "'"), 8, "services.web.secrets.DB", "ARN",
      id="secret-ssm-arn-too-long"),
    P(ok("secrets:", *[f"  S{i}: ssm:/{'p' * 900}{i}" for i in range(6)]), 7, "services.web.secrets", "10240",
      id="role-policy-too-large"),
    # --- user-data over EC2's 16 KB, known before any build
    P(ok("env:", "  A: " + "x" * USER_DATA_LIMIT), 7, "services.web.env", str(USER_DATA_LIMIT),
      id="user-data-too-large"),
    P(ok("command: [" + ", ".join(["x" * 1000] * 12) + "]"), 7, "services.web.command", str(USER_DATA_LIMIT),
      id="user-data-too-large-command"),
]


@pytest.mark.parametrize("content,line,dotted,words", HOSTILE)
def test_hostile_file_exits_2_naming_line_and_key(repo, content, line, dotted, words):
    assert_validate_refuses(write(repo, content), line, dotted, words)


def test_hostile_table_is_large():
    assert len(HOSTILE) >= 80


# --------------------------------------------------------------------------- files that are not files


def test_fifo_is_refused_without_waiting(tmp_path):
    fifo = tmp_path / "app.yaml"
    os.mkfifo(fifo)
    assert_refused(fifo, "FIFO")


def test_dev_zero_and_a_link_to_it_are_refused(tmp_path):
    assert_refused(Path("/dev/zero"), "character device")
    link = tmp_path / "app.yaml"
    link.symlink_to("/dev/zero")
    assert_refused(link, "character device")


def test_directory_is_refused(tmp_path):
    assert_refused(tmp_path, "directory")


def test_huge_sparse_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "app.yaml"
    with open(path, "wb") as f:
        f.truncate(64 * 1024 * 1024 * 1024)  # 64 GiB of holes: reading it would take minutes and all memory
    assert_refused(path, f"the limit is {MAX_FILE_BYTES}")


# --------------------------------------------------------------------------- legitimate tricky inputs

LEGIT_ENV = {
    "NO_": ("NO", "NO"), "YES": ("yes", "yes"), "ON": ("on", "on"), "OFF": ("Off", "Off"), "Y": ("y", "y"),
    "TIME": ("12:30", "12:30"), "VERSION": ("1.10", "1.10"), "QUOTED": ('"0022"', "0022"), "OCT": ("0022", "0022"),
    "HEX": ("0x1F", "0x1F"), "EXP": ("1e3", "1e3"), "TRUE": ("True", "True"), "FALSE": ("false", "false"),
    "INT": ("4", "4"), "NEG": ("-0", "-0"), "PLUS": ("+12", "+12"), "FLOAT": ("0.50", "0.50"), "INF": (".inf", ".inf"),
    "DATE": ("2001-12-14", "2001-12-14"), "UNDER": ("1_000", "1_000"), "EQ": ("=", "="), "TILDE_TEXT": ("'~'", "~"),
    "EMPTY": ("''", ""), "TAB": ('"a\\tb"', "a\tb"), "NEWLINE": ('"line1\\nline2"', "line1\nline2"),
    "CRLF": ('"a\\r\\nb"', "a\r\nb"), "ESC": ('"\\e[31mred"', "\x1b[31mred"), "C1": ('"a\\x85b"', "a\x85b"),
    "LS": ('"a\\u2028b"', "a\u2028b"),
    "UNICODE": ("café ☕", "café ☕"), "SHELL": ("'$(rm -rf /); `x` \"q\"'", '$(rm -rf /); `x` "q"'),
}


def test_legitimate_tricky_values_keep_the_text_written(repo):
    body = ["build:", "  context: ./web", "  args: {V: 1.10, F: no, T: 12:30}", "port: '8080'", "publish: 0x1F90",
            "health: {path: '/healthz?probe=1&x=%20', interval: 10.0, retries: +3}",
            "command: [sleep, 3600, 1.50, yes]", "env:"]
    body += [f"  {name}: {written}" for name, (written, _) in LEGIT_ENV.items()]
    body += ["volumes:", "  - {host: /srv/a, container: /a, read_only: true}", "  - /srv/b:/b:ro", "  - /srv/c:/c",
             "secrets:", "  DB: ssm:/shop/db-password",
             "  PLAIN: ssm:plain-name", "  DOTTED: ssm:/a.b_c-d/e", "  API: secretsmanager:shop/api+x=y@z:token",
             "instances:", f"  ingress: {cidrs(59)}", "  ssh_ingress: [203.0.113.0/24]", "  key_name: my key-pair_1"]
    path = repo / "app.yaml"
    path.write_text(svc(*body))
    result = validate(path)
    assert result.exit_code == 0 and result.output == "", result.output
    spec, _ = load_spec(path)
    web = spec.services["web"]
    assert web.env == {name: value for name, (_, value) in LEGIT_ENV.items()}
    assert web.build.args == {"V": "1.10", "F": "no", "T": "12:30"}
    assert web.command == ["sleep", "3600", "1.50", "yes"]
    assert (web.port, web.publish) == (8080, 8080)
    assert (web.health.interval, web.health.retries) == (10, 3) and isinstance(web.health.interval, int)
    assert web.health.path == "/healthz?probe=1&x=%20"
    assert [(v.host, v.container, v.read_only) for v in web.volumes] == [
        ("/srv/a", "/a", True), ("/srv/b", "/b", True), ("/srv/c", "/c", False)]
    assert web.instances.key_name == "my key-pair_1"


@pytest.mark.parametrize("ref", [
    "nginx", "nginx:1.27", "library/nginx:latest", "registry.example.com:5000/team/app:v2", "localhost:5000/app",
    f"ghcr.io/org/app@{DIGEST}", f"nginx:1.27-alpine@{DIGEST}", "public.ecr.aws/docker/library/nginx:1.27-alpine",
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/web:img-abc", "a__b/c-d/e.f:Tag_1.0", "[::1]:5000/app:x",
    "Registry.Example.com/app",
])
def test_legitimate_image_references(repo, ref):
    path = repo / "app.yaml"
    path.write_text(svc(f"image: '{ref}'", "port: 80"))
    result = validate(path)
    assert result.exit_code == 0, result.output


def test_limits_are_inclusive(repo):
    """Exactly at a limit is accepted: 60 rules per family, 15 SSM levels, a 1011-character ARN."""
    name = "/" + "/".join("l" * 15)
    arn_room = 1011 - len("arn:aws:ssm:eu-west-1:123456789012:parameter/")
    path = repo / "app.yaml"
    path.write_text(top("version: 1", "name: shop", "region: eu-west-1", "services:", "  web:", "    image: x",
                        "    port: 80", "    secrets:", f"      A: ssm:{name}", f"      B: ssm:/{'p' * arn_room}",
                        "    instances:", f"      ingress: {cidrs(59)}", "      ssh_ingress: [203.0.113.0/24]",
                        f"      subnets: [subnet-aaaaaaaa, subnet-bbbbbbbb]",
                        "  lb:", "    image: x", "    port: 80", "    load_balancer:",
                        f"      certificate_arn: {CERT}", "    instances:", f"      ingress: {cidrs(60)}",
                        f"      ssh_ingress: {cidrs(59)}", f"      subnets: [subnet-aaaaaaaa, subnet-bbbbbbbb]"))
    result = validate(path)
    assert result.exit_code == 0, result.output


def test_user_data_just_under_the_limit_passes_and_over_it_is_refused(repo):
    path = repo / "app.yaml"
    sizes = []
    for n in (4000, 15000):  # the rendered script without its template's comment lines is about 6 KB
        path.write_text(ok("env:", f"  A: {'x' * n}"))
        sizes.append(validate(path).exit_code)
    assert sizes == [0, 2]


# --------------------------------------------------------------------------- once the region is known


def test_certificate_region_is_checked_when_the_region_comes_from_the_command_line(repo):
    path = repo / "app.yaml"
    path.write_text(ok("load_balancer:", f"  certificate_arn: {CERT}"))
    spec, _ = load_spec(path)  # no region in app.yaml: validate cannot know
    check_limits(spec, "eu-west-1")
    with pytest.raises(SpecError) as info:
        check_limits(spec, "us-east-1")
    assert (info.value.line, info.value.dotted) == (8, "services.web.load_balancer.certificate_arn")
    assert str(info.value).startswith(f"{path}:8: ")


def test_actual_registry_is_used_once_known(repo, monkeypatch):
    path = repo / "app.yaml"
    path.write_text(ok("env:", f"  A: {'x' * 7800}"))
    spec, _ = load_spec(path)
    with pytest.raises(SpecError) as info:
        check_limits(spec, "eu-west-1", Registry("r" * 4000 + ".example.com:5000", False))
    assert "user-data" in info.value.message and info.value.dotted == "services.web.env"


def test_registry_override_is_assumed_in_validate(repo, monkeypatch):
    path = repo / "app.yaml"
    path.write_text(ok("env:", f"  A: {'x' * 7000}"))
    assert validate(path).exit_code == 0
    monkeypatch.setenv("LIFTSHIFT_REGISTRY", "r" * 3000 + ".example.com:5000")
    assert validate(path).exit_code == 2


def test_prepare_checks_limits_before_any_build(repo, monkeypatch):
    """pipeline.prepare refuses a certificate of another region before it builds anything."""
    from liftshift.pipeline import prepare as pipeline

    path = repo / "app.yaml"
    path.write_text(ok("load_balancer:", f"  certificate_arn: {CERT}"))
    spec, base = load_spec(path)

    class FakeAws:
        region = "us-east-1"

        def account_id(self):
            return "123456789012"

    class FakeTarget:
        aws = FakeAws()
        registry = Registry("123456789012.dkr.ecr.us-east-1.amazonaws.com", True)

    def no_build(*args, **kwargs):
        raise AssertionError("built before the limits were checked")

    monkeypatch.setattr(pipeline, "build_images", no_build)
    with pytest.raises(SpecError) as info:
        pipeline.prepare(spec, base, FakeTarget())
    assert info.value.dotted == "services.web.load_balancer.certificate_arn"


# --------------------------------------------------------------------------- render errors are exit 2


def test_render_refusal_is_exit_2_not_a_traceback(monkeypatch):
    from liftshift.cli import base as cli

    def body():
        raise ValueError("user-data: health path '/\\x7f' must start with '/' and be printable ASCII")

    with pytest.raises(cli.typer.Exit) as info:
        cli.guarded(body)
    assert info.value.exit_code == 2


# --------------------------------------------------------------------------- plan warnings on bind mounts


@pytest.mark.parametrize("host,risky", [
    ("/", True), ("//", True), ("/etc", True), ("/etc/nginx", True), ("/srv/../etc/ssl", True),
    ("/var/run/docker.sock", True), ("/run/docker.sock", True), ("/var/run", True), ("/run", True), ("/var", True),
    ("/proc", True), ("/sys/fs/cgroup", True), ("/dev", True), ("/root/.ssh", True), ("/home/ec2-user", True),
    ("/usr/bin", True), ("/boot", True), ("/var/lib/docker", True), ("/var/lib", True),
    ("/srv/data", False), ("/var/log", False), ("/data", False), ("/opt/app", False), ("/tmp/cache", False),
    ("/etcetera", False), ("/srv/etc", False), ("/mnt/efs", False), ("/var/lib/app", False),
])
def test_risky_bind_mounts(host, risky):
    assert (risky_mount(host) is not None) == risky


def test_plan_warns_on_bind_mounts_of_host_system_paths(repo):
    path = repo / "app.yaml"
    path.write_text(ok("volumes:", "  - /var/run/docker.sock:/var/run/docker.sock", "  - /srv/data:/data",
                       "  - {host: /etc, container: /host-etc, read_only: true}", "  - /:/host:ro"))
    spec, _ = load_spec(path)
    found = [w for w in warnings(spec, {}) if "volumes" in w]
    assert len(found) == 3, found
    assert found[0].startswith("services.web.volumes[0] bind-mounts /var/run/docker.sock (read-write)")
    assert "root on the host" in found[0]
    assert found[1].startswith("services.web.volumes[2] bind-mounts /etc (read-only)")
    assert found[2].startswith("services.web.volumes[3] bind-mounts / (read-only)")


# --------------------------------------------------------------------------- properties


_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
_FIELDS = ["name: {v}", "region: {v}", "services.web.image: {v}", "env: {v}", "health: {v}", "volume: {v}",
           "volume-map: {v}", "secret: {v}", "command: {v}", "ami: {v}", "key: {v}", "arg: {v}", "publish: {v}"]


def _place(field: str, value: str) -> str:
    v = '"' + value.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'
    body = {
        "name": None, "region": None,
        "services.web.image": [f"image: {v}", "port: 80"],
        "env": ["image: x", "port: 80", f"env: {{A: {v}}}"],
        "health": ["image: x", "port: 80", f"health: {{path: {v}}}"],
        "volume": ["image: x", "port: 80", f"volumes: [{v}]"],
        "volume-map": ["image: x", "port: 80", f"volumes: [{{host: {v}, container: {v}}}]"],
        "secret": ["image: x", "port: 80", f"secrets: {{A: {v}}}"],
        "command": ["image: x", "port: 80", f"command: [{v}]"],
        "ami": ["image: x", "port: 80", f"instances: {{ami: {v}}}"],
        "key": ["image: x", "port: 80", f"instances: {{key_name: {v}}}"],
        "arg": ["build: {context: ./web, args: {A: " + v + "}}", "port: 80"],
        "publish": ["image: x", "port: 80", f"publish: {v}"],
    }[field]
    if field == "name":
        return top("version: 1", f"name: {v}", "services:", "  web:", "    image: x", "    port: 80")
    if field == "region":
        return top("version: 1", "name: shop", f"region: {v}", "services:", "  web:", "    image: x", "    port: 80")
    return svc(*body)


@_SETTINGS
@given(field=st.sampled_from(["name", "region", "services.web.image", "env", "health", "volume", "volume-map",
                              "secret", "command", "ami", "key", "arg", "publish"]),
       value=st.one_of(st.text(), st.text(alphabet=string.printable), st.sampled_from(
           ["/", "/etc", "22", "0022", "22:22", "ssm:/aws/x", "nginx:1.27\n", "/a:/b", "\x00", "\ud800", "/\x7f"])))
def test_any_value_is_accepted_whole_or_refused_with_a_located_message(repo, field, value):
    """Whatever a field holds, load_spec either accepts it (and then render cannot fail: validate rendered
    it) or raises SpecError with a line; never another exception. Accepted text has no control character
    outside env values, build args and commands, which keep every character but NUL."""
    path = repo / "app.yaml"
    path.write_text(_place(field, value), encoding="utf-8", errors="surrogatepass")
    try:
        spec, _ = load_spec(path)
    except SpecError as exc:
        assert exc.line is not None and "\n" not in str(exc), str(exc)
        return
    web = spec.services["web"]
    if field in ("name", "region", "services.web.image", "health", "volume", "volume-map", "secret", "ami", "key"):
        assert not any(ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f for c in value)
    if field == "env":
        assert web.env == {"A": value} and "\0" not in value
    if field == "command":
        assert web.command == [value]
    if field == "publish":
        assert web.publish == int(value) and str(web.publish) == value.lstrip("+")
