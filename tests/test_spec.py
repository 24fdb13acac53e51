"""app.yaml loading: a valid example with its defaults, and a corpus of bad or hostile files.

Every bad file must raise SpecError naming the exact line and dotted key path, with a
message a person can act on, and `str(exc)` must start with "<file>:<line>:".
Pure unit tests: no docker, no AWS; everything lives in tmp_path.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from liftshift.spec.errors import SpecError
from liftshift.spec.load import load_spec
from liftshift.spec.model import AppSpec
from liftshift.spec.settings import BuildSpec, InstancesSpec
from liftshift.spec.yamlsource import MAX_FILE_BYTES
from support.appyaml import HEAD, app_repo, assert_spec_error, svc, top, write


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git work tree (marked by .git) with build contexts, plus a directory outside it."""
    return app_repo(tmp_path)


# --------------------------------------------------------------------------- valid

FULL = """\
version: 1
name: shop
region: eu-west-1
services:
  web:
    build: ./web
    port: 8080
    env:
      DEBUG: true
      QUIET: false
      WORKERS: 4
      RATIO: 0.5
      NAME: shop
    health:
      path: /healthz
    volumes:
      - /srv/data:/data
      - /srv/conf:/conf:ro
  api:
    image: nginx:1.25
    port: 80
    publish: 8081
    command: ["nginx", "-g", "daemon off;"]
    instances:
      type: t4g.small
      count: 2
      ami: ami-0123456789abcdef0
      disk_gb: 20
      ingress: [10.0.0.0/8, "2001:db8::/32"]
      subnets: [subnet-aaaaaaaa, subnet-0123456789abcdef0]
      ssh_ingress: [203.0.113.0/24]
      key_name: me
  worker:
    build:
      context: ./web
      dockerfile: Dockerfile
      args: {VERSION: 2, FLAG: false}
      target: prod
    port: 9000
"""


def test_full_example_loads_with_defaults(repo):
    spec, base = load_spec(write(repo, FULL))
    assert isinstance(spec, AppSpec)
    assert base == repo.resolve()
    assert spec.version == 1 and spec.name == "shop" and spec.region == "eu-west-1"
    assert list(spec.services) == ["web", "api", "worker"]

    web = spec.services["web"]
    assert web.build == BuildSpec(context="./web")
    assert web.build.dockerfile == "Dockerfile" and web.build.args == {} and web.build.target is None
    assert web.image is None
    assert web.port == 8080 and web.publish is None and web.published_port == 8080
    assert web.command is None
    assert web.env == {"DEBUG": "true", "QUIET": "false", "WORKERS": "4", "RATIO": "0.5", "NAME": "shop"}
    assert all(isinstance(v, str) for v in web.env.values())
    assert web.health.path == "/healthz"
    assert (web.health.interval, web.health.timeout, web.health.retries, web.health.start_period) == (10, 5, 3, 30)
    assert [(v.host, v.container, v.read_only) for v in web.volumes] == [
        ("/srv/data", "/data", False), ("/srv/conf", "/conf", True)]
    inst = web.instances
    assert inst.type == "t3.micro" and inst.arch == "x86_64"
    assert inst.count == 1
    assert inst.ami == "al2023"
    assert inst.disk_gb == 8
    assert inst.ingress == ["0.0.0.0/0"]
    assert inst.subnets == [] and inst.ssh_ingress == [] and inst.key_name is None

    api = spec.services["api"]
    assert api.build is None and api.image == "nginx:1.25"
    assert api.published_port == 8081
    assert api.command == ["nginx", "-g", "daemon off;"]
    assert api.env == {} and api.health is None and api.volumes == []
    assert api.instances.type == "t4g.small" and api.instances.arch == "arm64"
    assert api.instances.count == 2 and api.instances.disk_gb == 20
    assert api.instances.ami == "ami-0123456789abcdef0"
    assert api.instances.ingress == ["10.0.0.0/8", "2001:db8::/32"]
    assert api.instances.subnets == ["subnet-aaaaaaaa", "subnet-0123456789abcdef0"]
    assert api.instances.ssh_ingress == ["203.0.113.0/24"]
    assert api.instances.key_name == "me"

    worker = spec.services["worker"]
    assert worker.build == BuildSpec(context="./web", dockerfile="Dockerfile",
                                     args={"VERSION": "2", "FLAG": "false"}, target="prod")


