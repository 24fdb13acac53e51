"""What a run shows: the live terminal display (a fake terminal: rich's Console(force_terminal=True) on a StringIO),
plain lines off a terminal (CI), only warnings with -o json or --quiet, NO_COLOR; the JSON error document of every
command (a spec error, a failed step, a usage error); and on moto, deploy -o json gives exactly one JSON document
while destroy's plain lines name each finished step with its time."""

from __future__ import annotations

import io
import json
import re
import time
from types import SimpleNamespace

import jsonschema
import pytest
from typer.testing import CliRunner

from liftshift import progress
from liftshift.cli.base import app
from liftshift.model.steps import Action, Kind, Step
from liftshift.output_schema import output_schema
from support.terminal import screen_lines

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TIME = r"\d+\.\ds"
CREATE = Step(Action.CREATE, Kind.SECURITY_GROUP, "shop-web", "web", ())
UPDATE = Step(Action.UPDATE, Kind.LAUNCH_TEMPLATE, "shop-web", "web", ())
GATE = Step(Action.WAIT, Kind.RELEASE_HEALTHY, "web #3", "web", ())


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def fake_terminal(verbose: bool = False):
    from rich.console import Console

    from liftshift.progress_live import TerminalProgress

    screen = io.StringIO()
    sink = TerminalProgress(verbose=verbose, console=Console(force_terminal=True, file=screen, width=120))
    return sink, screen


def plain(text: str) -> str:
    return ANSI.sub("", text)


def finished_lines(screen: io.StringIO) -> list[str]:
    """What stays on the screen: live lines (one per running step) are redrawn and erased with cursor movement,
    which support/terminal.py follows."""
    return screen_lines(screen.getvalue())


# --------------------------------------------------------------------------- the terminal


def test_a_terminal_shows_a_live_line_with_a_spinner_and_time_then_one_finished_line_per_step():
    sink, screen = fake_terminal()
    sink.phase("applying 3 change(s) to shop")
    sink.step_started(CREATE)
    live = plain(screen.getvalue())
    assert re.search(r"[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] \[web\] create security group shop-web  " + TIME, live), live
    time.sleep(0.15)
    sink.step_done(CREATE)
    sink.step_started(UPDATE)
    sink.step_done(UPDATE)
    sink.step_started(GATE)
    sink.step_failed(GATE, RuntimeError("unhealthy"))
    progress.settle(ok=False)
    lines = finished_lines(screen)
    assert lines[0] == "applying 3 change(s) to shop"  # the phase's header, once, before its steps
    assert re.fullmatch(r"  ✓ \[web\] create security group shop-web  0\.[1-9]s", lines[1]), lines
    assert re.fullmatch(r"  ~ \[web\] update launch template shop-web  " + TIME, lines[2]), lines
    assert re.fullmatch(r"  ✗ \[web\] wait release healthy web #3  " + TIME, lines[3]), lines
    assert len(lines) == 4  # each step once; the live line is gone (transient)
    assert screen.getvalue().endswith("\x1b[?25h\r\x1b[1A\x1b[2K")  # cursor shown again, live line erased


def test_a_long_step_name_is_cut_in_the_middle_and_its_time_still_shows():
    from rich.console import Console

    from liftshift.progress_live import TerminalProgress

    screen = io.StringIO()
    sink = TerminalProgress(console=Console(force_terminal=True, file=screen, width=60))
    push = Step(Action.PUSH, Kind.IMAGE, "127.0.0.1:5000/shop/web:img-" + "0123456789abcdef" * 4, "web", ())
    sink.step_started(push)
    sink.step_done(push)
    progress.settle()
    (line,) = finished_lines(screen)
    assert len(line) <= 60 and "…" in line and line.startswith("  ✓ [web] push image 127.0.0.1:5000/")
    assert re.search(r"cdef  " + TIME + "$", line), line


