"""Unit tests for liftshift.model.user_data and templates/user-data.sh.j2 (no docker, no AWS).

The rendered script is executed for real under bash with fake ``docker``,
``systemctl``, ``curl`` and ``aws`` executables that record their argv
NUL-separated, so quoting is checked byte-for-byte.
"""

from __future__ import annotations

import http.server
import os
import re
import shutil
import stat
import subprocess
import tempfile
import threading
from pathlib import Path

import jinja2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liftshift.model import templating, user_data as render
from liftshift.spec.grammar import char_problem
from liftshift.model.user_data import (
    Health,
    UserDataContext,
    Volume,
    health_probe,
    render_template,
    render_user_data,
    shell_quote,
    templates_dir,
)

DIGEST = "sha256:" + "ab" * 32
LOCAL_REGISTRY = "127.0.0.1:5000"
ECR_REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
TEMPLATE = templates_dir() / "user-data.sh.j2"

needs_shellcheck = pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck missing")

# A marker directory shared by all hostile strings: any command that escapes its
# quoting creates a file here.
MARKER_DIR = Path(tempfile.mkdtemp(prefix="liftshift-pwn-"))
PWN = str(MARKER_DIR / "pwn")
HOSTILE = [
    "",
    "'",
    '"',
    "it's",
    f"$(touch {PWN}1)",
    f"`touch {PWN}2`",
    f"; touch {PWN}3",
    f"\ntouch {PWN}4\n",
    f"' ; touch {PWN}5 ; '",
    f'" ; touch {PWN}6 ; "',
    f"$'\\n'; touch {PWN}7",
    "\\",
    "\\'",
    "back\\slash\\",
    "${HOME} $HOME $0 $@ $* $# $? $$",
    "a\tb\rc\n\nd",
    "--",
    "-e",
    "*",
    "?[a-z]",
    "~root",
    "!!",
    "{a,b}",
    "é ☃ 日本 \u200b \u2028 \U0001f600 “quoted” ‘x’ –",
    "EOF",
    "LIFTSHIFT_EOF",
    ")",
    "(",
    "x" * 5000,
    "%s %q %d %%",
    "#comment",
    "{{ jinja }}",
]


def ctx(**overrides) -> UserDataContext:
    base = dict(
        stack="shop",
        service="web",
        image=f"{LOCAL_REGISTRY}/shop/web@{DIGEST}",
        registry=LOCAL_REGISTRY,
        registry_is_ecr=False,
        region="eu-west-1",
        log_group="/liftshift/shop",
        port=8080,
        publish=80,
        command=None,
        env=(),
        volumes=(),
        health=None,
        config_hash="0123abcd",
    )
    base.update(overrides)
    return UserDataContext(**base)


def ecr_ctx(**overrides) -> UserDataContext:
    return ctx(registry=ECR_REGISTRY, image=f"{ECR_REGISTRY}/shop/web@{DIGEST}", registry_is_ecr=True, **overrides)


def full_ctx(base: Path) -> UserDataContext:
    return ctx(
        command=("python", "-m", "http.server", "8080"),
        env=(("DEBUG", "0"), ("GREETING", "hello world")),
        volumes=(Volume(str(base / "data"), "/data"), Volume(str(base / "conf"), "/etc/app", read_only=True)),
        health=Health("/healthz", interval=10, timeout=3, retries=3, start_period=5),
    )


def hostile_ctx(base: Path, registry_is_ecr: bool = False) -> UserDataContext:
    values = HOSTILE
    kw = dict(
        command=tuple(values),
        env=tuple((f"V{i}", v) for i, v in enumerate(values)),
        volumes=tuple(
            Volume(str(base / ("v" + v.replace(":", "_").replace("/", "_")[:60])), "/c/" + v.replace(":", "_"), i % 2 == 0)
            for i, v in enumerate(values)
            if v  # an empty host path is not a path
        ),
        health=Health("/h?q='$(touch%20x)`;|&\"", 1, 1, 1, 0),
        log_group="/liftshift/" + "".join(HOSTILE[:12]),
    )
    return ecr_ctx(**kw) if registry_is_ecr else ctx(**kw)


# --------------------------------------------------------------------------- harness

FAKE_RECORDER = """#!/bin/bash
# Records argv NUL-separated in $FAKE_LOG/NNNN-<name>; prints canned answers.
name=$(basename "$0")
n=$(find "$FAKE_LOG" -type f | wc -l)
printf '%s\\0' "$@" >"$FAKE_LOG/$(printf %04d "$n")-$name"
case "$name:$*" in
  curl:*api/token*) printf 'TOKEN123' ;;
  curl:*instance-id*) printf 'i-0123456789abcdef0' ;;
  aws:*) printf 'secret-password' ;;
  docker:login*) cat >"$FAKE_LOG/login-stdin" ;;
  docker:run*) printf 'cafebabe\\n' ;;
esac
exit 0
"""