def test_minimal_spec_without_git_dir(tmp_path):
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "Dockerfile").write_text("FROM scratch\n")
    path = tmp_path / "app.yaml"
    path.write_text("version: 1\nname: a\nservices:\n  w:\n    build: web\n    port: 1\n")
    spec, base = load_spec(path)
    assert spec.services["w"].build.context == "web"
    assert spec.region is None


@pytest.mark.parametrize("itype,arch", [
    ("t4g.micro", "arm64"), ("m7g.large", "arm64"), ("c7gn.xlarge", "arm64"), ("a1.medium", "arm64"),
    ("r6gd.large", "arm64"), ("im4gn.large", "arm64"),
    ("t3.micro", "x86_64"), ("g4dn.xlarge", "x86_64"), ("m5.large", "x86_64"), ("g4ad.xlarge", "x86_64"),
    ("c5n.large", "x86_64"), ("t3a.nano", "x86_64"),
])
def test_arch_from_instance_type(itype, arch):
    assert InstancesSpec(type=itype).arch == arch


def test_missing_file(tmp_path):
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path / "nope.yaml")
    assert "not found" in info.value.message


def test_unknown_key_reported_before_type_errors(repo):
    path = write(repo, "version: 2\nname: Bad_Name\nservices:\n  web:\n    image: x\n    port: 80\n    prot: 1\n")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert (info.value.line, info.value.dotted) == (7, "services.web.prot")


def test_several_problems_reports_first_by_line_and_counts_the_rest(repo):
    path = write(repo, "version: 1\nname: shop\nservices:\n  web:\n    image: x\n    port: 0\n    publish: 0\n")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert (info.value.line, info.value.dotted) == (6, "services.web.port")
    assert "1 more problem" in info.value.message


# --------------------------------------------------------------------------- the bad corpus

def ok(*extra: str) -> str:
    """A valid service (lines 5-6) followed by `extra` service lines from line 7."""
    return svc("build: ./web", "port: 80", *extra)


