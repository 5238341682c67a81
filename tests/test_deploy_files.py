"""Static checks of the deployment files (Dockerfile, entrypoint, compose, gunicorn).

No Docker engine, database or Flask app is needed: the files are parsed as text/YAML
and cross-checked against each other and against ``config.ENV_MAPPING``; the entrypoint
is also run by sh, with stand-ins for ``flask`` and ``gunicorn``.
"""

from __future__ import annotations

import ctypes
import gc
import os
import re
import runpy
import shlex
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from config import ENV_MAPPING  # noqa: E402

DOCKERFILE = ROOT / "Dockerfile"
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
COMPOSE = ROOT / "docker-compose.yml"
DOCKERIGNORE = ROOT / ".dockerignore"
GUNICORN_CONF = ROOT / "gunicorn.conf.py"

KEY_VARS = (
    "ACCESS_TOKEN_PRIVATE_KEY",
    "ACCESS_TOKEN_PUBLIC_KEY",
    "REFRESH_TOKEN_PRIVATE_KEY",
    "REFRESH_TOKEN_PUBLIC_KEY",
)
HEALTH_PATH = "/api/health/live"
ALL_INTERFACES = {"0.0.0.0", "[::]"}  # noqa: S104  (what a container must listen on)


# --- helpers -----------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and continuations joined."""
    instructions: list[tuple[str, str]] = []
    buffer = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not buffer and (not line or line.startswith("#")):
            continue
        if buffer and line.startswith("#"):
            continue  # comment lines inside a continuation are ignored by Docker
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        buffer += line
        keyword, _, args = buffer.strip().partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        buffer = ""
    assert not buffer, "Dockerfile ends inside a line continuation"
    return instructions


def instruction_args(name: str) -> list[str]:
    return [args for keyword, args in dockerfile_instructions() if keyword == name]


def first_index(name: str) -> int:
    keywords = [keyword for keyword, _ in dockerfile_instructions()]
    assert name in keywords, f"Dockerfile has no {name}"
    return keywords.index(name)


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for args in instruction_args("ENV"):
        for token in shlex.split(args):
            name, sep, value = token.partition("=")
            assert sep, f"use the ENV NAME=value form, got {token!r}"
            env[name] = value
    return env


def exposed_ports() -> set[int]:
    ports: set[int] = set()
    for args in instruction_args("EXPOSE"):
        for token in args.split():
            ports.add(int(token.split("/")[0]))
    return ports


def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    return data


def service(name: str) -> dict[str, Any]:
    services = compose().get("services") or {}
    assert name in services, f"compose has no service {name!r}"
    return services[name]


def service_env(name: str) -> dict[str, str]:
    """A service's environment as a dict, whether written as a mapping or a list."""
    env = service(name).get("environment") or {}
    if isinstance(env, list):
        pairs = (item.partition("=") for item in env)
        return {key: value for key, _, value in pairs}
    return {key: "" if value is None else str(value) for key, value in env.items()}


def published_container_ports(name: str) -> list[int]:
    ports = []
    for entry in service(name).get("ports") or []:
        if isinstance(entry, dict):
            ports.append(int(entry["target"]))
        else:
            container_part = str(entry).rsplit(":", 1)[-1]
            ports.append(int(container_part.split("/")[0]))
    return ports


def healthcheck_test(name: str) -> str:
    check = service(name).get("healthcheck") or {}
    assert not check.get("disable"), f"{name} healthcheck is disabled"
    test = check.get("test")
    assert test, f"{name} has no healthcheck test"
    if isinstance(test, list):
        assert test[0] in {"CMD", "CMD-SHELL"}, f"{name} healthcheck test: {test!r}"
        return " ".join(str(part) for part in test[1:])
    return str(test)


def entrypoint_commands() -> list[str]:
    """Non-comment, non-blank lines of the entrypoint script."""
    lines = [line.strip() for line in ENTRYPOINT.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


# --- Dockerfile ----------------------------------------------------------------


def test_dockerfile_uses_slim_python_311_base() -> None:
    bases = instruction_args("FROM")
    assert bases, "Dockerfile has no FROM"
    final_image = bases[-1].split()[0]  # "FROM image [AS name]": the final stage runs
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?(@sha256:[0-9a-f]+)?", final_image), (
        final_image
    )


