"""`liftshift init` for the other kinds of app: an existing Dockerfile, Node, Java, Go, a static site. Pure.

Each `detect_*` returns a Guess (init_scan.py) with a Dockerfile (None for the app's own). Health checks:
docker runs them inside the container, so each kind checks with what its base image has (node for Node;
curl, nc or wget, which health.path's probe tries, for the others).
"""

from __future__ import annotations

import json
import re
from typing import Optional

from .init_scan import (WRITTEN_MARK, Guess, Scan, dockerignore_lines, env_reads, health_path, port_default,
                        propose_data, secret_env_notes, unit_settings)

BASE_IMAGES = {"node": "node:22-slim", "java": "eclipse-temurin:21-jre", "static": "nginx:1.27-alpine",
               "go": "alpine:3.20"}
BUILD_IMAGES = {"maven": "maven:3.9-eclipse-temurin-21", "gradle": "gradle:8.10-jdk21", "go": "golang:1.23"}
STATIC_ROOTS = ("index.html", "public/index.html", "site/index.html", "www/index.html", "html/index.html")
LISTEN_RE = re.compile(r"""(?:\.listen\(\s*|ListenAndServe\(\s*["'][^"':]*:|server\.port\s*[=:]\s*|PORT\s*=\s*)(\d{2,5})\b""")


def _finish(guess: Guess, scan: Scan, texts: list[str], reads: dict[str, Optional[str]]) -> None:
    """What every kind does alike: the unit's environment, a data volume, the health path."""
    unit = unit_settings(scan)
    if unit:
        unit.note(guess)
        if unit.env.get("PORT", "").isdigit():
            guess.port = int(unit.env["PORT"])
    if "PORT" in reads:
        guess.env["PORT"] = str(guess.port)
        guess.env_notes["PORT"] = "the app reads PORT"
    uses_sqlite = any(re.search(r"sqlite", t, re.I) for t in texts)
    propose_data(guess, reads, unit, uses_sqlite, scan)
    if unit:
        secret_env_notes(guess, {k: v for k, v in unit.env.items() if k != "PORT"}, unit.file)
    guess.health_path = health_path(texts) or guess.health_path
    if guess.health_path == "/" and guess.kind != "static":
        guess.checks.append("no health endpoint (/healthz, /health ...) was found: the health check GETs "
                            f"{guess.health_path}; add a cheap /healthz and set health.path")


def _port(texts: list[str], reads: dict[str, Optional[str]], default: int) -> int:
    from_env = port_default(reads)
    if from_env:
        return from_env
    for text in texts:
        match = LISTEN_RE.search(text)
        if match and 0 < int(match.group(1)) < 65536:
            return int(match.group(1))
    return default


def _reads(texts: list[str]) -> dict[str, Optional[str]]:
    reads: dict[str, Optional[str]] = {}
    for text in texts:
        for name, default in env_reads(text).items():
            reads.setdefault(name, default)
    return reads


def _cmd(words: list[str]) -> str:
    return "CMD " + json.dumps(words)


def detect_dockerfile(scan: Scan) -> Guess:
    text = scan.read("Dockerfile")
    froms = re.findall(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)", text, re.M | re.I)
    exposed = re.findall(r"^\s*EXPOSE\s+(\d+)", text, re.M | re.I)
    guess = Guess("dockerfile", "the app's own Dockerfile", found=["a Dockerfile (written for you: app.yaml only)"],
                  base_image=froms[-1] if froms else "", dockerfile=None)
    if exposed:
        guess.port = int(exposed[0])
    else:
        guess.checks.append("the Dockerfile EXPOSEs no port: port 8080 is a guess")
    texts = [text] + [scan.read(f) for f in scan.files if f.endswith((".py", ".js", ".ts", ".go", ".java", ".rb"))][:50]
    health = re.search(r"HEALTHCHECK.*?(/[A-Za-z0-9_./-]*)", text, re.I)
    guess.health_path = health.group(1) if health else health_path(texts) or "/"
    if not health and guess.health_path == "/":
        guess.checks.append("no health endpoint was found: the health check GETs /")
    guess.checks.append("the health check runs inside the container with curl, nc or wget: the image needs one of "
                        "them, or set health.command")
    return guess