def _bomb() -> str:
    lines = ["version: 1", "name: shop", 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    prev = "a"
    for n in "bcdefghi":
        lines.append(f"{n}: &{n} [" + ",".join([f"*{prev}"] * 10) + "]")
        prev = n
    lines += ["services:", "  web:", "    image: nginx", "    port: 80", "    env:", "      BOMB: *i"]
    return top(*lines)


P = pytest.param
LONG = "a" * 33

CORPUS = [
    # unknown keys, at every level, with "did you mean" when close
    P(top("version: 1", "name: shop", "servics:", "  web:", "    image: x", "    port: 80"),
      3, "servics", "did you mean 'services'", id="unknown-top-close"),
    P(ok() + "flavour: vanilla\n", 7, "flavour", "allowed: version, name, region, services", id="unknown-top-far"),
    P(svc("build: ./web", "prot: 8080"), 6, "services.web.prot", "did you mean 'port'", id="unknown-service-prot"),
    P(ok("replicas: 3"), 7, "services.web.replicas", "unknown field", id="unknown-service-far"),
    P(ok("instances:", "  typ: t3.micro"), 8, "services.web.instances.typ", "did you mean 'type'",
      id="unknown-instances"),
    P(svc("build:", "  context: ./web", "  dockerfle: Dockerfile", "port: 80"), 7, "services.web.build.dockerfle",
      "did you mean 'dockerfile'", id="unknown-build"),
    P(ok("health:", "  pth: /"), 8, "services.web.health.pth", "did you mean 'path'", id="unknown-health"),
    P(ok("volumes:", "  - host: /a", "    container: /b", "    mode: ro"), 10, "services.web.volumes[0].mode",
      "unknown field", id="unknown-volume-item"),
    # bad types
    P(svc("build: ./web", "port: eighty"), 6, "services.web.port", "integer", id="type-port-string"),
    P(ok("instances:", "  count: three"), 8, "services.web.instances.count", "integer", id="type-count"),
    P(ok("instances: t3.micro"), 7, "services.web.instances", "InstancesSpec", id="type-instances-scalar"),
    P(top("version: 1", "name: shop", "services:", "  - web"), 3, "services", "dictionary", id="type-services-list"),
    P(top("version: 1", "name: shop", "services: {}"), 3, "services", "at least 1", id="services-empty"),
    P(HEAD, 4, "services.web", "dictionary", id="type-service-null"),
    P(ok("env:", "  A:", "    b: 1"), 8, "services.web.env.A", "string", id="type-env-value-mapping"),
    P(ok("env: [A=1]"), 7, "services.web.env", "dictionary", id="type-env-list"),
    P(ok("instances:", "  ingress: 0.0.0.0/0"), 8, "services.web.instances.ingress", "list", id="type-ingress-string"),
    P(top("version: 1", "name: [shop]", "services:", "  web:", "    image: x", "    port: 80"), 2, "name",
      "string", id="type-name-list"),
    # missing required keys, version
    P(top("version: 2", "name: shop", "services:", "  web:", "    image: x", "    port: 80"), 1, "version",
      "must be 1", id="version-2"),
    P(svc("build: ./web"), 4, "services.web.port", "required", id="missing-port"),
    P(top("version: 1", "name: shop"), 1, "services", "required", id="missing-services"),
    P(top("version: 1", "services:", "  web:", "    image: x", "    port: 80"), 1, "name", "required",
      id="missing-name"),
    P(top("name: shop", "services:", "  web:", "    image: x", "    port: 80"), 1, "version", "required",
      id="missing-version"),
    P(top("# my app", "", "name: shop", "services:", "  web:", "    image: x", "    port: 80"), 3, "version",
      "required", id="missing-version-after-comments"),
    # duplicate keys: reported at the second occurrence
    P(svc("build: ./web", "port: 80", "port: 81"), 7, "services.web.port", "first defined on line 6",
      id="duplicate-port"),
    P(top("version: 1", "name: shop", "name: other", "services:", "  web:", "    image: x", "    port: 80"), 3,
      "name", "duplicate", id="duplicate-top"),
    P(ok() + "  web:\n    image: x\n    port: 81\n", 7, "services.web", "duplicate", id="duplicate-service"),
    P(ok("env:", "  A: 1", "  B: 2", "  A: 3"), 10, "services.web.env.A", "first defined on line 8",
      id="duplicate-env"),
    # YAML features that are refused
    P(_bomb(), 3, "e[3][3][8][8][6]", "more than 50000 values", id="billion-laughs"),
    P(top("version: 1", "name: shop", "? [a, b]", ": 1", "services: {}"), 3, "", "plain strings",
      id="non-scalar-key"),
    P(top("version: 1", "name: shop", "\tservices: x"), 3, "", "invalid YAML", id="tab-indent"),
    P(top("version: 1", "name: [shop", "services: {}"), 3, "", "invalid YAML", id="unclosed-flow"),
    P(ok("publish: !!binary 'a'"), 7, "services.web.publish", "invalid value", id="bad-binary-tag"),
    # whole-file problems
    P(b"version: 1\nname: shop\nservices: \xff\xfe\n", 3, "", "UTF-8", id="non-utf8"),
    P(top("- version: 1", "- name: shop"), 1, "", "mapping", id="document-is-list"),
    P("just a string\n", 1, "", "mapping", id="document-is-scalar"),
    P("", 1, "", "exactly one YAML document", id="empty-file"),
    P("# only a comment\n", 1, "", "exactly one YAML document", id="comment-only"),
    P(ok() + "---\nversion: 1\n", 1, "", "exactly one YAML document", id="two-documents"),
    # build contexts
    P(svc("build: ./nope", "port: 80"), 5, "services.web.build", "not a directory", id="context-missing"),
    P(svc("build: ./web/Dockerfile", "port: 80"), 5, "services.web.build", "not a directory", id="context-is-file"),
    P(svc("build: ./empty", "port: 80"), 5, "services.web.build", "no Dockerfile", id="context-no-dockerfile"),
    P(svc("build:", "  context: ./web", "  dockerfile: Prod.Dockerfile", "port: 80"), 5, "services.web.build",
      "no Dockerfile", id="dockerfile-missing"),
    P(svc("build: ../outside", "port: 80"), 5, "services.web.build", "leads outside", id="context-dotdot"),
    P(svc("build: ./link", "port: 80"), 5, "services.web.build", "leads outside", id="context-symlink"),
    P(svc("build: ./web/../../outside", "port: 80"), 5, "services.web.build", "leads outside",
      id="context-dotdot-nested"),
    P(svc("build:", "  context: ./web", "  dockerfile: ../../outside/Dockerfile", "port: 80"), 5,
      "services.web.build", "leads outside", id="dockerfile-outside"),
    P(svc("build: ''", "port: 80"), 5, "services.web.build.context", "at least 1 character", id="context-empty"),
    # ports
    P(svc("build: ./web", "port: 0"), 6, "services.web.port", "greater than or equal to 1", id="port-0"),
    P(svc("build: ./web", "port: 70000"), 6, "services.web.port", "less than or equal to 65535", id="port-70000"),
    P(ok("publish: 0"), 7, "services.web.publish", "greater than or equal to 1", id="publish-0"),
    P(ok("publish: 65536"), 7, "services.web.publish", "less than or equal to 65535", id="publish-65536"),
    # CIDRs and subnets (list validators report at the list's key)
    P(ok("instances:", "  ingress:", "    - 10.0.0.0/8", "    - 10.0.0.1/8"), 8,
      "services.web.instances.ingress", "host bits", id="cidr-host-bits"),
    P(ok("instances:", "  ingress: [999.1.1.1/32]"), 8, "services.web.instances.ingress", "not a CIDR",
      id="cidr-999"),
    P(ok("instances:", "  ingress: [banana]"), 8, "services.web.instances.ingress", "'banana'", id="cidr-banana"),
    P(ok("instances:", "  ssh_ingress: [banana]"), 8, "services.web.instances.ssh_ingress", "not a CIDR",
      id="ssh-cidr-banana"),
    P(ok("instances:", "  subnets: [subnet-xyz]"), 8, "services.web.instances.subnets", "not a subnet id",
      id="subnet-bad-hex"),
    P(ok("instances:", "  subnets: [sn-12345678]"), 8, "services.web.instances.subnets", "not a subnet id",
      id="subnet-bad-prefix"),
    P(ok("instances:", "  subnets: [subnet-aaaaaaaa, subnet-aaaaaaaa]"), 8, "services.web.instances.subnets",
      "twice", id="subnet-twice"),
    # stack names
    *[P(top("version: 1", f"name: {name}", "services:", "  web:", "    image: x", "    port: 80"), 2, "name",
        "stack name", id=f"stack-name-{label}")
      for label, name in [("upper", "Shop"), ("underscore", "my_shop"), ("33-chars", LONG), ("leading-dash", "-shop"),
                          ("trailing-dash", "shop-"), ("empty", "''")]],
    # service names
    *[P(top("version: 1", "name: shop", "services:", f"  {name}:", "    image: x", "    port: 80"), 3, "services",
        "service name", id=f"service-name-{label}")
      for label, name in [("upper", "Web"), ("underscore", "my_web"), ("33-chars", LONG), ("leading-dash", "-web")]],
    # instances
    P(ok("instances:", "  count: -1"), 8, "services.web.instances.count", "greater than or equal to 0",
      id="count-negative"),
    P(ok("instances:", "  count: 1000"), 8, "services.web.instances.count", "less than or equal to 100",
      id="count-1000"),
    P(ok("instances:", "  count: 1.5"), 8, "services.web.instances.count", "fractional", id="count-fraction"),
    P(ok("instances:", "  disk_gb: 4"), 8, "services.web.instances.disk_gb", "greater than or equal to 8",
      id="disk-4"),
    P(ok("instances:", "  type: t3micro"), 8, "services.web.instances.type", "instance type", id="type-no-dot"),
    P(ok("instances:", "  type: T3.MICRO"), 8, "services.web.instances.type", "instance type", id="type-upper"),
    P(ok("instances:", "  ami: ubuntu"), 8, "services.web.instances.ami", "AMI id", id="ami-alias"),
    P(ok("instances:", "  ami: ami-XYZ"), 8, "services.web.instances.ami", "AMI id", id="ami-bad-id"),
    P(ok("instances:", "  key_name: ''"), 8, "services.web.instances.key_name", "at least 1 character",
      id="key-name-empty"),
    # image source
    P(svc("build: ./web", "image: nginx", "port: 80"), 4, "services.web", "exactly one of 'build'",
      id="build-and-image"),
    P(svc("port: 80"), 4, "services.web", "exactly one of 'build'", id="neither-build-nor-image"),
    P(svc("image: ''", "port: 80"), 5, "services.web.image", "at least 1 character", id="image-empty"),
    # container settings
    P(ok("command: httpd -f"), 7, "services.web.command", "must be a list", id="command-string"),
    P(ok("command: []"), 7, "services.web.command", "must not be empty", id="command-empty"),
    P(ok("command: [httpd, {a: 1}]"), 7, "services.web.command[1]", "string", id="command-item-mapping"),
    P(ok("env:", "  1BAD: x"), 7, "services.web.env", "'1BAD' is not a valid environment variable",
      id="env-name-digit"),
    P(ok("env:", "  A-B: x"), 7, "services.web.env", "'A-B' is not a valid environment variable",
      id="env-name-dash"),
    P(ok("volumes:", "  - data:/data"), 7, "services.web.volumes", "must be absolute", id="volume-relative"),
    P(ok("volumes:", "  - /a:/b:ro:x"), 7, "services.web.volumes", "HOST_PATH:CONTAINER_PATH", id="volume-4-parts"),
    P(ok("volumes:", "  - /a:/b:rx"), 7, "services.web.volumes", "HOST_PATH:CONTAINER_PATH", id="volume-bad-mode"),
    P(ok("health:", "  path: healthz"), 8, "services.web.health.path", "must start with '/'", id="health-no-slash"),
    P(ok("health:", "  path: /a b"), 8, "services.web.health.path", "no spaces", id="health-space"),
    P(ok("health:", "  interval: 0"), 8, "services.web.health.interval", "greater than or equal to 1",
      id="health-interval-0"),
    # load balancer and rollout
    P(ok("load_balancer:", "  prot: 80"), 8, "services.web.load_balancer.prot", "did you mean", id="lb-typo"),
    P(ok("load_balancer:", "  port: 0"), 8, "services.web.load_balancer.port", "greater than or equal to 1",
      id="lb-port-0"),
    P(ok("load_balancer:", "  health: {interval: 5, timeout: 5}"), 8, "services.web.load_balancer.health",
      "shorter than interval", id="lb-timeout-not-below-interval"),
    P(ok("load_balancer:", "  health: {healthy: 1}"), 8, "services.web.load_balancer.health.healthy",
      "greater than or equal to 2", id="lb-healthy-1"),
    P(ok("load_balancer:", "  certificate_arn: arn:aws:iam::123456789012:server-certificate/x"), 8,
      "services.web.load_balancer.certificate_arn", "ACM certificate", id="lb-not-acm"),
    P(ok("rollout: {strategy: in-place}", "load_balancer: {port: 80}"), 4, "services.web",
      "in-place is for services without a load_balancer", id="in-place-with-lb"),
    P(ok("rollout: {strategy: rolling}"), 7, "services.web.rollout.strategy", "blue-green", id="rollout-unknown"),
    P(ok("rollout: {strategy: blue-green}"), 4, "services.web", "needs a load_balancer",
      id="blue-green-without-lb"),
    P(ok("rollout: {keep: 1}"), 7, "services.web.rollout.keep", "greater than or equal to 2", id="rollout-keep-1"),
    P(ok("load_balancer: {port: 80}", "instances: {subnets: [subnet-0123456789abcdef0]}"), 4, "services.web",
      "two availability zones", id="lb-one-subnet"),
    # region
    P(top("version: 1", "name: shop", "region: mars-1", "services:", "  web:", "    image: x", "    port: 80"), 3,
      "region", "AWS region", id="region-mars"),
    P(top("version: 1", "name: shop", "region: EU-WEST-1", "services:", "  web:", "    image: x", "    port: 80"), 3,
      "region", "AWS region", id="region-upper"),
]

# Hostile YAML that once escaped as a raw Python exception instead of SpecError.
CRASHERS = [
    P(top("version: 1", "name: shop", "x-base: &base", "  port: 80", "services:", "  web:", "    <<: *base",
          "    build: ./web"), 7, "services.web", "merge keys", id="merge-key"),
    P(ok("publish: !!int abc"), 7, "services.web.publish", "invalid value", id="int-tag-not-a-number"),
    P(ok("publish: !!timestamp nope"), 7, "services.web.publish", "invalid value", id="timestamp-tag-garbage"),
    P(top("version: 1", "name: shop", "!!python/name:os.system x: 1", "services: {}"), 3, "", "plain strings",
      id="python-tag-on-key"),
    P(top("version: 1", "name: shop", "x: " + "[" * 5000 + "]" * 5000), None, "", "deep", id="deeply-nested"),
]


def _check(repo: Path, content, line, dotted, word):
    assert_spec_error(write(repo, content), line, dotted, word)


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 40


@pytest.mark.parametrize("content,line,dotted,word", CORPUS)
def test_bad_spec(repo, content, line, dotted, word):
    _check(repo, content, line, dotted, word)


@pytest.mark.parametrize("content,line,dotted,word", CRASHERS)
def test_hostile_yaml_is_a_spec_error(repo, content, line, dotted, word):
    _check(repo, content, line, dotted, word)


def test_billion_laughs_is_refused_quickly(repo):
    path = write(repo, _bomb())
    start = time.monotonic()
    with pytest.raises(SpecError):
        load_spec(path)
    assert time.monotonic() - start < 2


def test_file_over_one_mib(repo):
    # A whole-file error: there is no line to blame, so the message is "<file>: ...".
    path = write(repo, "version: 1\n# " + "x" * MAX_FILE_BYTES + "\n")
    start = time.monotonic()
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert time.monotonic() - start < 2
    exc = info.value
    assert exc.line is None and exc.dotted == ""
    assert "limit is 1048576" in exc.message
    assert str(exc).startswith(f"{path}: ")


def test_file_of_exactly_one_mib_is_read(repo):
    body = "version: 1\nname: shop\nservices:\n  web:\n    image: x\n    port: 80\n# "
    path = write(repo, body + "x" * (MAX_FILE_BYTES - len(body) - 1) + "\n")
    assert path.stat().st_size == MAX_FILE_BYTES
    spec, _ = load_spec(path)
    assert spec.name == "shop"


# --- service references (${service.NAME.url|host|port}) -----------------------------------


def _two(env_web: str, env_api: str = "{}") -> str:
    return (
        "version: 1\nname: shop\nservices:\n"
        "  api:\n    image: x\n    port: 80\n"
        f"    env: {env_api}\n"
        "  web:\n    image: x\n    port: 80\n"
        f"    env: {env_web}\n"
    )


def test_references_order_services_and_are_checked(tmp_path):
    from liftshift.spec.grammar import peers_of, service_order

    path = tmp_path / "app.yaml"
    path.write_text(_two('{API: "${service.api.url}/v1", P: "${service.api.port}"}'))
    spec, _ = load_spec(path)
    assert peers_of(spec.services["web"]) == ["api"] and peers_of(spec.services["api"]) == []
    assert service_order(spec) == ["api", "web"]

    for env_web, env_api, line, words in [
        ('{A: "${service.nope.url}"}', "{}", 11, "names no service"),
        ('{A: "${service.web.url}"}', "{}", 11, "cannot call itself"),
        ('{A: "${service.api.address}"}', "{}", 11, "use .url, .host or .port"),
        ('{A: "${service.api.url}"}', '{B: "${service.web.host}"}', 7, "api -> web -> api"),
    ]:
        path.write_text(_two(env_web, env_api))
        with pytest.raises(SpecError) as info:
            load_spec(path)
        assert info.value.line == line and words in info.value.message, str(info.value)


@pytest.mark.parametrize("value,words", [
    ("${service.api.URL}", "use .url, .host or .port"), ("${service.api.url.x}", "use .url, .host or .port"),
    ("${service.Api.url}", "names no service"), ("${service..url}", "names no service"),
])
def test_near_miss_references_are_refused(tmp_path, value, words):
    """Anything shaped like a reference must be one (the renderer refuses the same: tests/test_render.py)."""
    path = tmp_path / "app.yaml"
    path.write_text(_two(f'{{A: "{value}"}}'))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert info.value.line == 11 and words in info.value.message, str(info.value)


# --- names ---------------------------------------------------------------------------------


def test_longest_names_fit_every_aws_name_they_make():
    """Stack and service names of NAME_MAX characters make resource names AWS accepts; the binding limit
    is the launch template's 128 characters (spec/grammar.py cites the API references)."""
    from liftshift.model import names
    from liftshift.spec.grammar import NAME_MAX, NAME_RE

    longest = "a" * NAME_MAX
    assert NAME_RE.fullmatch(longest) and not NAME_RE.fullmatch(longest + "a")
    made = names.stack_resource_names(longest, {longest: True})
    limits = {"iam role": 64, "security group": 255, "launch template": 128, "auto scaling group": 255,
              "load balancer": 32, "target group": 32, "ecr repository": 256}
    for kind, found in made.items():
        for name, _ in found:
            assert len(name) <= limits[kind], (kind, name)
    assert len(names.launch_template(longest, longest, names.PLACEHOLDER_CONFIG)) == 24 + 2 * NAME_MAX  # <= 128


# --------------------------------------------------------------------------- internal services (issue 12)

def _with_db(*db: str) -> str:
    """Stack shop: web (lines 4-6), then db (its key on line 7, its body from line 8)."""
    return top("version: 1", "name: shop", "services:", "  web:", "    build: ./web", "    port: 80", "  db:",
               *(f"    {line}" for line in ("image: postgres:16", "port: 5432", *db)))


def test_internal_defaults_to_false_and_takes_only_true_or_false(repo):
    spec, _ = load_spec(write(repo, _with_db("internal: true", "instances:", "  ssh_ingress: [203.0.113.0/24]")))
    assert spec.services["db"].internal is True and spec.services["web"].internal is False
    assert spec.services["db"].instances.ssh_ingress == ["203.0.113.0/24"]  # SSH stays allowed
    for word in ("yes", '"true"', "1"):
        assert_spec_error(write(repo, _with_db(f"internal: {word}")), 10, "services.db.internal", "boolean")


def test_internal_with_a_load_balancer_is_refused_at_internal(repo):
    path = write(repo, _with_db("load_balancer: {port: 80}", "internal: true"))
    assert_spec_error(path, 11, "services.db.internal", "cannot go with a load_balancer")
    assert_spec_error(path, 11, "services.db.internal", "remove load_balancer, or internal")


def test_internal_with_explicit_ingress_is_refused_at_ingress_saying_what_to_remove(repo):
    path = write(repo, _with_db("internal: true", "instances:", "  count: 2", "  ingress: [10.0.0.0/8]"))
    assert_spec_error(path, 13, "services.db.instances.ingress", "remove instances.ingress (or internal: true)")
    # even the default written out is a CIDR the service would not open
    assert_spec_error(write(repo, _with_db("instances: {ingress: [0.0.0.0/0]}", "internal: true")), 10,
                      "services.db.instances.ingress", "not CIDRs")


def test_internal_false_keeps_ingress_and_load_balancer(repo):
    spec, _ = load_spec(write(repo, _with_db("internal: false", "instances: {ingress: [10.0.0.0/8]}")))
    assert spec.services["db"].instances.ingress == ["10.0.0.0/8"]


def test_an_internal_service_needs_a_rule_per_other_service_within_the_quota(repo):
    many = "".join(f"  s{i}:\n    image: nginx\n    port: 80\n" for i in range(60))
    path = write(repo, _with_db("internal: true") + many)
    assert_spec_error(path, 10, "services.db.internal", "needs 61 IPv4 inbound rules")
    load_spec(write(repo, _with_db("internal: true") + "".join(
        f"  s{i}:\n    image: nginx\n    port: 80\n" for i in range(59))))  # 60 rules: the quota


# --------------------------------------------------------------------------- health commands (issue 12)

def test_a_health_command_in_exec_form_keeps_its_arguments_as_written(repo):
    spec, _ = load_spec(write(repo, ok("health:", "  command: [redis-cli, -p, 6379, ping]", "  interval: 5")))
    health = spec.services["web"].health
    assert health.command == ["redis-cli", "-p", "6379", "ping"]  # the number as written, a string
    assert health.interval == 5
    assert health.model_dump()["command"] == ["redis-cli", "-p", "6379", "ping"]


def test_a_health_command_in_shell_form_is_one_string(repo):
    spec, _ = load_spec(write(repo, ok("health:", "  command: \"redis-cli ping | grep -q PONG || exit 1\"")))
    assert spec.services["web"].health.command == "redis-cli ping | grep -q PONG || exit 1"


def test_without_a_health_command_the_settings_dump_as_before():
    """The config hash hashes the service's settings: a service without a command must not change it."""
    from liftshift.spec.settings import HealthSpec

    assert HealthSpec().model_dump() == {"path": "/", "interval": 10, "timeout": 5, "retries": 3, "start_period": 30}
    assert "command" in HealthSpec(command="true").model_dump(mode="json")


def test_a_health_command_behind_a_load_balancer_is_allowed(repo):
    """The target group keeps its HTTP check (load_balancer.health.path); the command is the container's own."""
    spec, _ = load_spec(write(repo, ok("health: {command: [pg_isready]}", "load_balancer:",
                                       "  health: {path: /healthz}")))
    web = spec.services["web"]
    assert web.health.command == ["pg_isready"] and web.load_balancer.health.path == "/healthz"


def test_health_path_and_command_together_are_refused_at_the_command(repo):
    from support.appyaml import assert_validate_refuses

    path = write(repo, ok("health:", "  path: /healthz", "  interval: 5", "  command: [pg_isready]"))
    assert_spec_error(path, 10, "services.web.health.command", "exclusive")
    assert_validate_refuses(path, 10, "services.web.health.command", "health.command and health.path")
    # written the other way round, or with the default path written out: still both
    assert_spec_error(write(repo, ok("health: {command: 'true', path: /}")), 7, "services.web.health.command",
                      "exclusive")


@pytest.mark.parametrize("lines,line,dotted,word", [
    P(("health:", '  command: "redis-cli\\tping"'), 8, "services.web.health.command", "control character",
      id="tab-in-shell-form"),
    P(("health:", '  command: [sh, -c, "true\\nfalse"]'), 8, "services.web.health.command[2]", "control character",
      id="newline-in-an-argument"),
    P(("health:", '  command: ["pg_isready\\0"]'), 8, "services.web.health.command[0]", "NUL", id="nul"),
    P(("health:", "  command: \"\\e[31m\""), 8, "services.web.health.command", "control character", id="escape"),
    P(("health:", "  command: []"), 8, "services.web.health.command", "must not be empty", id="empty-list"),
    P(("health:", "  command: '  '"), 8, "services.web.health.command", "must not be empty", id="blank-string"),
    P(("health:", "  command: ['', x]"), 8, "services.web.health.command", "first item", id="empty-program"),
    P(("health:", "  command: {test: x}"), 8, "services.web.health.command", "list of arguments", id="mapping"),
    P(("health:", "  command: 5"), 8, "services.web.health.command", "list of arguments", id="number"),
    P(("health:", "  command: [pg, {a: 1}]"), 8, "services.web.health.command", "string", id="item-mapping"),
    P(("health:", f"  command: '{'x' * 4097}'"), 8, "services.web.health.command", "at most 4096", id="too-long"),
    P(("health:", "  command: [" + ", ".join(["abcdefg"] * 600) + "]"), 8, "services.web.health.command",
      "at most 4096", id="too-long-list"),
])
def test_bad_health_commands_are_refused(repo, lines, line, dotted, word):
    assert_spec_error(write(repo, ok(*lines)), line, dotted, word)