def test_a_phase_without_steps_ends_as_one_line_and_build_output_stays_in_the_live_line_unless_verbose():
    for verbose in (False, True):
        sink, screen = fake_terminal(verbose)
        sink.phase("reading stack shop in eu-west-1")
        sink.phase("building web from .")
        sink.build_output("web", "Step 1/2 : FROM busybox")
        assert "Step 1/2 : FROM busybox" in plain(screen.getvalue()) or not verbose  # the next tick draws it
        sink.note("web #3: 1/2 healthy; i-1 initial")  # progress chatter: the live line's detail
        sink.note("warning: SSH is open to the internet")
        progress.settle()
        lines = finished_lines(screen)
        assert re.fullmatch(r"✓ reading stack shop in eu-west-1  " + TIME, lines[0]), lines
        assert "  warning: SSH is open to the internet" in lines
        assert re.fullmatch(r"✓ building web from \.  " + TIME, lines[-1]), lines
        shown = ("    [web] Step 1/2 : FROM busybox" in lines, "    web #3: 1/2 healthy; i-1 initial" in lines)
        assert shown == (verbose, verbose), lines


def test_a_failed_phase_ends_with_a_cross_and_the_display_starts_again_after_settling():
    sink, screen = fake_terminal()
    sink.phase("building web from .")
    progress.settle(ok=False)
    assert re.fullmatch(r"✗ building web from \.  " + TIME, finished_lines(screen)[-1])
    sink.phase("pushing images")  # e.g. after destroy's question: drawing again
    assert progress._OPEN == [sink]
    progress.settle()
    assert progress._OPEN == []


# --------------------------------------------------------------------------- which sink


def test_the_sink_follows_the_terminal_json_quiet_and_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    kind = lambda **kw: type(progress.make_progress(**kw)).__name__  # noqa: E731
    assert kind(stream=Tty()) == "TerminalProgress"
    assert kind(stream=io.StringIO()) == "LineProgress"  # CI: not a terminal
    assert kind(stream=Tty(), json=True) == kind(stream=Tty(), quiet=True, verbose=True) == "WarningsOnly"
    monkeypatch.setenv("NO_COLOR", "1")
    assert kind(stream=Tty()) == "LineProgress"  # no colour, no spinner: plain lines
    monkeypatch.setenv("NO_COLOR", "")  # https://no-color.org: set *and not empty*
    assert kind(stream=Tty()) == "TerminalProgress"
    monkeypatch.setenv("TERM", "dumb")
    assert kind(stream=Tty()) == "LineProgress"
    progress.settle()


