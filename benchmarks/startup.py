"""How long each command takes to start: the median wall and CPU time of N runs, each as a ratio to `python -c
pass` (the interpreter's own start, on this machine, with its site-packages). Asserts nothing (the goal of issue
15: `liftshift --help` within 0.15 s and `validate` within 0.3 s of wall; tests/test_startup.py checks what a
start imports, which timing cannot fool).

Each command runs as the `liftshift` entry point does (`from liftshift.cli import main; main()`), in a fresh
interpreter, reading only files (no AWS, no Docker). CPU time (user + system) is the steadier figure on a
shared machine; wall time is what a person waits.

Two things a start may find already done, and this script says which it measured:
- Python's bytecode caches (`__pycache__`). With PYTHONDONTWRITEBYTECODE set (as on these machines) none is
  written for the working tree, and every start compiles liftshift's modules again (~50 ms for validate); an
  installed package has them. `--cached-bytecode` measures that: caches written and used, in a temporary
  directory (PYTHONPYCACHEPREFIX), never in the tree.
- The compiled templates (model/templating.py, in $XDG_CACHE_HOME/liftshift/jinja): the first validate after an
  install or a template change compiles the user-data template; the row "... templates compiled" is that start
  (its cache directory cannot be made).

    python benchmarks/startup.py [--repeat N] [--only TEXT] [--cached-bytecode]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What the console script `liftshift` runs (its argv[0] names the program, which completion's variable depends on).
ENTRY = "import sys; sys.argv[0] = 'liftshift'; from liftshift.cli import main; main()"
# A file where XDG_CACHE_HOME should be a directory: no compiled template can be kept or found.
NO_TEMPLATE_CACHE = str(Path(tempfile.gettempdir()) / "liftshift-startup-no-template-cache")
# The environment of every run (main sets it: with or without bytecode caches).
RUN_ENV: dict[str, str] = dict(os.environ)


def cases() -> list[tuple[str, list[str], dict[str, str]]]:
    """(label, argv, extra environment) of each start measured; the first is the interpreter alone."""
    sys.path.insert(0, str(ROOT))
    from liftshift.cli.commands import COMMANDS

    cli = [sys.executable, "-c", ENTRY]
    hello, micro = str(ROOT / "stacks/hello/app.yaml"), str(ROOT / "stacks/microservices/app.yaml")
    found = [("python -c pass", [sys.executable, "-c", "pass"], {}),
             ("import liftshift.cli", [sys.executable, "-c", "import liftshift.cli"], {}),
             ("liftshift --help", [*cli, "--help"], {}),
             ("liftshift --version", [*cli, "--version"], {}),
             ("liftshift validate hello", [*cli, "validate", hello], {}),
             ("liftshift validate microservices", [*cli, "validate", micro], {}),
             ("liftshift validate hello, templates compiled", [*cli, "validate", hello],
              {"XDG_CACHE_HOME": NO_TEMPLATE_CACHE}),
             ("Tab: liftshift <Tab>", cli, {"_LIFTSHIFT_COMPLETE": "complete_bash", "COMP_WORDS": "liftshift ",
                                            "COMP_CWORD": "1"}),
             ("Tab: history hello -s <Tab>", cli, {"_LIFTSHIFT_COMPLETE": "complete_bash",
                                                   "COMP_WORDS": f"liftshift history {hello} -s ", "COMP_CWORD": "4"})]
    found += [(f"liftshift {name} --help", [*cli, name, "--help"], {}) for name in COMMANDS]
    found += [("liftshift local stop --help", [*cli, "local", "stop", "--help"], {}),
              ("liftshift import compose --help", [*cli, "import", "compose", "--help"], {})]
    return found


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system of the child) seconds of one run."""
    before = os.times()
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=ROOT, env={**RUN_ENV, **env}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    after = os.times()
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv[-3:])} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=11, help="runs of each command (the median is shown)")
    parser.add_argument("--only", default="", help="only the starts whose label contains this text")
    parser.add_argument("--cached-bytecode", action="store_true",
                        help="start as an installed package does: Python's bytecode caches written and used (in a "
                             "temporary directory)")
    args = parser.parse_args()
    Path(NO_TEMPLATE_CACHE).touch()
    pycache = tempfile.mkdtemp(prefix="liftshift-startup-pycache-") if args.cached_bytecode else None
    if pycache:
        RUN_ENV.pop("PYTHONDONTWRITEBYTECODE", None)
        RUN_ENV["PYTHONPYCACHEPREFIX"] = pycache
    writes = "PYTHONDONTWRITEBYTECODE" not in RUN_ENV
    print(f"bytecode caches: {'written and used' if writes else 'not written: each start compiles the modules'}"
          f"{f' (in {pycache})' if pycache else ''}; compiled templates: "
          f"{os.environ.get('XDG_CACHE_HOME') or '~/.cache'}/liftshift/jinja")
    try:
        measure(args.repeat, [c for i, c in enumerate(cases()) if i == 0 or args.only in c[0]])
    finally:
        if pycache:
            shutil.rmtree(pycache, ignore_errors=True)


def measure(repeat: int, selected: list[tuple[str, list[str], dict[str, str]]]) -> None:
    for _, argv, env in selected:  # warm the OS's file cache, the bytecode and template caches
        run_once(argv, env)
    medians = {}
    print(f"{'start':<46} {'wall':>8} {'x pass':>7} {'cpu':>8} {'x pass':>7}   (median of {repeat})")
    for label, argv, env in selected:
        runs = [run_once(argv, env) for _ in range(repeat)]
        wall, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        medians[label] = wall, cpu
        base_wall, base_cpu = medians["python -c pass"]
        print(f"{label:<46} {wall:7.3f}s {wall / base_wall:6.1f}x {cpu:7.3f}s {cpu / max(base_cpu, 1e-3):6.1f}x",
              flush=True)


if __name__ == "__main__":
    main()
