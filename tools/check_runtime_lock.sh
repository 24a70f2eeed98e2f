#!/usr/bin/env bash
# The runtime lock alone runs the app (issue 17): a fresh virtualenv from requirements.lock only,
# without the test tools, creates the app, builds a SQLite database and serves the sign-in page.
set -euo pipefail
cd "$(dirname "$0")/.."
where="$(mktemp -d /tmp/runtime-lock.XXXXXX)"
trap 'rm -rf "$where"' EXIT
python3 -m venv "$where/venv"
"$where/venv/bin/pip" install --quiet --upgrade pip
"$where/venv/bin/pip" install --quiet --require-hashes -r requirements.lock
INSTANCE_DIR="$where/instance" DATABASE_URL="sqlite:///$where/app.db" SECRET_KEY=runtime-lock \
  "$where/venv/bin/python" - <<'PY'
import importlib.util, sys
for tool in ("pytest", "playwright", "hypothesis", "aiosmtpd", "schemathesis", "ruff"):
    if importlib.util.find_spec(tool) is not None:
        sys.exit(f"the runtime lock installs the test tool {tool}")
from flask_migrate import upgrade
from tracker import create_app
app = create_app()
with app.app_context():
    upgrade()
response = app.test_client().get("/login")
if response.status_code != 200:
    sys.exit(f"/login answered {response.status_code} with the runtime lock alone")
print("runtime lock alone: the app runs, no test tool installed")
PY