class Harness:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "bin"
        self.log = root / "log"
        self.bin.mkdir(parents=True)
        self.log.mkdir()
        for name in ("docker", "systemctl", "curl", "aws", "dnf"):
            p = self.bin / name
            p.write_text(FAKE_RECORDER)
            p.chmod(0o755)

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "PATH": f"{self.bin}:/usr/bin:/bin",
            "FAKE_LOG": str(self.log),
            "HOME": str(self.root),
            "LANG": "C.UTF-8",
        }
        env.update(extra)
        return env

    def run(self, script: str, **extra: str) -> subprocess.CompletedProcess:
        path = self.root / "user-data.sh"
        path.write_text(script, encoding="utf-8")
        return subprocess.run(["bash", str(path)], env=self.env(**extra), capture_output=True, timeout=60)

    def calls(self) -> list[tuple[str, list[str]]]:
        out = []
        for f in sorted(self.log.glob("[0-9]*")):
            raw = f.read_bytes()
            assert raw.endswith(b"\0") or raw == b""
            args = [a.decode("utf-8", "surrogateescape") for a in raw.split(b"\0")[:-1]]
            out.append((f.name.split("-", 1)[1], args))
        return out

    def calls_of(self, tool: str, sub: str | None = None) -> list[list[str]]:
        return [a for n, a in self.calls() if n == tool and (sub is None or (a and a[0] == sub))]


def expected_run_args(c: UserDataContext, *, name: str, publish: int, instance: str, stand_in: bool) -> list[str]:
    args = [
        "--name", name,
        "-p", f"{publish}:{c.port}",
        "--label", f"liftshift.stack={c.stack}",
        "--label", f"liftshift.service={c.service}",
        "--label", f"liftshift.config={c.config_hash}",
        "--label", f"liftshift.instance={instance}",
    ]
    if stand_in:
        args += ["--log-driver", "json-file"]
    else:
        args += [
            "--log-driver", "awslogs",
            "--log-opt", f"awslogs-region={c.region}",
            "--log-opt", f"awslogs-group={c.log_group}",
            "--log-opt", f"awslogs-stream={c.service}/{instance}",
        ]
    if c.health:
        h = c.health
        args += [
            "--health-cmd", health_probe(c.port, h.path),
            "--health-interval", f"{h.interval}s",
            "--health-timeout", f"{h.timeout}s",
            "--health-retries", str(h.retries),
            "--health-start-period", f"{h.start_period}s",
        ]
    for k, v in c.env:
        args += ["-e", f"{k}={v}"]
    for vol in c.volumes:
        args += ["-v", f"{vol.host}:{vol.container}" + (":ro" if vol.read_only else "")]
    args.append(c.image)
    args += list(c.command or ())
    return args


def assert_no_injection() -> None:
    leftovers = list(MARKER_DIR.iterdir())
    assert leftovers == [], f"injected command ran: {leftovers}"


def run_stand_in(c: UserDataContext, root: Path, **extra: str) -> Harness:
    h = Harness(root)
    res = h.run(render_user_data(c), LIFTSHIFT_STAND_IN="1", **extra)
    assert res.returncode == 0, res.stderr.decode(errors="replace")[-3000:]
    assert_no_injection()
    return h


