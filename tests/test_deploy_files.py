"""The files in deploy/ work as docs/deploy.md installs them: each unit's command exists,
systemd and nginx accept the files (where they are installed here), the settings file reads
the same to the shell and to systemd and passes Django's deployment checks, and every file
the page names is there. Each `manage.py …` line of the units is parsed by tests/test_docs.py.
"""

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
DEPLOY = BASE_DIR / "deploy"
UNITS = sorted(DEPLOY.glob("*.service")) + sorted(DEPLOY.glob("*.timer"))
SERVICES = sorted(DEPLOY.glob("*.service"))
ENV_EXAMPLE = DEPLOY / "tradesim.env.example"
INSTALL_DIR = "/srv/tradesim"


def unit_values(path: Path, key: str) -> list[str]:
    return [
        line.split("=", 1)[1].strip()
        for line in path.read_text().splitlines()
        if line.startswith(f"{key}=")
    ]


def test_deploy_has_the_units_the_install_enables():
    assert {path.name for path in UNITS} == {
        "tradesim.service",
        "tradesim-ticker.service",
        "tradesim-backup.service",
        "tradesim-backup.timer",
    }


@pytest.mark.parametrize("unit", SERVICES, ids=lambda path: path.name)
def test_each_service_runs_a_program_of_the_install_with_files_that_exist(unit):
    (command,) = unit_values(unit, "ExecStart")
    program, *arguments = shlex.split(command)
    # /srv/tradesim/.venv/bin/X is this checkout's venv's X.
    assert program.startswith(f"{INSTALL_DIR}/.venv/bin/"), program
    assert (Path(sys.prefix) / "bin" / Path(program).name).exists(), program
    assert unit_values(unit, "WorkingDirectory") == [INSTALL_DIR]
    if Path(program).name == "gunicorn":
        config, app = arguments[arguments.index("-c") + 1], arguments[-1]
        assert (BASE_DIR / config).is_file()
        module, _, attribute = app.partition(":")
        assert importlib.util.find_spec(module) is not None, app
        assert attribute in ("", "application")
    else:
        assert arguments[0] == "manage.py"


@pytest.mark.parametrize("unit", SERVICES, ids=lambda path: path.name)
def test_each_service_runs_as_tradesim_with_the_settings_file_and_hardened(unit):
    assert unit_values(unit, "User") == ["tradesim"]
    assert unit_values(unit, "EnvironmentFile") == ["/etc/tradesim/tradesim.env"]
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "MemoryDenyWriteExecute": "yes",
        "CapabilityBoundingSet": "",
        "UMask": "0027",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    }.items():
        assert unit_values(unit, key) == [value], key
    # BACKUP_DIR and a SQLite database live in the one folder the services may write.
    assert unit_values(unit, "StateDirectory") == ["tradesim"]


def _with_paths_of_this_checkout(tmp_path: Path) -> list[Path]:
    copies = []
    for unit in UNITS:
        text = unit.read_text()
        text = text.replace(f"{INSTALL_DIR}/.venv", sys.prefix).replace(INSTALL_DIR, str(BASE_DIR))
        copy = tmp_path / unit.name
        copy.write_text(text)
        copies.append(copy)
    return copies


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_systemd_accepts_the_units_without_a_warning(tmp_path):
    result = subprocess.run(
        ["systemd-analyze", "verify", *map(str, _with_paths_of_this_checkout(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "notice"},
    )
    # An unknown or misspelt option is only a warning to systemd: it would be ignored.
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr


def test_the_settings_file_has_a_comment_above_every_setting_and_none_after_a_value():
    lines = ENV_EXAMPLE.read_text().splitlines()
    settings = [(n, line) for n, line in enumerate(lines) if re.match(r"[A-Z_]+=", line)]
    assert settings
    for number, line in settings:
        assert lines[number - 1].startswith("#"), f"no comment above {line!r}"
        assert "#" not in line, f"a comment after the value: {line!r}"


def _as_the_shell_reads_it(path: Path) -> dict[str, str]:
    result = subprocess.run(
        ["sh", "-a", "-c", '. "$0" && env -0', str(path)],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"]},
        check=True,
    )
    return dict(item.split("=", 1) for item in result.stdout.split("\0") if "=" in item)


def _as_systemd_reads_it(path: Path) -> dict[str, str]:
    """systemd's EnvironmentFile for the lines the example may hold (systemd.exec(5)): a
    value in double quotes loses them; any other keeps inner spaces, loses outer ones."""
    values = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith(("#", ";")) or "=" not in line:
            continue
        name, value = (part.strip() for part in line.split("=", 1))
        assert not set(value) & set("$`\\'"), f"{name}: $ ` \\ and ' read differently"
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        values[name] = value
    return values


def test_the_shell_and_systemd_read_the_settings_file_alike():
    systemd = _as_systemd_reads_it(ENV_EXAMPLE)
    shell = _as_the_shell_reads_it(ENV_EXAMPLE)
    assert systemd == {name: shell[name] for name in systemd}
    assert systemd["MARKET_HOURS"] == "Mon-Fri 08:00-15:30"


def test_the_settings_file_names_only_settings_tradesim_reads():
    code = "".join(
        path.read_text()
        for path in [*(BASE_DIR / "tradesim").glob("*.py"), DEPLOY / "gunicorn.conf.py"]
    )
    for name in _as_systemd_reads_it(ENV_EXAMPLE):
        assert f'"{name}"' in code, f"{name} is read nowhere in tradesim/ or gunicorn.conf.py"


def test_the_settings_file_passes_django_s_deployment_checks(tmp_path):
    environment = _as_the_shell_reads_it(ENV_EXAMPLE)
    assert environment["DEBUG"] == "False"
    assert environment["BEHIND_PROXY"] == "True"
    assert environment["SECRET_KEY"] == "", "the example must not ship a key"
    environment["SECRET_KEY"] = "a-production-secret-" + "Zq8vN3kT6wR1yB4mC7xH0jL5pD2sF9gA"
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **environment},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def _nginx_main(tmp_path: Path, server_conf: str) -> Path:
    (tmp_path / "tradesim.conf").write_text(server_conf)
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  include /etc/nginx/mime.types;\n"
        f"  include {tmp_path}/tradesim.conf;\n}}\n"
    )
    return main