def detect_node(scan: Scan) -> Guess:
    from ..errors import BadInput

    try:
        package = json.loads(scan.read("package.json") or "{}")
    except json.JSONDecodeError as exc:
        raise BadInput(f"{scan.root / 'package.json'}: line {exc.lineno}: not valid JSON: {exc.msg}") from None
    scripts = package.get("scripts") or {}
    start = scripts.get("start")
    main = package.get("main") or next((f for f in ("server.js", "index.js", "app.js", "main.js") if scan.has(f)), None)
    if start:
        words = start.split()
        command = words if words[:1] == ["node"] and len(words) == 2 else ["npm", "start"]
        what = f"its start script ({start})"
    elif main:
        command, what = ["node", main], f"its main file ({main})"
    else:
        raise BadInput(f"{scan.root}: package.json has no scripts.start and there is no main file (server.js, "
                       "index.js, app.js): init cannot tell how the app starts")
    guess = Guess("node", f"a Node.js app started by {what}", found=["Node.js (package.json)"],
                  base_image=BASE_IMAGES["node"], command=command)
    sources = [f for f in scan.files if f.endswith((".js", ".mjs", ".cjs", ".ts")) and f.count("/") <= 2][:80]
    texts = [scan.read(f) for f in sources]
    reads = _reads(texts)
    guess.port = _port(texts, reads, 3000)
    _finish(guess, scan, texts, reads)
    guess.health_command = ["node", "-e", f"fetch('http://127.0.0.1:{guess.port}{guess.health_path}')"
                            ".then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
    if "build" in scripts:
        guess.checks.append(f"package.json has a build script ({scripts['build']}): the Dockerfile does not run "
                            "it; add `RUN npm run build` (with dev dependencies) if the app needs it")
    install = "npm ci --omit=dev" if scan.has("package-lock.json") else "npm install --omit=dev"
    lines = [f"{WRITTEN_MARK} for {guess.summary}. Check it before the first deploy.",
             f"FROM {guess.base_image}", "ENV NODE_ENV=production", "WORKDIR /app",
             "COPY package*.json ./", f"RUN {install}", "COPY . ."]
    lines += [f"RUN mkdir -p {p} && chown node:node {p}" for p in guess.data.values()]
    lines += ["USER node", f"EXPOSE {guess.port}", _cmd(command)]
    guess.dockerfile = "\n".join(lines) + "\n"
    guess.dockerignore = dockerignore_lines(scan, (".env", "npm-debug.log"))
    guess.found.append(guess.summary)
    return guess


def detect_java(scan: Scan) -> Guess:
    build = ("maven" if scan.has("pom.xml") else
             "gradle" if scan.has("build.gradle") or scan.has("build.gradle.kts") else None)
    jars = [f for f in scan.top("*.jar")] + sorted(
        str(p.relative_to(scan.root)) for d in ("target", "build/libs") for p in (scan.root / d).glob("*.jar")
        if (scan.root / d).is_dir() and not p.name.endswith(("-plain.jar", "-sources.jar", "-javadoc.jar")))
    build_file = {"maven": "pom.xml", "gradle": "build.gradle"}.get(build or "", "")
    if build == "gradle" and not scan.has("build.gradle"):
        build_file = "build.gradle.kts"
    text = scan.read(build_file) if build_file else ""
    spring = "spring-boot" in text
    guess = Guess("java", "", base_image=BASE_IMAGES["java"], command=["java", "-jar", "/app/app.jar"])
    lines = [""]
    if build == "maven":
        guess.build_image = BUILD_IMAGES["maven"]
        guess.summary = f"a Maven{' Spring Boot' if spring else ''} project (pom.xml), built in the image"
        lines += [f"FROM {guess.build_image} AS build", "WORKDIR /src", "COPY . .",
                  "RUN mvn -q -DskipTests package && cp \"$(ls target/*.jar | grep -v -e '-sources' -e '-javadoc' "
                  "-e '\\.original$' | head -n 1)\" /app.jar"]
    elif build == "gradle":
        guess.build_image = BUILD_IMAGES["gradle"]
        task = "bootJar" if spring else "jar"
        guess.summary = f"a Gradle{' Spring Boot' if spring else ''} project ({build_file}), built in the image"
        lines += [f"FROM {guess.build_image} AS build", "WORKDIR /src", "COPY . .",
                  f"RUN gradle --no-daemon -q {task} -x test && cp \"$(ls build/libs/*.jar | grep -v -e '-plain' "
                  "| head -n 1)\" /app.jar"]
    else:
        jar = jars[0]
        guess.summary = f"a runnable jar ({jar})"
        lines += [f"FROM {guess.base_image}", "WORKDIR /app", f"COPY {jar} /app/app.jar"]
    if build:
        lines += ["", f"FROM {guess.base_image}", "WORKDIR /app", "COPY --from=build /app.jar /app/app.jar"]
        if not spring:
            guess.checks.append("the jar the build makes must be runnable (java -jar: a Main-Class in its manifest, "
                                "its dependencies inside, e.g. a shade or shadow plugin)")
    guess.found = [f"Java ({build_file or jars[0]})", guess.summary]
    props = scan.read("src/main/resources/application.properties") + scan.read("src/main/resources/application.yml")
    sources = [f for f in scan.files if f.endswith((".java", ".kt")) and "/test/" not in f][:80]
    texts = [scan.read(f) for f in sources] + [props, text]
    reads = _reads(texts)
    guess.port = _port([props] + texts, reads, 8080)
    guess.health_path = "/actuator/health" if "actuator" in text else "/"
    _finish(guess, scan, texts, reads)
    guess.checks.append("the health check runs inside the container with curl, nc or wget (eclipse-temurin images "
                        "have curl; check yours if you change --base-image)")
    lines[0] = f"{WRITTEN_MARK} for {guess.summary}. Check it before the first deploy."
    lines += [f"RUN mkdir -p {p} && chown 10001:10001 {p}" for p in guess.data.values()]
    lines += ["USER 10001", f"EXPOSE {guess.port}", _cmd(guess.command)]
    guess.dockerfile = "\n".join(lines) + "\n"
    guess.dockerignore = dockerignore_lines(scan, (".gradle", "target", "build"))
    return guess


def detect_go(scan: Scan) -> Guess:
    module = re.search(r"^module\s+(\S+)", scan.read("go.mod"), re.M)
    mains = [f for f in scan.files if f.endswith(".go") and not f.endswith("_test.go")
             and re.search(r"^package\s+main\b", scan.read(f), re.M)]
    from ..errors import BadInput

    if not mains:
        raise BadInput(f"{scan.root}: go.mod but no `package main`: init cannot tell which program to build")
    package = "./" + (mains[0].rsplit("/", 1)[0] if "/" in mains[0] else "")
    guess = Guess("go", f"a Go module ({module.group(1) if module else 'go.mod'}), package main in {package}",
                  found=["Go (go.mod)"], base_image=BASE_IMAGES["go"], build_image=BUILD_IMAGES["go"],
                  command=["/app/server"])
    texts = [scan.read(f) for f in scan.files if f.endswith(".go")][:80]
    reads = _reads(texts)
    guess.port = _port(texts, reads, 8080)
    _finish(guess, scan, texts, reads)
    guess.found.append(guess.summary)
    lines = [f"{WRITTEN_MARK} for {guess.summary}. Check it before the first deploy.",
             f"FROM {guess.build_image} AS build", "WORKDIR /src", "COPY go.* ./", "RUN go mod download",
             "COPY . .", f"RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/server {package}", "",
             f"FROM {guess.base_image}", "COPY --from=build /out/server /app/server"]
    lines += [f"RUN mkdir -p {p} && chown 10001:10001 {p}" for p in guess.data.values()]
    lines += ["USER 10001", f"EXPOSE {guess.port}", _cmd(guess.command)]
    guess.dockerfile = "\n".join(lines) + "\n"
    guess.checks.append("CGO is off (a static binary for the slim runtime image): if the program needs cgo, change "
                        "the build and the runtime image")
    guess.dockerignore = dockerignore_lines(scan)
    return guess


def detect_static(scan: Scan) -> Guess:
    index = next(f for f in STATIC_ROOTS if scan.has(f))
    root = index.rsplit("/", 1)[0] if "/" in index else "."
    guess = Guess("static", f"a static site ({index})", found=[f"a static site ({index})"],
                  base_image=BASE_IMAGES["static"], port=80, command=[])
    guess.dockerfile = "\n".join([
        f"{WRITTEN_MARK} for {guess.summary}. Check it before the first deploy.",
        f"FROM {guess.base_image}", f"COPY {root}/ /usr/share/nginx/html/", "EXPOSE 80"]) + "\n"
    guess.checks.append("nginx serves the files as they are: a site that needs a build step (npm run build ...) "
                        "must be built first, or in a build stage")
    guess.dockerignore = dockerignore_lines(scan, ("Dockerfile", ".dockerignore"))
    return guess


def recognise_static(scan: Scan) -> bool:
    return any(scan.has(f) for f in STATIC_ROOTS)


def recognise_java(scan: Scan) -> bool:
    return scan.has("pom.xml") or scan.has("build.gradle") or scan.has("build.gradle.kts") or bool(scan.top("*.jar"))
