"""The README's API walk-through, run as written: the curl commands of its `## API` block against
the app on `make db` data (seed plans, demo users, the living demo plan), as `lt_rep` with a
personal token. The task id in the README is an example: the test takes the first task the first
command lists and uses it where the README says 2223."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import start_live_server

ROOT = Path(__file__).resolve().parent.parent


def _walkthrough() -> list[str]:
    readme = (ROOT / "README.md").read_text("utf-8")
    block = readme[readme.index("## API") :]
    block = block[block.index("```sh") + 5 : block.index("```", block.index("```sh") + 5)]
    commands, current = [], ""
    for line in block.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        current += line.rstrip("\\").rstrip() + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            commands.append(current.strip())
            current = ""
    return [c for c in commands if c.startswith("curl")]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    instance = tmp_path_factory.mktemp("readme-api")
    yield from _with_instance(instance)


def _with_instance(instance: Path):
    for base in start_live_server(instance, extra=(("demo", "plan"),)):
        yield base, instance


def _token(instance: Path) -> str:
    """A personal token of lt_rep, made as /account/tokens makes it (the live server's database)."""
    code = (
        "from tracker import create_app\n"
        "from tracker.extensions import db\n"
        "from tracker.models import User\n"
        "from tracker.api.tokens import create_personal_token\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    user = db.session.query(User).filter_by(username='lt_rep').one()\n"
        "    new = create_personal_token(user, 'README', 30)\n"
        "    db.session.commit()\n"
        "    print(new.secret)\n"
    )
    env = dict(
        os.environ,
        FLASK_APP="app",
        INSTANCE_DIR=str(instance),
        DATABASE_URL=f"sqlite:///{instance / 'live.db'}",
        SECRET_KEY="e2e-secret",
    )
    env.pop("TEST_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip().splitlines()[-1]


def _run(command: str, env: dict, cwd: Path, body: bool = True) -> tuple[int, dict]:
    done = subprocess.run(
        ["bash", "-c", command + ' -w "\\n%{http_code}"'], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )
    text, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(text) if body else {}


def test_the_readme_api_walkthrough_works_as_written(server, tmp_path):
    base, instance = server
    commands = _walkthrough()
    assert len(commands) == 5, commands  # list, percent, evidence, download, submit
    (tmp_path / "minutes.pdf").write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    env = dict(os.environ, T=_token(instance), B=base + "/api/v1")

    status, listed = _run(commands[0], env, tmp_path)
    assert status == 200 and listed["items"], listed
    task = listed["items"][0]
    assert task["overdue"] is True
    example = re.search(r"/tasks/(\d+)/", commands[1]).group(1)  # the README's example id
    version = task["version"]

    def mine(command: str) -> str:
        command = command.replace(f"/tasks/{example}/", f"/tasks/{task['id']}/")
        return re.sub(r'"version": \d+', f'"version": {version}', command)

    status, changed = _run(mine(commands[1]), env, tmp_path)
    assert status == 200 and changed["percent"] == 30 and changed["status"] == "in_progress", changed
    status, stale = _run(mine(commands[1]), env, tmp_path)  # "the same again": that version is stale now
    assert status == 409 and stale["error"] == "conflict" and stale["task"]["version"] == changed["version"]
    status, evidence = _run(mine(commands[2]), env, tmp_path)
    assert status == 201 and evidence["name"] == "minutes.pdf" and evidence["note"] == "动员大会会议纪要", evidence
    download = re.sub(r"/evidence/\d+", f"/evidence/{evidence['id']}", commands[3])
    status, _ = _run(download, env, tmp_path, body=False)
    copy = re.search(r"-o (\S+)", download).group(1)
    assert status == 200 and (tmp_path / copy).read_bytes() == (tmp_path / "minutes.pdf").read_bytes()
    version = changed["version"]
    status, submitted = _run(mine(commands[4]), env, tmp_path)
    assert status == 200 and submitted["status"] == "submitted", submitted
