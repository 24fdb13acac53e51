"""`liftshift init [DIR]`: look at an app directory, plan the files it needs, check them, write them.

    detect(directory)   which kind of app it is -> a Guess (init_python, init_kinds), pure
    plan_files(...)     the Guess -> app.yaml, Dockerfile, .dockerignore as text (data), pure
    init_app(...)       the above, then app.yaml checked with spec/ (in a scratch directory), then written;
                        never over an existing file unless --force; the result as data (-o json prints it)

A compose file is handed to `import compose` (migrate/__init__.py), which has its own mapping and checks.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Mapping, Optional

from ..errors import BadInput
from .files import write
from .init_scan import WRITTEN_MARK, Guess, Scan

SERVICE = "web"
LOOKED_FOR = ("a compose file (compose.yaml, docker-compose.yml ...), a Dockerfile, Python (requirements.txt, "
              "pyproject.toml, *.py), Node (package.json), Java (pom.xml, build.gradle, *.jar), Go (go.mod), "
              "a static site (index.html)")


def detect(directory: Path) -> Guess:
    """The first kind that fits, in the order: own Dockerfile, Python, Node, Java, Go, static site."""
    from . import init_kinds as kinds
    from . import init_python as python

    scan = Scan(directory)
    if scan.has("Dockerfile") and not scan.read("Dockerfile").startswith(WRITTEN_MARK):
        return kinds.detect_dockerfile(scan)
    candidates = [("Python", python.recognise(scan), python.detect), ("Node", scan.has("package.json"),
                  kinds.detect_node), ("Java", kinds.recognise_java(scan), kinds.detect_java),
                  ("Go", scan.has("go.mod"), kinds.detect_go), ("static", kinds.recognise_static(scan),
                                                                kinds.detect_static)]
    fits = [(name, fn) for name, ok, fn in candidates if ok]
    if not fits:
        raise BadInput(f"{directory}: no app that init recognises (looked for {LOOKED_FOR}); nothing written")
    first_error: Optional[BadInput] = None
    for kind, detect_kind in fits:
        try:
            guess = detect_kind(scan)
        except BadInput as exc:  # e.g. a helper *.py beside a Node app: try the next kind that fits
            first_error = first_error or exc
            continue
        others = [n for n, _ in fits if n not in (kind, "static")]
        if others:
            guess.checks.append(f"also found {', '.join(others)} files: init containerised the {kind} app only; "
                                "a second service needs its own directory and Dockerfile")
        return guess
    raise first_error or BadInput(f"{directory}: no app that init recognises")


def with_base_image(guess: Guess, image: Optional[str]) -> Guess:
    """--base-image: the image the app runs on (the last FROM); a build stage keeps its own."""
    if not image:
        return guess
    if guess.dockerfile is None:
        guess.checks.append(f"--base-image {image} is not used: the app has its own Dockerfile")
        return guess
    old = f"\nFROM {guess.base_image}\n"
    head, sep, tail = guess.dockerfile.rpartition(old)
    guess.dockerfile = head + f"\nFROM {image}\n" + tail if sep else guess.dockerfile
    guess.base_image = image
    return guess


def app_data(guess: Guess, stack: str) -> tuple[dict[str, Any], dict[tuple, str]]:
    """app.yaml as data, and the comments that say what was guessed and what needs a decision."""
    at = ("services", SERVICE)
    service: dict[str, Any] = {"build": ".", "port": guess.port}
    comments = {at + ("port",): f"guessed: {guess.summary} listens here"}
    if guess.publish is not None:
        service["publish"] = guess.publish
        comments[at + ("publish",)] = "decide: the port opened on the instance (80 for a public web app)"
    if guess.env:
        service["env"] = dict(guess.env)
        comments.update({at + ("env", k): v for k, v in guess.env_notes.items() if k in guess.env})
    health: dict[str, Any] = {}
    if guess.health_command:
        health["command"] = guess.health_command
        comments[at + ("health", "command")] = (f"guessed: GET {guess.health_path} from inside the container, "
                                                "with what the image has")
    else:
        health["path"] = guess.health_path
        comments[at + ("health", "path")] = "guessed"
    health.update({"interval": 10, "timeout": 5, "retries": 3, "start_period": 20})
    service["health"] = health
    if guess.data:
        service["data"] = {name: {"path": path, "size_gb": 10} for name, path in guess.data.items()}
        for name in guess.data:
            comments[at + ("data", name, "size_gb")] = ("decide: GiB; the volume outlives instances and is kept by "
                                                        "destroy unless --delete-data")
    service["instances"] = {"type": "t3.micro"}
    comments[at + ("instances", "type")] = "decide: 2 vCPU, 1 GiB; size it from the old server's load"
    service["dns"] = None
    comments[at + ("dns",)] = ("decide: the record `liftshift cutover` moves from the old server, e.g. dns: {zone: "
                               "example.com, name: app.example.com, old: 203.0.113.10}")
    app = {"version": 1, "name": stack, "region": None, "services": {SERVICE: service}}
    comments[("region",)] = "decide: the AWS region (else --region, AWS_REGION, the profile's region)"
    return app, comments


def plan_files(guess: Guess, stack: str, directory: Path) -> list[tuple[str, str]]:
    """(file name, text) of each file init writes, in order."""
    from .appyaml_write import render
    from .compose_map import Imported

    app, comments = app_data(guess, stack)
    header = [f"app.yaml written by `liftshift init` for {guess.summary}.",
              "Lines marked `guessed:` and `decide:` need a look before the first deploy."]
    files = [("app.yaml", render(Imported(stack, app, comments, header)))]
    if guess.dockerfile is not None:
        files.append(("Dockerfile", guess.dockerfile))
    if guess.dockerignore and not (directory / ".dockerignore").exists():
        files.append((".dockerignore", "\n".join(guess.dockerignore) + "\n"))
    return files


def stack_name(directory: Path, given: Optional[str]) -> str:
    from .compose_parts import is_name, sanitise_name

    if given is not None:
        if not is_name(given):
            raise BadInput(f"--name {given!r}: a stack name is 1-32 characters of a-z, 0-9 and '-', starting and "
                           "ending with a letter or digit")
        return given
    name = sanitise_name(directory.resolve().name)
    if not name:
        raise BadInput(f"cannot make a stack name of the directory's name {directory.resolve().name!r}: give one "
                       "with --name")
    return name


def init_app(directory: Optional[Path], base_image: Optional[str], name: Optional[str], force: bool,
             environ: Mapping[str, str]) -> dict[str, Any]:
    directory = directory if directory is not None else Path.cwd()
    if not directory.is_dir():
        raise BadInput(f"{directory}: no such directory (init looks at an app's directory for {LOOKED_FOR})")
    from .compose_load import DEFAULT_FILES

    compose = next((directory / f for f in DEFAULT_FILES if (directory / f).is_file()), None)
    if compose is not None:
        return _from_compose(compose, name, force, environ, base_image)
    stack = stack_name(directory, name)
    guess = with_base_image(detect(directory), base_image)
    files = plan_files(guess, stack, directory)
    existing = [f for f, _ in files if (directory / f).exists() or (directory / f).is_symlink()]
    if existing and not force:
        raise BadInput(f"{directory}: {' and '.join(existing)} exist{'s' if len(existing) == 1 else ''}: init never "
                       "overwrites; give --force to write over them (nothing written)")
    check(files, directory)
    for file, text in files:
        write(directory / file, text, force)
    return {"directory": str(directory), "kind": guess.kind, "stack": stack, "summary": guess.summary,
            "found": guess.found, "guessed": guess.guessed(), "check": guess.checks,
            "files": [{"path": str(directory / f), "text": t} for f, t in files],
            "app_yaml": files[0][1]}


def _from_compose(compose: Path, name: Optional[str], force: bool, environ: Mapping[str, str],
                  base_image: Optional[str]) -> dict[str, Any]:
    from . import import_compose

    result = import_compose(compose, None, name, [], force, False, environ)
    checks = [f"{w['file']}:{w['line']}: {w['key']}: {w['message']}" if w["line"] else f"{w['file']}: {w['message']}"
              for w in result["warnings"]]
    checks += [f"store a secret: {c['command']}" for c in result["commands"]]
    if base_image:
        checks.append(f"--base-image {base_image} is not used: the compose file names its own images and builds")
    return {"directory": str(compose.parent), "kind": "compose", "stack": result["stack"],
            "summary": f"a compose file ({compose.name}), imported by `liftshift import compose`",
            "found": [f"a compose file ({compose.name}) with {len(result['services'])} service(s)"],
            "guessed": {}, "check": checks, "files": [{"path": result["out"], "text": result["app_yaml"]}],
            "app_yaml": result["app_yaml"], "import": result}


def check(files: list[tuple[str, str]], directory: Path) -> None:
    """app.yaml must pass `liftshift validate`: checked in a scratch directory with the planned files, so a failed
    check leaves nothing in the app's directory."""
    from ..spec.errors import SpecError
    from ..spec.load import load_spec

    with tempfile.TemporaryDirectory(prefix="liftshift-init-") as scratch:
        for file, text in files:
            Path(scratch, file).write_text(text, encoding="utf-8")
        if not Path(scratch, "Dockerfile").exists():  # the app's own, not copied
            Path(scratch, "Dockerfile").write_text("FROM scratch\n", encoding="utf-8")
        try:
            load_spec(Path(scratch, "app.yaml"))
        except SpecError as exc:
            raise BadInput(f"the app.yaml init made for {directory} does not validate, so nothing was written: "
                           f"line {exc.line}: {exc.dotted}: {exc.message}") from None
