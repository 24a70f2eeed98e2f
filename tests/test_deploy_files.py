"""The files in deploy/ agree with the app: no Docker engine or nginx runs here, so what can be
checked without them is checked by reading them (every setting the app reads is in
.env.example, compose gives the app its shared backends, the image drops root, nginx's upload
limit fits MAX_UPLOAD_MB)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"

# read from the environment but no setting for an operator: the test suite's database, and the
# older name of TRUSTED_PROXY_HOPS (still read when the new one is not set)
NOT_FOR_OPERATORS = {"TEST_DATABASE_URL", "TRUSTED_PROXIES"}
ENV_READ = re.compile(r"""(?:environ\.get|environ\[|getenv|_bool)\(?\s*["']([A-Z][A-Z0-9_]*)["']""")


def settings_read_from_the_environment() -> set[str]:
    sources = [*(ROOT / "tracker").rglob("*.py"), ROOT / "app.py", ROOT / "gunicorn.conf.py"]
    return {name for path in sources for name in ENV_READ.findall(path.read_text("utf-8"))}


def env_example_settings() -> dict[str, str]:
    """NAME -> value of each line `NAME=value`, also commented out (`#NAME=default`)."""
    lines = (DEPLOY / ".env.example").read_text("utf-8").splitlines()
    found = (re.match(r"#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line) for line in lines)
    return {match[1]: match[2] for match in found if match}


def compose_app_environment() -> dict[str, str]:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text("utf-8"))
    return {
        name: {key: str(value) for key, value in service.get("environment", {}).items()}
        for name, service in compose["services"].items()
    }


def test_the_scan_finds_the_settings_it_should():
    read = settings_read_from_the_environment()
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "TRACKER_NODES", "LOG_LEVEL", "DRAFT_DIR"} <= read
    assert len(read) > 60


def test_every_setting_the_app_reads_from_the_environment_is_in_the_env_example():
    missing = settings_read_from_the_environment() - NOT_FOR_OPERATORS - set(env_example_settings())
    assert not missing, f"not in deploy/.env.example: {sorted(missing)}"


def test_the_env_example_names_no_setting_the_app_does_not_read():
    # WEB_WORKERS is read by deploy/tracker-web.service (gunicorn --workers)
    unknown = set(env_example_settings()) - settings_read_from_the_environment() - {"WEB_WORKERS"}
    assert not unknown, f"deploy/.env.example sets what nothing reads: {sorted(unknown)}"


@pytest.mark.parametrize("service", ["setup", "web", "scheduler"])
def test_compose_gives_the_app_its_database_redis_and_object_store(service):
    environment = compose_app_environment()[service]
    assert (
        environment["DATABASE_URL"].startswith("postgresql+psycopg://") and "@db:5432/" in environment["DATABASE_URL"]
    )
    assert environment["REDIS_URL"].startswith("redis://redis:6379")
    assert environment["STORAGE_BACKEND"] == "s3"
    assert environment["S3_ENDPOINT_URL"] == "http://minio:9000"
    for name in ("S3_BUCKET", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_PATH_STYLE"):
        assert environment[name], name
    # compose serves plain http: a Secure cookie from the copied .env would break sign-in
    assert environment["SESSION_COOKIE_SECURE"] == "0"


def test_compose_s3_keys_are_the_minio_services_own():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text("utf-8"))
    minio = compose["services"]["minio"]["environment"]
    app = compose_app_environment()["web"]
    assert (app["S3_ACCESS_KEY"], app["S3_SECRET_KEY"]) == (minio["MINIO_ROOT_USER"], minio["MINIO_ROOT_PASSWORD"])


def test_the_image_does_not_run_as_root():
    users = re.findall(r"^USER\s+(\S+)", (DEPLOY / "Dockerfile").read_text("utf-8"), re.MULTILINE)
    assert users, "the Dockerfile has no USER line"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_nginx_takes_an_upload_of_max_upload_mb_with_its_form():
    default = int(re.search(r'"MAX_UPLOAD_MB",\s*"(\d+)"', (ROOT / "tracker" / "config.py").read_text())[1])
    assert int(env_example_settings()["MAX_UPLOAD_MB"]) == default
    nginx = (DEPLOY / "nginx-tracker.conf").read_text("utf-8")
    limits = re.findall(r"^\s*client_max_body_size\s+(\d+)m\s*;", nginx, re.MULTILINE)
    # the file plus 1 MB for the multipart form around it (its note and CSRF token)
    assert limits == [str(default + 1)]