def shellcheck(script: str, tmp: Path) -> None:
    p = tmp / "ud.sh"
    p.write_text(script, encoding="utf-8")
    syn = subprocess.run(["bash", "-n", str(p)], capture_output=True, text=True)
    assert syn.returncode == 0, syn.stderr
    # SC2054 ("use spaces, not commas, to separate array elements") guesses at a typo from a comma inside an
    # array element; ours are values (a volume path, an argument) passed through the sh filter as one word each,
    # in which a comma is data. Every other check applies.
    res = subprocess.run(["shellcheck", "-s", "bash", "-S", "style", "-e", "SC2054", "-f", "gcc", str(p)],
                         capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout == "", res.stdout[:3000] + res.stderr


# --------------------------------------------------------------------------- static checks

EXPR_RE = re.compile(r"\{\{(.*?)\}\}", re.S)
# The whole expression must be a plain (dotted) name or a parenthesised
# expression, followed by "| sh" and nothing else: `a ~ b | sh` would quote b only.
SAFE_EXPR_RE = re.compile(r"\s*(?:[A-Za-z_]\w*(?:\.\w+)*|\(.*\))\s*\|\s*sh\s*", re.S)
# Expressions allowed without the filter. Deliberately empty: even numbers go through sh.
WHITELIST: set[str] = set()


def template_sources() -> list[Path]:
    return sorted(p for p in templates_dir().glob("*.sh.j2"))


@pytest.mark.parametrize("path", template_sources(), ids=lambda p: p.name)
def test_every_expression_is_shell_quoted(path: Path) -> None:
    text = re.sub(r"\{#.*?#\}", "", path.read_text(), flags=re.S)
    exprs = EXPR_RE.findall(text)
    assert exprs, "no expressions found: is the scan broken?"
    bad = [e for e in exprs if e.strip() not in WHITELIST and not SAFE_EXPR_RE.fullmatch(e)]
    assert bad == [], f"expressions without a whole-expression `| sh`: {bad}"
    assert "{% raw" not in text and "|safe" not in text.replace(" ", "")


def test_template_uses_no_heredoc_and_no_xtrace() -> None:
    text = TEMPLATE.read_text()
    assert "<<" not in text, "heredocs are banned: values could terminate them"
    out = render_user_data(ctx())
    assert not re.search(r"^\s*set\s+-\w*x|xtrace", out, re.M)


def test_docker_run_args_built_once() -> None:
    text = TEMPLATE.read_text()
    assert text.count("run_args=(") == 1
    assert text.count('"${run_args[@]}"') == 2  # stand-in docker run and systemd run script
    assert "docker run" in text and len(re.findall(r"^\s*docker run ", text, re.M)) == 1


def test_scan_catches_unquoted_expression(tmp_path: Path) -> None:
    for bad in ("{{ port }}", "{{ a ~ b | sh }}", "{{ x | sh | upper }}", "{{ x|e }}"):
        inner = EXPR_RE.findall(bad)[0]
        assert not SAFE_EXPR_RE.fullmatch(inner), bad
    assert SAFE_EXPR_RE.fullmatch(" (health.interval ~ 's') | sh ")


# --------------------------------------------------------------------------- filter + env


@pytest.mark.parametrize("value", HOSTILE + [0, 8080, -1])
def test_shell_quote_round_trips_through_bash(value) -> None:
    out = subprocess.run(
        ["bash", "-c", f"printf '%s' {shell_quote(value)}"], capture_output=True, env={"LANG": "C.UTF-8"}
    )
    assert out.returncode == 0
    assert out.stdout.decode() == str(value)
    assert_no_injection()


@given(st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))))
@settings(max_examples=60, deadline=None)
def test_shell_quote_property(value: str) -> None:
    out = subprocess.run(["bash", "-c", f"printf '%s' {shell_quote(value)}"], capture_output=True)
    assert out.stdout.decode() == value


@pytest.mark.parametrize("value", [None, True, 1.5, b"x", ["a"], "nul\x00"])
def test_shell_quote_rejects(value) -> None:
    with pytest.raises((TypeError, ValueError)):
        shell_quote(value)


def test_environment_settings() -> None:
    env = templating._environment()
    assert env is templating._environment()  # cached
    assert env.undefined is jinja2.StrictUndefined
    assert env.autoescape is False and env.keep_trailing_newline and env.trim_blocks and env.lstrip_blocks
    assert env.filters["sh"] is shell_quote
    assert templates_dir().is_dir() and TEMPLATE.is_file()


def test_missing_variable_raises() -> None:
    with pytest.raises(jinja2.UndefinedError):
        render_template("user-data.sh.j2", stack="shop", service="web")


def test_none_value_is_not_rendered_as_None() -> None:
    good = dict(
        stack="s", service="w", image="i", registry="r", registry_is_ecr=False, region="eu-west-1",
        log_group="g", port=1, publish=1, command=(), env_parts=[], peers=(), secrets=(), bind_dirs=[], volume_specs=[],
        health=None, health_cmd="", config_hash="abcdef", extra_ports=(), secret_files=(), data=(),
    )
    render_template("user-data.sh.j2", **good)
    with pytest.raises(TypeError):
        render_template("user-data.sh.j2", **{**good, "log_group": None})


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "overrides",
    [
        dict(stack="Shop"),
        dict(stack="shop\nrm -rf /"),
        dict(service="web;x"),
        dict(service=""),
        dict(config_hash="xyz"),
        dict(config_hash="abc123\n"),
        dict(region="eu-west-1; x"),
        dict(image=f"{LOCAL_REGISTRY}/shop/web:latest"),
        dict(image=f"{LOCAL_REGISTRY}/shop/web:latest@sha256:abc"),
        dict(image=f"evil.example/shop/web@{DIGEST}"),
        dict(image=f"{LOCAL_REGISTRY}/shop/web @{DIGEST}"),
        dict(port=0),
        dict(publish=70000),
        dict(port=True),
        dict(env=(("1BAD", "x"),)),
        dict(env=(("A B", "x"),)),
        dict(env=(("A", "x"), ("A", "y"))),
        dict(env=(("A", "nul\x00"),)),
        dict(command=("a\x00b",)),
        dict(volumes=(Volume("/a:b", "/c"),)),
        dict(volumes=(Volume("/a", "relative"),)),
        dict(volumes=(Volume("rel/path", "/c"),)),
        dict(health=Health("no-slash", 1, 1, 1, 0)),
        dict(health=Health("/a b", 1, 1, 1, 0)),
        dict(health=Health("/a\nb", 1, 1, 1, 0)),
        dict(health=Health("/", 0, 1, 1, 0)),
        dict(log_group=""),
    ],
)
def test_validation_rejects(overrides) -> None:
    with pytest.raises(ValueError):
        render_user_data(ctx(**overrides))