def test_dockerfile_sets_production_environment() -> None:
    env = dockerfile_env()
    assert env.get("APP_ENV") == "production"
    assert env.get("PYTHONUNBUFFERED") == "1"
    assert env.get("PYTHONDONTWRITEBYTECODE") == "1"


def test_dockerfile_installs_pinned_requirements_before_copying_the_app() -> None:
    runs = instruction_args("RUN")
    assert any(re.search(r"pip install .*-r requirements\.txt", run) for run in runs)
    copies = instruction_args("COPY")
    assert any(copy.split()[0] == "requirements.txt" for copy in copies)
    # requirements.txt is copied on its own first, so the dependency layer is cached.
    assert copies[0].split()[0] == "requirements.txt", copies


def test_dockerfile_runs_as_non_root_user_before_entrypoint() -> None:
    keywords = [keyword for keyword, _ in dockerfile_instructions()]
    users = [(i, args) for i, (kw, args) in enumerate(dockerfile_instructions()) if kw == "USER"]
    assert users, "Dockerfile never switches USER"
    last_index, last_user = users[-1]
    name = last_user.split(":")[0]
    assert name not in {"root", "0"}, f"final USER is {last_user!r}"
    start = min(
        (keywords.index(kw) for kw in ("ENTRYPOINT", "CMD") if kw in keywords), default=None
    )
    assert start is not None, "Dockerfile has neither ENTRYPOINT nor CMD"
    assert last_index < start, "USER must come before ENTRYPOINT/CMD"


def test_dockerfile_compiles_the_servers_optimized_bytecode_at_build_time() -> None:
    """The entrypoint serves with PYTHONOPTIMIZE=2 and the image writes no bytecode at
    run time: without ``.opt-2.pyc`` files, every start would compile the standard
    library, the packages and the app from source."""
    base_version = re.match(r"python:(\d+\.\d+)", instruction_args("FROM")[-1]).group(1)
    keywords = [keyword for keyword, _ in dockerfile_instructions()]
    compiled: dict[str, int] = {}
    for index, (keyword, args) in enumerate(dockerfile_instructions()):
        for step in args.split("&&") if keyword == "RUN" else ():
            words = shlex.split(step)
            if words[:4] == ["python", "-OO", "-m", "compileall"]:
                for target in words[4:]:
                    compiled.setdefault(target, index)
    library = f"/usr/local/lib/python{base_version}"
    assert library in compiled, compiled  # the standard library and site-packages
    assert compiled[library] > keywords.index("RUN"), "compiled before pip install"
    app_copy = next(
        i for i, (kw, args) in enumerate(dockerfile_instructions())
        if kw == "COPY" and args.split()[0] == "."
    )  # fmt: skip
    for target in ("authapi", "config.py", "wsgi.py"):
        assert compiled.get(target, -1) > app_copy, (target, compiled)
    assert keywords.index("USER") > max(compiled.values()), "compiled as the app user"


def test_dockerfile_entrypoint_runs_the_entrypoint_script() -> None:
    entrypoints = instruction_args("ENTRYPOINT") + instruction_args("CMD")
    assert any("docker/entrypoint.sh" in args for args in entrypoints), entrypoints


def test_dockerfile_healthcheck_probes_liveness_with_python() -> None:
    checks = instruction_args("HEALTHCHECK")
    assert checks, "Dockerfile has no HEALTHCHECK"
    check = checks[-1]
    assert check.upper() != "NONE"
    assert " CMD " in f" {check} ", check
    assert HEALTH_PATH in check, check
    assert "127.0.0.1" in check, check
    assert "python" in check, check
    assert "curl" not in check and "wget" not in check, "slim images have no curl/wget"