def test_no_color_on_a_terminal_gives_plain_lines_without_escape_codes(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    screen = Tty()
    sink = progress.make_progress(stream=screen)
    sink.phase("applying 1 change(s) to shop")
    sink.step_started(CREATE)
    sink.step_done(CREATE)
    assert "\x1b" not in screen.getvalue() and "\r" not in screen.getvalue()
    assert re.fullmatch(r"==> applying 1 change\(s\) to shop\n  ✓ \[web\] create security group shop-web \(" + TIME
                        + r"\)\n", screen.getvalue())


def test_off_a_terminal_each_finished_step_is_one_plain_line_with_its_time():
    stream = io.StringIO()
    sink = progress.LineProgress(stream)
    sink.phase("applying 3 change(s) to shop")
    for step in (CREATE, UPDATE):
        sink.step_started(step)
        sink.step_done(step)
    sink.step_started(GATE)
    sink.step_failed(GATE, RuntimeError("unhealthy"))
    sink.build_output("web", "Sending build context")  # collapsed without --verbose
    sink.note("web #3: 1/2 healthy")
    lines = stream.getvalue().splitlines()
    assert lines[0] == "==> applying 3 change(s) to shop"
    assert re.fullmatch(r"  ✓ \[web\] create security group shop-web \(" + TIME + r"\)", lines[1])
    assert re.fullmatch(r"  ~ \[web\] update launch template shop-web \(" + TIME + r"\)", lines[2])
    assert re.fullmatch(r"  ✗ \[web\] wait release healthy web #3 \(" + TIME + r"\)", lines[3])
    assert lines[4:] == ["     web #3: 1/2 healthy"]


def test_a_log_that_cannot_write_the_marks_gets_words():
    stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    sink = progress.LineProgress(stream)
    sink.step_started(CREATE)
    sink.step_done(CREATE)
    sink.step_started(GATE)
    sink.step_failed(GATE, RuntimeError())
    stream.seek(0)
    assert [line.split(" (")[0] for line in stream.read().splitlines()] == [
        "  ok [web] create security group shop-web", "  FAILED [web] wait release healthy web #3"]


def test_json_and_quiet_show_warnings_only():
    stream = io.StringIO()
    sink = progress.WarningsOnly(stream)
    sink.phase("reading")
    sink.step_started(CREATE)
    sink.step_done(CREATE)
    sink.build_output("web", "Step 1/2 : FROM busybox")
    sink.note("note: t3 types are not offered in us-east-1e")
    sink.note("warning: SSH is open to the internet")
    assert stream.getvalue() == "warning: SSH is open to the internet\n"


def test_seconds_read_short():
    assert [progress.seconds_text(s) for s in (0.04, 12.345, 92, 3725)] == ["0.0s", "12.3s", "1m32s", "1h02m"]


def test_the_deploy_summary_counts_changes_and_says_where_the_app_answers_and_how_long_it_took():
    from liftshift.report import deploy_text

    service = {"declared": True, "internal": False, "count": 1, "image": "sha256:1", "extra_ports": [], "data": [],
               "load_balancer": None, "instances": [
                   {"id": "i-1", "state": "running", "zone": "eu-west-1a", "public_ip": "203.0.113.7",
                    "private_ip": "10.0.0.7", "address": None}]}
    change = lambda action: {"action": action, "kind": "k", "name": "n", "service": "web", "detail": ""}  # noqa
    data = {"stack": "shop", "region": "eu-west-1", "target": "aws", "changed": True, "services": {
        "web": service, "db": dict(service, internal=True)},
        "changes": [change("create"), change("create"), change("update"), change("wait")]}
    lines = deploy_text(data, 92.0).splitlines()
    assert lines[:3] == ["Deployed stack shop to eu-west-1 in 1m32s: 4 change(s) (2 created, 1 updated, 1 wait(s)).",
                         "  web answers at 203.0.113.7",
                         "  db is internal: only the stack's services reach it"]
    lb = {"name": "shop-web", "address": "http://shop-web.elb.example:80", "release": 3}
    data = dict(data, changed=False, changes=[], services={"web": dict(service, load_balancer=lb)})
    assert deploy_text(data, 3.0).splitlines()[:2] == [
        "No changes: stack shop is up to date. Checked in 3.0s.", "  web answers at http://shop-web.elb.example:80"]


# --------------------------------------------------------------------------- errors as JSON


ERROR_SCHEMA = jsonschema.Draft202012Validator(output_schema("error"))  # the documented error shape


def test_a_spec_error_with_json_output_is_one_json_document_with_exit_code_2(tmp_path):
    app_yaml = tmp_path / "app.yaml"
    app_yaml.write_text("version: 1\nname: shop\nservices:\n  web:\n    image: busybox\n    prot: 8080\n")
    for command in (["deploy"], ["plan"], ["status"], ["destroy", "--yes"]):
        result = CliRunner().invoke(app, [*command, str(app_yaml), "-o", "json"])
        assert result.exit_code == 2, result.output
        doc = json.loads(result.stdout)  # exactly one document: json.loads refuses trailing text
        assert doc["exit_code"] == 2 and doc["kind"] == "SpecError"
        assert list(ERROR_SCHEMA.iter_errors(doc)) == []
        assert (doc["file"], doc["line"], doc["key"]) == (str(app_yaml), 6, "services.web.prot")
        assert doc["error"].startswith(f"{app_yaml}:6: services.web.prot: unknown field")
        assert result.stderr == f"error: {doc['error']}\n"  # the message for the log too, and nothing else
        text = CliRunner().invoke(app, [*command, str(app_yaml)])
        assert text.exit_code == 2 and text.stdout == "" and text.stderr == result.stderr


def test_every_failure_a_command_maps_is_a_json_document_with_json_output(monkeypatch, tmp_path):
    from liftshift.apply.executor import StepFailed
    from liftshift.cli import status as cli_status
    from liftshift.pipeline import status as status_module

    monkeypatch.setattr(cli_status, "load", lambda file, env=None: (SimpleNamespace(name="shop"), tmp_path))
    monkeypatch.setattr(cli_status, "open_target", lambda spec, opts, quiet=False: None)
    for exc, code in ((StepFailed(CREATE, "CreateSecurityGroup failed: boom"), 1), (KeyboardInterrupt(), 1)):
        def fails(*args, **kwargs):
            raise exc

        monkeypatch.setattr(status_module, "status", fails)
        result = CliRunner().invoke(app, ["status", "app.yaml", "--output", "json"])
        doc = json.loads(result.stdout)
        assert result.exit_code == doc["exit_code"] == code and list(ERROR_SCHEMA.iter_errors(doc)) == []
        assert doc["kind"] == type(exc).__name__ and result.stderr.startswith(f"error: {doc['error'].splitlines()[0]}")
        if isinstance(exc, StepFailed):
            assert doc["step"] == {"action": "create", "kind": "security group", "name": "shop-web", "service": "web"}
            assert doc["error"].startswith("deployment failed at create security group shop-web")


def test_a_command_that_printed_its_result_and_then_fails_keeps_stdout_one_document(monkeypatch, tmp_path):
    """verify exits 3 after its result (so do plan --strict and runbook --check): no error document follows it."""
    from liftshift.cli import verify as cli_verify
    from liftshift.pipeline import verify as verify_module

    result = {"stack": "shop", "region": "eu-west-1", "target": "aws", "passed": False, "checks": [
        {"ok": False, "service": "web", "check": "health", "target": "i-1", "detail": "no answer"}]}
    monkeypatch.setattr(cli_verify, "load", lambda file, env=None: (SimpleNamespace(name="shop"), tmp_path))
    monkeypatch.setattr(cli_verify, "open_target", lambda spec, opts, quiet=False: None)
    monkeypatch.setattr(verify_module, "verify", lambda spec, target: result)
    failed = CliRunner().invoke(app, ["verify", "app.yaml", "-o", "json"])
    assert failed.exit_code == 3 and json.loads(failed.stdout) == result
    assert failed.stderr.startswith("error: 1 of 1 check(s) of stack shop failed: web: health i-1: no answer")


@pytest.mark.parametrize("argv", [["deploy", "app.yaml", "--bogus", "-o", "json"], ["deploy", "-o", "json"],
                                  ["deploy", "app.yaml", "--output=json", "--lock-wait", "soon"],
                                  ["status", "app.yaml", "-ojson", "--target", "moon"]])
def test_a_usage_error_with_json_output_is_the_json_error_document_too(argv):
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["exit_code"] == 2 and doc["error"] and result.stderr == f"error: {doc['error']}\n"
    assert list(ERROR_SCHEMA.iter_errors(doc)) == []


def test_a_usage_error_without_json_is_clicks_own_message():
    result = CliRunner().invoke(app, ["deploy", "app.yaml", "--bogus"])
    assert result.exit_code == 2 and result.stdout == "" and "No such option: --bogus" in result.stderr


def test_json_output_that_succeeds_still_exits_0_with_one_document(monkeypatch, tmp_path):
    from liftshift.cli import status as cli_status
    from liftshift.pipeline import status as status_module

    monkeypatch.setattr(cli_status, "load", lambda file, env=None: (SimpleNamespace(name="shop"), tmp_path))
    monkeypatch.setattr(cli_status, "open_target", lambda spec, opts, quiet=False: None)
    monkeypatch.setattr(status_module, "status", lambda spec, target: {"stack": "shop"})
    result = CliRunner().invoke(app, ["status", "app.yaml", "-o", "json"])
    assert result.exit_code == 0 and json.loads(result.stdout) == {"stack": "shop"} and result.stderr == ""


# --------------------------------------------------------------------------- a real run (moto, Docker, a registry)


@pytest.fixture
def on_moto(deploy_env, stack_dir, unique, docker_client):
    """The hello stack on moto; destroyed afterwards even when the test fails."""
    app_yaml = str(stack_dir / "app.yaml")
    yield app_yaml
    CliRunner().invoke(app, ["destroy", app_yaml, "--yes", "-q"])


def test_deploy_json_is_one_document_quiet_prints_only_the_result_and_ci_lines_have_times(on_moto, unique):
    deployed = CliRunner().invoke(app, ["deploy", on_moto, "-o", "json"])
    assert deployed.exit_code == 0, deployed.output
    report = json.loads(deployed.stdout)  # one document and nothing else on stdout
    assert report["stack"] == unique and report["changed"] and report["services"]["web"]["instances"]
    assert deployed.stderr == ""  # no progress with -o json (and this stack has no warnings)

    again = CliRunner().invoke(app, ["deploy", on_moto, "--quiet"])
    assert again.exit_code == 0, again.output
    assert again.stderr == ""  # --quiet: no progress
    assert re.fullmatch(rf"No changes: stack {unique} is up to date\. Checked in {TIME}\.", again.stdout.splitlines()[0])

    destroyed = CliRunner().invoke(app, ["destroy", on_moto, "--yes"])
    assert destroyed.exit_code == 0, destroyed.output
    removed = json.loads(CliRunner().invoke(app, ["status", on_moto, "-o", "json"]).stdout)["services"]
    assert not removed.get("web", {}).get("instances")
    steps = [line for line in destroyed.stderr.splitlines() if line.startswith("  ✓ ") or line.startswith("  ~ ")]
    assert steps and all(re.fullmatch(r"  [✓~] (\[[\w-]+\] )?\w+ [\w ]+ .+ \(" + TIME + r"\)", s) for s in steps), steps
    assert len(steps) == len(set(steps))  # each step once
    assert not [line for line in destroyed.stderr.splitlines() if line.lstrip().startswith(("..", "ok "))]
    assert destroyed.stdout.startswith("Removed ")


def run_on_a_terminal(args: list[str], cwd, extra_env: dict[str, str], deadline: float = 180.0):
    """liftshift in a subprocess whose stderr (and stdin) is a pseudo-terminal; stdout a pipe. Killed (and the test
    failed) past `deadline`, so a display that hangs cannot hang the suite."""
    import os
    import pty
    import select
    import subprocess
    import sys

    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(COLUMNS="110", TERM="xterm-256color", **extra_env)
    proc = subprocess.Popen([sys.executable, "-m", "liftshift.cli", *args], stdin=slave, stdout=subprocess.PIPE,
                            stderr=slave, cwd=cwd, env=env)
    os.close(slave)
    screen = b""
    end = time.monotonic() + deadline
    try:
        while time.monotonic() < end:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not data:
                    break
                screen += data
            elif proc.poll() is not None:
                break
        else:
            pytest.fail(f"liftshift {' '.join(args)} did not finish within {deadline} s on a terminal")
        out = proc.stdout.read().decode()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return proc.returncode, screen.decode(errors="replace"), out


def test_a_deploy_on_a_terminal_draws_live_lines_and_with_no_color_plain_ones(on_moto, unique):
    code, screen, out = run_on_a_terminal(["deploy", on_moto], None, {})
    assert code == 0, screen
    assert "\x1b[?25l" in screen and re.search(r"[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] ", plain(screen))  # a live line: cursor hidden, spinner
    lines = finished_lines(io.StringIO(screen.replace("\r\n", "\n")))
    assert "pushing images" in lines and f"applying 8 change(s) to {unique}" in lines, lines
    assert re.search(rf"\n  ✓ \[web\] create security group liftshift\.{unique}\.web  {TIME}\n", "\n".join(lines) + "\n")
    assert not [line for line in lines if re.match(r"\s*[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]", line)]  # no live line left behind
    assert re.match(rf"Deployed stack {unique} to eu-west-1 in {TIME}: 10 change\(s\) \(6 created, 1 pushed, "
                    r"1 launched, 1 wait\(s\), 1 updated\)\.\n  web answers at \d+\.\d+\.\d+\.\d+\n", out), out

    code, screen, out = run_on_a_terminal(["deploy", on_moto], None, {"NO_COLOR": "1"})
    assert code == 0, screen
    assert "\x1b" not in screen and "⠋" not in screen  # no colour, no spinner, no cursor movement
    assert screen.replace("\r\n", "\n").startswith("==> ")
    assert out.startswith(f"No changes: stack {unique} is up to date. Checked in ")


def test_rich_loads_only_to_draw_on_a_terminal():
    import subprocess
    import sys

    code = ("import io, sys, liftshift.cli, liftshift.progress as p; p.make_progress(stream=io.StringIO()); "
            "p.make_progress(json=True); print('rich' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