def test_names_and_references_follow_the_spec_grammar() -> None:
    """One grammar: the renderer checks names, env names, health paths and peer references with the
    definitions validate uses (spec/grammar.py), not copies that can drift."""
    from liftshift.spec import grammar

    assert render.NAME_RE is grammar.NAME_RE and render.ENV_NAME_RE is grammar.ENV_NAME_RE
    assert render.HTTP_PATH_RE is grammar.HTTP_PATH_RE and render.PEER_REF_RE is grammar.PEER_REF_RE


def test_names_of_32_characters_render_and_33_are_refused() -> None:
    """Stack and service names are 1-32 characters, as app.yaml says (until this refactor the renderer
    allowed 63, which no loaded app.yaml could reach: the launch template name would exceed 128)."""
    longest = "a" * 32
    render_user_data(ctx(stack=longest, service=longest))
    for overrides in (dict(stack="a" * 33), dict(service="a" * 33), dict(service="a" * 63)):
        with pytest.raises(ValueError, match="must match"):
            render_user_data(ctx(**overrides))


def test_peer_references_render_as_the_peers_address() -> None:
    out = render_user_data(ctx(env=(("API", "${service.api.url}/v1"), ("P", "${service.api.port}")),
                               peers=(render.Peer("api", 8081, "0123abcd"),)))
    assert "${service.api" not in out
    assert "peer_names=( api)" in out
    assert "-e API=http://\"${peer_hosts[0]}\":8081/v1" in out and "-e P=8081" in out


@pytest.mark.parametrize("value", ["${service.api.URL}", "${service.api.address}", "${service.Api.url}",
                                   "${service.api.url.x}", "${service..url}"])
def test_near_miss_peer_references_are_refused_not_passed_on(value) -> None:
    """What validate refuses (tests/test_spec.py) the renderer refuses too, rather than pass the text on to
    the container literally as it did before the one grammar (no app.yaml could reach that)."""
    with pytest.raises(ValueError, match="env A"):
        render_user_data(ctx(env=(("A", value),), peers=(render.Peer("api", 8081, "0123abcd"),)))


def test_image_only_by_digest() -> None:
    out = render_user_data(ecr_ctx())
    repo = f"{ECR_REGISTRY}/shop/web"
    occurrences = [m.end() for m in re.finditer(re.escape(repo), out)]
    assert occurrences, "image missing"
    for end in occurrences:
        assert out[end:].startswith("@" + DIGEST)
    assert f"image={repo}@{DIGEST}\n" in out


def test_header_and_labels() -> None:
    out = render_user_data(ctx())
    head = out.splitlines()[:4]
    assert head[0] == "#!/bin/bash"
    assert any("shop" in line and "web" in line and "0123abcd" in line for line in head)
    assert any("generated by liftshift; do not edit" in line for line in head)
    assert "set -euo pipefail" in out


def test_ecr_login_only_for_ecr() -> None:
    assert "aws ecr get-login-password" not in render_user_data(ctx())
    out = render_user_data(ecr_ctx())
    assert "aws ecr get-login-password --region" in out
    assert "docker login --username AWS --password-stdin" in out


# --------------------------------------------------------------------------- shellcheck


@needs_shellcheck
@pytest.mark.parametrize("kind", ["minimal", "minimal-ecr", "full", "full-ecr", "hostile", "hostile-ecr"])
def test_shellcheck_clean(kind: str, tmp_path: Path) -> None:
    base = tmp_path / "vols"
    c = {
        "minimal": lambda: ctx(),
        "minimal-ecr": lambda: ecr_ctx(),
        "full": lambda: full_ctx(base),
        "full-ecr": lambda: ecr_ctx(**{k: getattr(full_ctx(base), k) for k in ("command", "env", "volumes", "health")}),
        "hostile": lambda: hostile_ctx(base),
        "hostile-ecr": lambda: hostile_ctx(base, registry_is_ecr=True),
    }[kind]()
    shellcheck(render_user_data(c), tmp_path)