def test_dockerfile_healthcheck_default_port_is_exposed() -> None:
    check = instruction_args("HEALTHCHECK")[-1]
    match = re.search(r"""127\.0\.0\.1:(\d+)|['"]PORT['"],\s*['"](\d+)['"]""", check)
    assert match, f"cannot find the probed port in {check!r}"
    port = int(match.group(1) or match.group(2))
    assert port in exposed_ports()


def app_exposed_ports() -> list[int]:
    return [int(str(port).split("/")[0]) for port in service("app").get("expose") or []]


def test_dockerfile_exposes_the_port_the_app_service_exposes() -> None:
    exposed = exposed_ports()
    assert exposed, "Dockerfile has no EXPOSE"
    assert app_exposed_ports(), "app exposes no port to the internal network"
    assert set(app_exposed_ports()) <= exposed, (app_exposed_ports(), exposed)


# --- entrypoint ------------------------------------------------------------------


def test_entrypoint_is_an_executable_strict_shell_script() -> None:
    text = ENTRYPOINT.read_text()
    assert text.startswith("#!/bin/sh") or text.startswith("#!/usr/bin/env sh"), text[:40]
    assert "set -eu" in entrypoint_commands()
    mode = ENTRYPOINT.stat().st_mode
    assert mode & stat.S_IXUSR, "docker/entrypoint.sh is not executable"
    assert os.access(ENTRYPOINT, os.X_OK)


def test_entrypoint_migrates_then_execs_gunicorn() -> None:
    commands = entrypoint_commands()
    migrate = "flask --app wsgi db upgrade"
    serve = "exec gunicorn -c gunicorn.conf.py wsgi:app"
    assert migrate in commands, commands
    assert serve in commands, commands
    assert commands.index(migrate) < commands.index(serve)
    assert commands.index("set -eu") < commands.index(migrate)
    assert commands[-1] == serve, "nothing may follow the exec"