def _nginx_test(main: Path, prefix: Path):
    return subprocess.run(
        ["nginx", "-t", "-c", str(main), "-p", str(prefix)],
        capture_output=True,
        text=True,
        timeout=60,
    )


needs_nginx = pytest.mark.skipif(
    not shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
    or not Path("/etc/nginx/mime.types").exists(),
    reason="nginx is not installed (apt-get install nginx-light)",
)


@needs_nginx
@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl is not installed")
def test_nginx_accepts_the_configuration_with_a_certificate_in_place(tmp_path):
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=trade.school.example",
            "-keyout", str(tmp_path / "privkey.pem"), "-out", str(tmp_path / "fullchain.pem"),
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )  # fmt: skip
    conf = (DEPLOY / "nginx.conf").read_text()
    assert conf.count("/etc/ssl/tradesim/") == 2
    conf = conf.replace("/etc/ssl/tradesim/", f"{tmp_path}/")
    result = _nginx_test(_nginx_main(tmp_path, conf), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@needs_nginx
def test_nginx_refuses_the_configuration_while_the_certificate_is_missing(tmp_path):
    # The same check fails for the reason step 8 of docs/deploy.md warns about: it tests.
    conf = (DEPLOY / "nginx.conf").read_text().replace("/etc/ssl/tradesim/", f"{tmp_path}/")
    result = _nginx_test(_nginx_main(tmp_path, conf), tmp_path)
    assert result.returncode != 0
    assert "fullchain.pem" in result.stderr


@needs_nginx
def test_the_benchmark_s_plain_http_copy_of_the_nginx_configuration_is_valid(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_load", BASE_DIR / "bench" / "load.py")
    load = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(load)
    conf = load.nginx_bench_conf(str(tmp_path))
    assert "ssl" not in conf and "return 301" not in conf
    assert f"listen {load.HOST}:{load.NGINX_PORT};" in conf
    main = tmp_path / "bench.conf"
    main.write_text(conf)
    result = _nginx_test(main, tmp_path)
    assert result.returncode == 0, result.stderr


def test_nginx_leaves_hsts_to_django_and_passes_the_headers_it_reads():
    conf = (DEPLOY / "nginx.conf").read_text()
    directives = "\n".join(line.split("#")[0] for line in conf.splitlines())
    assert "Strict-Transport-Security" not in directives
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in directives
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in directives
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in directives
    assert "location /.well-known/acme-challenge/" in directives


def test_every_deploy_file_the_page_names_exists_and_every_one_is_named():
    page = (BASE_DIR / "docs" / "deploy.md").read_text()
    named = set(re.findall(r"deploy/([\w.-]+[\w])", page))
    assert named, "docs/deploy.md names no file of deploy/"
    missing = sorted(name for name in named if not (DEPLOY / name).is_file())
    assert not missing, f"docs/deploy.md names files deploy/ does not have: {missing}"
    unnamed = sorted(path.name for path in DEPLOY.iterdir() if path.name not in named)
    assert not unnamed, f"docs/deploy.md never names these files of deploy/: {unnamed}"


def test_the_page_s_links_into_deploy_point_at_files():
    page = (BASE_DIR / "docs" / "deploy.md").read_text()
    links = re.findall(r"\]\((\.\./deploy/[^)#]+)\)", page)
    assert links
    for link in links:
        assert (BASE_DIR / "docs" / link).resolve().is_file(), link


def test_the_manage_wrapper_is_executable_and_valid_sh():
    wrapper = DEPLOY / "tradesim-manage"
    assert os.access(wrapper, os.X_OK)
    result = subprocess.run(["sh", "-n", str(wrapper)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