# --------------------------------------------------------------------------- execution


@pytest.mark.parametrize("kind", ["minimal", "full", "hostile"])
def test_stand_in_argv_exact(kind: str, tmp_path: Path) -> None:
    base = tmp_path / "vols"
    c = {"minimal": ctx, "full": lambda: full_ctx(base), "hostile": lambda: hostile_ctx(base)}[kind]()
    h = run_stand_in(c, tmp_path / "h", LIFTSHIFT_INSTANCE_ID="i-test", LIFTSHIFT_PUBLISH_PORT="18080")
    runs = h.calls_of("docker", "run")
    assert len(runs) == 1
    name = "liftshift-shop-web-i-test"
    expected = ["run", "-d", "--restart", "unless-stopped"] + expected_run_args(
        c, name=name, publish=18080, instance="i-test", stand_in=True
    )
    assert runs[0] == expected
    assert h.calls_of("docker", "pull") == [["pull", c.image]]
    assert h.calls_of("docker", "rm") == [["rm", "-f", name]]
    # no systemd, no dnf, no IMDS, no aws on the stand-in path
    assert {n for n, _ in h.calls()} == {"docker"}
    for vol in c.volumes:
        assert Path(vol.host).is_dir()


def test_stand_in_defaults(tmp_path: Path) -> None:
    c = ecr_ctx()
    h = run_stand_in(c, tmp_path)
    (run,) = h.calls_of("docker", "run")
    assert run[run.index("--name") + 1] == "liftshift-shop-web-local"
    assert run[run.index("-p") + 1] == "80:8080"
    assert "liftshift.instance=local" in run
    assert h.calls_of("docker", "login") == [] and h.calls_of("aws") == []


def test_bind_mounts_of_existing_files_are_bound_and_missing_paths_made(tmp_path: Path) -> None:
    config = tmp_path / "app.conf"
    config.write_text("x")
    missing = tmp_path / "data" / "deep"
    c = ctx(volumes=(Volume(str(config), "/etc/app.conf", read_only=True), Volume(str(missing), "/data")))
    h = run_stand_in(c, tmp_path / "h")
    assert config.is_file() and config.read_text() == "x"  # not replaced, not an error
    assert missing.is_dir()
    (run,) = h.calls_of("docker", "run")
    assert f"{config}:/etc/app.conf:ro" in run and f"{missing}:/data" in run


@pytest.mark.parametrize("var,value", [("LIFTSHIFT_INSTANCE_ID", "a b"), ("LIFTSHIFT_INSTANCE_ID", "$(x)"),
                                       ("LIFTSHIFT_PUBLISH_PORT", "80;x"), ("LIFTSHIFT_PUBLISH_PORT", "")])
def test_stand_in_rejects_bad_overrides(var: str, value: str, tmp_path: Path) -> None:
    h = Harness(tmp_path)
    env = {"LIFTSHIFT_STAND_IN": "1", var: value}
    if var == "LIFTSHIFT_PUBLISH_PORT" and value == "":
        # empty means "not set" for ${VAR:-default}: the rendered port is used
        res = h.run(render_user_data(ctx()), **env)
        assert res.returncode == 0
        return
    res = h.run(render_user_data(ctx()), **env)
    assert res.returncode != 0
    assert h.calls_of("docker", "run") == []


def test_env_values_not_printed(tmp_path: Path) -> None:
    secret = "s3cr3t-value-do-not-print"
    h = Harness(tmp_path)
    res = h.run(render_user_data(ctx(env=(("TOKEN", secret),))), LIFTSHIFT_STAND_IN="1")
    assert res.returncode == 0
    assert secret.encode() not in res.stdout + res.stderr


def _systemd_script(c: UserDataContext, root: Path) -> tuple[str, Path, Path, Path]:
    sysrun, unit_dir, lib_dir = root / "run-systemd", root / "units", root / "lib"
    sysrun.mkdir()
    unit_dir.mkdir()
    script = render_user_data(c)
    for old, new in (
        ("systemd_run_dir=/run/systemd/system\n", f"systemd_run_dir={shell_quote(str(sysrun))}\n"),
        ("unit_dir=/etc/systemd/system\n", f"unit_dir={shell_quote(str(unit_dir))}\n"),
        ("lib_dir=/usr/local/lib/liftshift\n", f"lib_dir={shell_quote(str(lib_dir))}\n"),
    ):
        assert script.count(old) == 1
        script = script.replace(old, new)
    return script, sysrun, unit_dir, lib_dir