def run_entrypoint(tmp_path: Path, *args: str, **env: str) -> dict[str, str]:
    """docker/entrypoint.sh run by sh with stand-ins for ``flask`` and ``gunicorn`` that
    record their arguments and PYTHONOPTIMIZE: {command: "PYTHONOPTIMIZE|arguments"}."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for command in ("flask", "gunicorn", "echo-args"):
        stand_in = bin_dir / command
        stand_in.write_text(
            f'#!/bin/sh\necho "${{PYTHONOPTIMIZE-unset}}|$*" > "{tmp_path}/{command}"\n'
        )
        stand_in.chmod(0o755)
    environment = {"PATH": f"{bin_dir}:/usr/bin:/bin", **env}
    completed = subprocess.run(
        ["/bin/sh", str(ENTRYPOINT), *args], env=environment, capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stderr
    return {path.name: path.read_text().strip() for path in tmp_path.iterdir() if path.is_file()}


def test_entrypoint_serves_without_docstrings_but_migrates_with_them(tmp_path: Path) -> None:
    ran = run_entrypoint(tmp_path)
    assert ran["flask"] == "unset|--app wsgi db upgrade"
    assert ran["gunicorn"] == "2|-c gunicorn.conf.py wsgi:app"


def test_entrypoint_keeps_the_operators_pythonoptimize(tmp_path: Path) -> None:
    assert run_entrypoint(tmp_path, PYTHONOPTIMIZE="0")["gunicorn"].startswith("0|")


def test_entrypoint_runs_a_one_off_command_as_given(tmp_path: Path) -> None:
    ran = run_entrypoint(tmp_path, "echo-args", "keys", "generate")
    assert ran == {"echo-args": "unset|keys generate"}


# --- docker-compose.yml -------------------------------------------------------------


def test_compose_has_the_three_services() -> None:
    services = compose().get("services") or {}
    assert {"app", "postgres", "redis"} <= set(services), sorted(services)
    assert service("app").get("build") in (".", {"context": "."})
    assert str(service("postgres").get("image", "")).startswith("postgres:16")
    assert str(service("redis").get("image", "")).startswith("redis:7")


def test_app_waits_for_healthy_postgres_and_redis() -> None:
    depends = service("app").get("depends_on")
    assert isinstance(depends, dict), "use the long depends_on form with conditions"
    for name in ("postgres", "redis"):
        assert name in depends, f"app does not depend on {name}"
        assert depends[name].get("condition") == "service_healthy", depends[name]


def test_postgres_and_redis_have_healthchecks() -> None:
    assert "pg_isready" in healthcheck_test("postgres")
    redis_test = healthcheck_test("redis")
    assert "redis-cli" in redis_test and "ping" in redis_test, redis_test


def test_postgres_data_lives_in_a_named_volume() -> None:
    named = set((compose().get("volumes") or {}).keys())
    mounts = [str(v) for v in service("postgres").get("volumes") or []]
    data_mounts = [m for m in mounts if m.split(":")[1:2] == ["/var/lib/postgresql/data"]]
    assert data_mounts, mounts
    assert data_mounts[0].split(":")[0] in named, (data_mounts, named)


def _gunicorn_env_names() -> set[str]:
    """The variables gunicorn.conf.py reads itself (PORT, HOST, WEB_CONCURRENCY, ...)."""
    source = (ROOT / "gunicorn.conf.py").read_text()
    return set(re.findall(r"os\.environ(?:\.get|\.setdefault)?\(\s*\"([A-Z_]+)\"", source))


def test_app_environment_names_are_all_understood_by_config_or_gunicorn() -> None:
    env = service_env("app")
    unknown = set(env) - set(ENV_MAPPING) - _gunicorn_env_names() - {"APP_ENV"}
    assert not unknown, f"neither config.ENV_MAPPING nor gunicorn.conf.py reads: {sorted(unknown)}"
    assert env.get("APP_ENV") == "production"


@pytest.mark.parametrize("name", KEY_VARS)
def test_token_keys_are_required_from_the_host(name: str) -> None:
    value = service_env("app").get(name)
    assert value is not None, f"app does not set {name}"
    assert re.fullmatch(rf"\$\{{{name}:\?[^}}]+\}}", value), value


# Every service that runs the app's code (the image built here) starts it in production,
# which refuses to start without these: each must get them from the host or .env.
PRODUCTION_REQUIRED = (*KEY_VARS, "MFA_ENCRYPTION_KEY")
APP_IMAGE_SERVICES = ("app", "prune", "webhooks")


@pytest.mark.parametrize("name", PRODUCTION_REQUIRED)
@pytest.mark.parametrize("service_name", APP_IMAGE_SERVICES)
def test_every_service_of_the_app_image_gets_what_production_requires(
    service_name: str, name: str
) -> None:
    """The prune job lacked MFA_ENCRYPTION_KEY: with the keys in the host environment
    (not .env) `flask audit prune` refused to start, every day, silently."""
    assert service(service_name).get("build") == ".", service_name
    assert service_env(service_name).get("APP_ENV") == "production"
    value = service_env(service_name).get(name)
    assert value is not None, f"{service_name} does not set {name}"
    assert re.fullmatch(rf"\$\{{{name}:\?[^}}]+\}}", value), value


def test_cors_origins_default_is_overridable() -> None:
    value = service_env("app").get("CORS_ORIGINS", "")
    assert re.fullmatch(r"\$\{CORS_ORIGINS:-[^}]+\}", value), value
    # nginx's own error answers allow exactly the app's origins (the template's map).
    assert service_env("nginx").get("CORS_ORIGINS") == value


def test_compose_does_not_disable_secure_cookies() -> None:
    value = service_env("app").get("COOKIE_SECURE")
    if value is not None:
        assert ENV_MAPPING["COOKIE_SECURE"][1](value) is True, value


def test_database_url_points_at_the_postgres_service() -> None:
    url = urlsplit(service_env("app")["DATABASE_URL"])
    pg_env = service_env("postgres")
    assert url.scheme in {"postgresql", "postgresql+psycopg2"}, url.scheme
    assert url.hostname == "postgres"
    assert url.port in (None, 5432)
    assert url.username == pg_env["POSTGRES_USER"]
    assert url.password == pg_env["POSTGRES_PASSWORD"]
    assert url.path.lstrip("/") == pg_env["POSTGRES_DB"]


def test_postgres_healthcheck_checks_the_configured_user_and_db() -> None:
    test = healthcheck_test("postgres").split()
    pg_env = service_env("postgres")
    assert test[test.index("-U") + 1] == pg_env["POSTGRES_USER"]
    assert test[test.index("-d") + 1] == pg_env["POSTGRES_DB"]


def test_redis_url_points_at_the_redis_service() -> None:
    url = urlsplit(service_env("app")["REDIS_URL"])
    assert url.scheme == "redis"
    assert url.hostname == "redis"
    assert url.port in (None, 6379)


def test_port_matches_exposed_port_and_the_nginx_upstream() -> None:
    port = int(service_env("app")["PORT"])
    assert app_exposed_ports() == [port]
    assert port in exposed_ports()
    assert int(dockerfile_env().get("PORT", port)) == port
    assert service_env("nginx")["AUTHAPI_UPSTREAM"] == f"app:{port}"


# --- nginx in front (security review item 3) ----------------------------------------

NGINX_TEMPLATE = ROOT / "deploy" / "nginx" / "authapi.conf.template"


def test_only_nginx_is_published_and_gunicorn_stays_internal() -> None:
    assert not service("app").get("ports"), "gunicorn must not be published: nginx is"
    assert published_container_ports("nginx") == [int(service_env("nginx")["NGINX_PORT"])]
    assert service("app").get("networks") == ["internal"]
    assert "internal" in service("nginx").get("networks", [])
    assert service("nginx")["depends_on"]["app"]["condition"] == "service_healthy"


def test_nginx_is_the_official_image_with_the_shipped_template() -> None:
    assert re.fullmatch(r"nginx:[\w.]+(-alpine)?", str(service("nginx").get("image", "")))
    mounts = [str(volume) for volume in service("nginx").get("volumes") or []]
    template = "./deploy/nginx/authapi.conf.template"
    assert any(
        mount.startswith(template + ":/etc/nginx/templates/") and mount.endswith(".template:ro")
        for mount in mounts
    ), mounts
    variables = set(re.findall(r"\$\{(\w+)\}", NGINX_TEMPLATE.read_text()))
    assert variables <= set(service_env("nginx")), variables


def test_the_app_trusts_exactly_the_one_proxy() -> None:
    assert service_env("app").get("TRUSTED_PROXY_COUNT") == "1"


@pytest.mark.parametrize(
    "directive",
    [
        r"client_header_timeout \d+s;",
        r"client_body_timeout \d+s;",
        r"proxy_request_buffering on;",
        r"proxy_set_header X-Forwarded-For \$remote_addr;",
        r"location = /metrics",
    ],
)
def test_the_nginx_template_holds_slow_clients_and_sets_the_client_address(directive) -> None:
    assert re.search(directive, NGINX_TEMPLATE.read_text()), directive


# --- .dockerignore / gunicorn.conf.py ---------------------------------------------------


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image() -> None:
    patterns = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()}
    for required in (".venv", ".git", ".env", "*.pem", "instance/"):
        assert required in patterns, f".dockerignore lacks {required}"


def test_gunicorn_binds_all_interfaces_on_the_port_env_var(monkeypatch, tmp_path) -> None:
    """Evaluate gunicorn.conf.py with the app container's environment."""
    environment = service_env("app")
    for name in ("APP_ENV", "PORT", "REDIS_URL", "HOST", "WEB_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("APP_ENV", str(environment["APP_ENV"]))
    monkeypatch.setenv("PORT", str(environment["PORT"]))
    monkeypatch.setenv("REDIS_URL", str(environment["REDIS_URL"]))
    # The file sets it with setdefault; monkeypatch restores the environment after.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    for name in ("AUTHAPI_WEB_SERVER", "LOG_FLUSH_SECONDS"):  # the file sets them: undone after
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    settings = runpy.run_path(str(GUNICORN_CONF))
    host, _, port = settings["bind"].rpartition(":")
    assert host in ALL_INTERFACES, "inside a container bind all interfaces"
    assert int(port) == int(environment["PORT"])
    assert settings["workers"] >= 1
    assert settings["control_socket_disable"] is True
    assert settings["reuse_port"] is True  # each worker its share of the connections


def test_gunicorn_reuse_port_can_be_turned_off(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    for name in ("AUTHAPI_WEB_SERVER", "LOG_FLUSH_SECONDS"):  # the file sets them: undone after
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setenv("GUNICORN_REUSE_PORT", "false")
    assert runpy.run_path(str(GUNICORN_CONF))["reuse_port"] is False


def _rss_kb() -> int:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE).group(1))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux /proc")
def test_the_master_gives_its_free_heap_pages_back_before_each_fork(monkeypatch, tmp_path):
    """A worker's RSS counts every page of the master's heap, free or not (change 24 of
    docs/performance.md): pre_fork gives malloc's free pages back first."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    for name in ("AUTHAPI_WEB_SERVER", "LOG_FLUSH_SECONDS"):  # the file sets them: undone after
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    settings = runpy.run_path(str(GUNICORN_CONF))
    try:
        ctypes.CDLL("libc.so.6").malloc_trim  # noqa: B018 - glibc only
    except (OSError, AttributeError):
        pytest.skip("not glibc")
    chunks = [bytes(2000) for _ in range(20_000)]  # 40 MB in malloc's heap (over 512 bytes)
    pinned = bytes(2000)  # above them, so that freeing them cannot shrink the heap's top
    del chunks
    freed = _rss_kb()
    try:
        settings["pre_fork"](None, None)
    finally:
        gc.unfreeze()  # pre_fork froze this test process's objects too
    assert freed - _rss_kb() > 20_000, "the freed 40 MB should leave the process"
    assert pinned


# --- the webhook worker ----------------------------------------------------------------

WORKER_COMMAND = ["flask", "--app", "wsgi", "webhooks", "worker"]


def test_compose_runs_the_webhook_worker_from_the_app_image() -> None:
    worker = service("webhooks")
    assert worker.get("build") == service("app").get("build")
    command = worker.get("command")
    assert (shlex.split(command) if isinstance(command, str) else command) == WORKER_COMMAND
    # The entrypoint runs a given command as is (no second migration, no gunicorn).
    assert 'exec "$@"' in entrypoint_commands()
    assert not worker.get("ports"), "the worker serves no HTTP"
    assert (worker.get("healthcheck") or {}).get("disable") is True


def test_the_worker_command_exists() -> None:
    from authapi.webhooks.cli import webhooks_cli

    assert WORKER_COMMAND[-2] == webhooks_cli.name
    assert WORKER_COMMAND[-1] in webhooks_cli.commands


def test_the_worker_shares_the_apps_database_and_settings() -> None:
    app_env, worker_env = service_env("app"), service_env("webhooks")
    unknown = set(worker_env) - set(ENV_MAPPING) - {"APP_ENV"}
    assert not unknown, f"config.ENV_MAPPING ignores: {sorted(unknown)}"
    for name in ("APP_ENV", "DATABASE_URL", "REDIS_URL", *KEY_VARS):
        assert worker_env.get(name) == app_env.get(name), name
    assert service("webhooks").get("env_file") == service("app").get("env_file")
    if "COOKIE_SECURE" in worker_env:
        assert ENV_MAPPING["COOKIE_SECURE"][1](worker_env["COOKIE_SECURE"]) is True


def test_the_worker_starts_after_the_app_has_migrated() -> None:
    depends = service("webhooks").get("depends_on")
    assert isinstance(depends, dict), "use the long depends_on form with conditions"
    # The app runs the migrations before it answers its healthcheck.
    assert depends["app"]["condition"] == "service_healthy"
    assert instruction_args("HEALTHCHECK"), "the app image needs its healthcheck for this"