@pytest.mark.parametrize("kind", ["full", "hostile"])
def test_systemd_path_run_script_matches(kind: str, tmp_path: Path) -> None:
    base = tmp_path / "vols"
    c = hostile_ctx(base, registry_is_ecr=True) if kind == "hostile" else ecr_ctx(
        **{k: getattr(full_ctx(base), k) for k in ("command", "env", "volumes", "health")}
    )
    script, _, unit_dir, lib_dir = _systemd_script(c, tmp_path)
    h = Harness(tmp_path / "h")
    res = h.run(script)
    assert res.returncode == 0, res.stderr.decode(errors="replace")[-3000:]
    assert_no_injection()

    # ECR login via the instance role, password on stdin only
    assert h.calls_of("aws") == [["ecr", "get-login-password", "--region", "eu-west-1"]]
    assert h.calls_of("docker", "login") == [["login", "--username", "AWS", "--password-stdin", ECR_REGISTRY]]
    assert (h.log / "login-stdin").read_text() == "secret-password"
    # IMDSv2: token PUT then instance-id GET with the token
    curls = h.calls_of("curl")
    assert len(curls) == 2
    assert "PUT" in curls[0] and "X-aws-ec2-metadata-token-ttl-seconds: 300" in curls[0]
    assert curls[0][-1] == "http://169.254.169.254/latest/api/token"
    assert "X-aws-ec2-metadata-token: TOKEN123" in curls[1]
    assert curls[1][-1] == "http://169.254.169.254/latest/meta-data/instance-id"
    # systemd wiring; no direct docker run from user-data
    assert h.calls_of("docker", "run") == []
    assert h.calls_of("systemctl") == [
        ["enable", "--now", "docker"],
        ["daemon-reload"],
        ["enable", "--now", "liftshift-web.service"],
        ["restart", "liftshift-web.service"],
    ]
    run_script = lib_dir / "web.sh"
    assert stat.S_IMODE(run_script.stat().st_mode) == 0o700
    if shutil.which("shellcheck"):
        shellcheck(run_script.read_text(), tmp_path)
    unit = (unit_dir / "liftshift-web.service").read_text()
    for line in ("After=docker.service network-online.target", "Requires=docker.service", "Restart=always",
                 "RestartSec=5", f"ExecStart={run_script}", "WantedBy=multi-user.target"):
        assert line in unit.splitlines()

    # Execute the generated run script: it must rm the old container, then exec
    # docker run with EXACTLY the shared argument list (no -d, no --restart).
    h2 = Harness(tmp_path / "h2")
    res = subprocess.run(["bash", str(run_script)], env=h2.env(), capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr
    assert_no_injection()
    name = "liftshift-shop-web"
    assert h2.calls_of("docker", "rm") == [["rm", "-f", name]]
    assert h2.calls_of("docker", "run") == [
        ["run"] + expected_run_args(c, name=name, publish=80, instance="i-0123456789abcdef0", stand_in=False)
    ]


def test_installs_docker_when_absent(tmp_path: Path) -> None:
    script, _, _, _ = _systemd_script(ctx(), tmp_path)
    h = Harness(tmp_path / "h")
    # docker "appears" only after dnf ran: the fake dnf installs the fake docker.
    docker = (h.bin / "docker").read_text()
    (h.bin / "docker").unlink()
    (h.bin / "dnf").write_text(
        FAKE_RECORDER.replace("exit 0\n", f"printf '%s' {shell_quote(docker)} >{shell_quote(str(h.bin / 'docker'))}\n"
                              f"chmod 755 {shell_quote(str(h.bin / 'docker'))}\nexit 0\n")
    )
    (tmp_path / "ud.sh").write_text(script)
    env = h.env()
    # hide any real docker on the machine from this test
    realbin = tmp_path / "realbin"
    realbin.mkdir()
    for tool in ("mkdir", "sleep", "find", "wc", "basename", "cat", "chmod", "mv", "bash", "printf"):
        src = shutil.which(tool)
        if src:
            os.symlink(src, realbin / tool)
    env["PATH"] = f"{h.bin}:{realbin}"
    res = subprocess.run(["bash", str(tmp_path / "ud.sh")], env=env, capture_output=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert h.calls_of("dnf") == [["install", "-y", "docker"]]


# --------------------------------------------------------------------------- property test

_safe_text = st.text(
    alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=40
)
_hostile_text = st.one_of(_safe_text, st.sampled_from(HOSTILE), st.tuples(st.sampled_from(HOSTILE), _safe_text).map("".join))
_seg = st.text(alphabet=st.characters(blacklist_characters="\x00/:", blacklist_categories=("Cs",)), max_size=30)
_env_name = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)


@given(
    env=st.dictionaries(_env_name, _hostile_text, max_size=5),
    command=st.one_of(st.none(), st.lists(_hostile_text, max_size=5).map(tuple)),
    vols=st.lists(st.tuples(_seg, _seg, st.booleans()), max_size=3),
    ecr=st.booleans(),
)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_property_stand_in_argv_round_trip(env, command, vols, ecr) -> None:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        volumes = tuple(
            Volume(str(root / "vols" / f"v{i}{h}"), f"/c{i}/{c}", ro) for i, (h, c, ro) in enumerate(vols)
        )
        kw = dict(env=tuple(sorted(env.items())), command=command, volumes=volumes)
        c = ecr_ctx(**kw) if ecr else ctx(**kw)
        h = run_stand_in(c, root / "h", LIFTSHIFT_INSTANCE_ID="i-prop")
        (run,) = h.calls_of("docker", "run")
        assert run == ["run", "-d", "--restart", "unless-stopped"] + expected_run_args(
            c, name="liftshift-shop-web-i-prop", publish=80, instance="i-prop", stand_in=True
        )
        # Explicitly: env pairs, volume specs and command args byte-for-byte.
        # Options end at the image: a command argument may itself be "-e" or "-v".
        options = run[:run.index(c.image)]
        envs = [options[i + 1] for i, a in enumerate(options[:-1]) if a == "-e"]
        assert envs == [f"{k}={v}" for k, v in sorted(env.items())]
        specs = [options[i + 1] for i, a in enumerate(options[:-1]) if a == "-v"]
        assert specs == [f"{v.host}:{v.container}" + (":ro" if v.read_only else "") for v in volumes]
        tail = run[run.index(c.image) + 1:]
        assert tail == list(command or ())


@needs_shellcheck
@given(
    env=st.dictionaries(_env_name, _hostile_text, max_size=4),
    command=st.lists(_hostile_text, max_size=4).map(tuple),
    seg=_seg,
)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_property_shellcheck_clean(env, command, seg) -> None:
    c = ecr_ctx(env=tuple(sorted(env.items())), command=command, volumes=(Volume("/srv/v" + seg, "/d/" + seg, True),))
    with tempfile.TemporaryDirectory() as d:
        shellcheck(render_user_data(c), Path(d))


# --------------------------------------------------------------------------- health probe


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        code = 200 if self.path == "/healthz?x=1" else 503
        self.send_response(code)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def http_port():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()


@pytest.mark.parametrize("tool", ["curl", "nc"])
def test_health_probe_runs_in_minimal_shell(tool: str, http_port: int, tmp_path: Path) -> None:
    """The probe as docker runs it: /bin/sh -c, with only one HTTP client available."""
    busybox = shutil.which("busybox")
    if tool == "nc" and not busybox:
        pytest.skip("busybox missing")
    if tool == "curl" and not shutil.which("curl"):
        pytest.skip("curl missing")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    if tool == "curl":
        os.symlink(shutil.which("curl"), bindir / "curl")
    for applet in ("nc", "head", "grep"):
        if busybox:
            os.symlink(busybox, bindir / applet)
    sh = shutil.which("sh")

    def probe(path: str) -> int:
        return subprocess.run([sh, "-c", health_probe(http_port, path)], env={"PATH": str(bindir)},
                              capture_output=True, timeout=20).returncode

    assert probe("/healthz?x=1") == 0
    assert probe("/nope") == 1


def test_health_probe_no_client_is_unhealthy() -> None:
    res = subprocess.run([shutil.which("sh"), "-c", health_probe(1, "/")], env={"PATH": "/nonexistent"})
    assert res.returncode == 1



@needs_shellcheck
@pytest.mark.parametrize("ecr", [False, True])
def test_template_code_clean_without_file_wide_disable(ecr: bool, tmp_path: Path) -> None:
    """The file-wide disable only exists for literal values; the template's own code passes without it."""
    c = full_ctx(tmp_path)
    if ecr:
        c = ecr_ctx(**{k: getattr(c, k) for k in ("command", "env", "volumes", "health")})
    out = render_user_data(c)
    directive = "# shellcheck disable=SC1003,SC1110,SC1111,SC1112,SC2016\n"
    assert out.count(directive) == 1
    # the health probe is a quoted literal with '%s' inside: keep it out of this check
    out = out.replace(shell_quote(health_probe(c.port, c.health.path)), "'probe'")
    shellcheck(out.replace(directive, ""), tmp_path)


# --------------------------------------------------------------------------- health commands (issue 12)

HEALTH_COMMANDS = [
    # (health.command as the context holds it, the exact --health-cmd argument docker gets)
    (("pg_isready", "-U", "app"), "pg_isready -U app"),
    (("redis-cli", "-a", "it's $HOME", "ping", "", "if"), "redis-cli -a 'it'\"'\"'s $HOME' ping '' 'if'"),
    ("redis-cli ping | grep -q PONG || exit 1", "redis-cli ping | grep -q PONG || exit 1"),
]


@pytest.mark.parametrize("command,expected", HEALTH_COMMANDS)
def test_a_health_command_is_the_exact_health_cmd_argument(command, expected, tmp_path: Path) -> None:
    """The exec form as a shell-quoted command line, the shell form as it is; the timings as with a path."""
    c = ctx(health=Health("/", interval=7, timeout=4, retries=2, start_period=9, command=command))
    h = run_stand_in(c, tmp_path, LIFTSHIFT_INSTANCE_ID="i-test", LIFTSHIFT_PUBLISH_PORT="18080")
    (run,) = h.calls_of("docker", "run")
    at = run.index("--health-cmd")
    assert run[at:at + 10] == ["--health-cmd", expected, "--health-interval", "7s", "--health-timeout", "4s",
                               "--health-retries", "2", "--health-start-period", "9s"]
    assert run.count("--health-cmd") == 1 and "http://127.0.0.1" not in " ".join(run)
    assert render.health_command_line(command) == expected


def test_an_exec_form_health_command_reaches_the_program_argument_by_argument(tmp_path: Path) -> None:
    """What docker does with --health-cmd (/bin/sh -c): each argument of the exec form arrives as written."""
    args = ("printf", "[%s]", "it's", "$HOME", "`x`", "a b", "", "*", "if", "é ☃")
    out = subprocess.run([shutil.which("sh"), "-c", render.health_command_line(args)], capture_output=True,
                         text=True, env={"PATH": "/usr/bin:/bin", "HOME": "/nowhere"}, cwd=tmp_path)
    assert out.returncode == 0 and out.stdout == "".join(f"[{a}]" for a in args[2:])


@needs_shellcheck
@pytest.mark.parametrize("command", [c for c, _ in HEALTH_COMMANDS] + [
    ("probe", *(v for v in HOSTILE if not char_problem(v))),  # every hostile value validate lets through
    "; ".join(v for v in HOSTILE if v and not char_problem(v))])
def test_a_health_command_renders_shellcheck_clean(command, tmp_path: Path) -> None:
    for c in (ctx(health=Health("/", 5, 3, 3, 5, command=command)),
              ecr_ctx(health=Health("/", 5, 3, 3, 5, command=command))):
        shellcheck(render_user_data(c), tmp_path)
    assert_no_injection()


def test_a_service_without_a_health_command_renders_as_before() -> None:
    """`command=None` is the default: the HTTP probe, byte for byte what a Health without the field rendered."""
    h = Health("/healthz", 10, 3, 3, 5)
    assert h.command is None
    out = render_user_data(ctx(health=h))
    assert f"--health-cmd {shell_quote(health_probe(8080, '/healthz'))}" in out


@pytest.mark.parametrize("command", [(), ("",), "", ("a\nb",), "a\tb", "x\x00", ("ok", "\x1b[31m"), ["list"]])
def test_validation_rejects_bad_health_commands(command) -> None:
    with pytest.raises(ValueError, match="health command"):
        render_user_data(ctx(health=Health("/", 1, 1, 1, 0, command=command)))


def test_the_in_place_update_finds_a_health_command_in_the_rendered_user_data() -> None:
    """health_command_container reads the release's own user-data: the container's EC2 name and config
    for a health command; None for the HTTP probe and for no health check."""
    find = render.health_command_container
    assert find(render_user_data(ctx())) is None
    assert find(render_user_data(ctx(health=Health("/", 1, 1, 1, 0)))) is None
    assert find(render_user_data(hostile_ctx(Path("/tmp/x")))) is None
    for command, _ in HEALTH_COMMANDS:
        out = render_user_data(ecr_ctx(health=Health("/", 1, 1, 1, 0, command=command)))
        assert find(out) == ("liftshift-shop-web", "0123abcd")
    # a reserved word as a name is quoted in the header; env values (even multi-line) come after the check
    out = render_user_data(ctx(service="done", env=(("A", "\n  --health-cmd x\n"),),
                               health=Health("/", 1, 1, 1, 0, command=("pg_isready",))))
    assert find(out) == ("liftshift-shop-done", "0123abcd")
    assert find(render_user_data(ctx(env=(("A", "\n  --health-cmd x\n"),)))) is None
    assert find("#!/bin/bash\necho not ours\n") is None
