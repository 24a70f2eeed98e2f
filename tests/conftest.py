"""Test fixtures: an app on SQLite (or TEST_DATABASE_URL), seeded once, each test rolled back."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
from flask import g
from flask_sqlalchemy.session import _app_ctx_id
from sqlalchemy import event, select
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from tracker import create_app
from tracker.auth.service import create_user
from tracker.config import TestConfig
from tracker.extensions import db
from tracker.importer.seed import load_seed_files, seed_files
from tracker.models import OrgUnit, Plan, Task, User
from tracker.replica import ReplicaRouting

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "test-pass-123"


def compile_translations() -> None:
    """Compile the .po catalogues when their .mo is missing or older (make does this too)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in (ROOT / "tracker" / "translations").glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with open(po, "rb") as source, open(mo, "wb") as target:
                write_mo(target, read_po(source))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    compile_translations()
    app = create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=database_url,
        UPLOAD_DIR=str(tmp_path_factory.mktemp("uploads")),
        PROGRESS_CACHE_DIR=str(tmp_path_factory.mktemp("page-cache")),
    )

    def fresh_request_globals():
        # The tests keep one app context open, which requests would share: give each
        # request an empty `g`, as it has in production (Flask-Login caches the user there).
        for name in list(g):
            g.pop(name)

    app.before_request_funcs.setdefault(None, []).insert(0, fresh_request_globals)
    with app.app_context():
        db.drop_all()
        db.create_all()
        load_seed_files(seed_files(ROOT / "seed_plans"))
        db.session.commit()
        yield app
        db.session.remove()
        db.drop_all()


class TestSession(ReplicaRouting, Session):
    """The test's session: bound to the test's connection, with the app's replica routing."""


@pytest.fixture(autouse=True, scope="session")
def choices_assigned_as_tuples_warn():
    """WTForms warns about tuple choices given to a field's constructor but not about tuples
    assigned later (`form.x.choices = [...]`), which is how most of our forms fill theirs; make
    the assignment warn too, so pyproject's filterwarnings turns any tuple into a failing test
    before WTForms 3.4 drops them."""
    from wtforms.fields.choices import SelectFieldBase, SelectField

    original = SelectField.choices

    def assign(self, value):
        if value is not None and not callable(value):
            SelectFieldBase._warn_legacy_choices(value)
        original.fset(self, value)

    SelectField.choices = original.setter(assign)
    yield
    SelectField.choices = original


@pytest.fixture(autouse=True)
def db_session(app):
    """Each test runs inside a transaction that is rolled back; commits become savepoints."""
    connection = db.engine.connect()
    outer = connection.begin()
    original = db.session
    # A plain Session bound to the test's connection (Flask-SQLAlchemy's own Session picks
    # its engine by bind key and would ignore the connection).
    db.session = scoped_session(
        sessionmaker(class_=TestSession, bind=connection, join_transaction_mode="create_savepoint", query_cls=db.Query),
        scopefunc=_app_ctx_id,
    )
    try:
        yield db.session
    finally:
        db.session.remove()
        db.session = original
        outer.rollback()
        connection.close()


@pytest.fixture(autouse=True)
def fresh_page_store(app):
    """Each test's rolled-back data is another database: no rendered page carries over."""
    from tracker.progress.pages import SharedPages

    store = app.extensions.get("progress_pages")
    if store is not None:
        store.clear()
    SharedPages(Path(app.config["PROGRESS_CACHE_DIR"])).clear()
    yield


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class Auth:
    def __init__(self, client):
        self.client = client

    def login(self, user: User):
        """Signed in as the sign-in page does it: a session record, its id in the cookie."""
        from tracker.auth.sessions import start_session
        from tracker.security import SESSION_ID_KEY

        token = start_session(user, "pytest", "127.0.0.1")
        db.session.commit()  # a savepoint: a request's rollback must not undo it
        with self.client.session_transaction() as session:
            session["_user_id"] = str(user.id)
            session["_fresh"] = True
            session[SESSION_ID_KEY] = token
            session["_permanent"] = True
        return user

    def logout(self):
        with self.client.session_transaction() as session:
            session.clear()


@pytest.fixture
def auth(client):
    return Auth(client)


@pytest.fixture(scope="session")
def s3_endpoint():
    """An S3-compatible server (moto's standalone server) on a free loopback port, started the
    first time a test asks for it; each test uses a bucket of its own (`s3_bucket`)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_settings(endpoint: str, bucket: str, **more) -> dict:
    """The app's settings for the S3 backend on that server and bucket."""
    return {
        "STORAGE_BACKEND": "s3",
        "S3_ENDPOINT_URL": endpoint,
        "S3_BUCKET": bucket,
        "S3_PREFIX": "evidence/",
        "S3_REGION": "cn-north-1",
        "S3_ACCESS_KEY": "test",
        "S3_SECRET_KEY": "test",
        "S3_PATH_STYLE": True,
        "S3_PRESIGNED_SECONDS": 0,
        **more,
    }


@pytest.fixture
def s3_bucket(s3_endpoint):
    """A new, empty bucket on the loopback S3 server: its settings (s3_settings)."""
    from tracker.storage import make_storage

    settings = s3_settings(s3_endpoint, f"t-{uuid.uuid4().hex[:12]}")
    assert make_storage(settings).ensure_bucket()
    return settings


@pytest.fixture
def s3_app(app, s3_bucket, monkeypatch):
    """The suite's app with its evidence store in a bucket of its own (restored afterwards)."""
    for key, value in s3_bucket.items():
        monkeypatch.setitem(app.config, key, value)
    return app


def unit(code: str) -> OrgUnit:
    found = db.session.scalar(select(OrgUnit).where(OrgUnit.code == code))
    assert found is not None, f"no unit {code}"
    return found


def store_bytes(stored_name: str, data: bytes) -> None:
    """Put `data` into the app's store of evidence files under `stored_name`, as a committed
    upload would be (the folder, or the object store when a test configures one)."""
    import tempfile

    from tracker.storage import storage

    handle, path = tempfile.mkstemp(suffix=".part")
    with os.fdopen(handle, "wb") as target:
        target.write(data)
    storage().put_file(stored_name, Path(path))


@pytest.fixture
def make_user():
    def make(role: str, unit_code: str, username: str | None = None) -> User:
        user = create_user(username or f"{role}-{unit_code}-{uuid.uuid4().hex[:6]}", PASSWORD, role, unit_code)
        db.session.commit()  # a savepoint: a request's rollback must not undo the fixture
        return user

    return make


@pytest.fixture
def make_unit():
    def make(
        code: str, parent_code: str, kind: str = "institution", level: str = "institution", name: str | None = None
    ) -> OrgUnit:
        parent = unit(parent_code)
        new = OrgUnit(code=code, name=name or code, kind=kind, level=level, parent=parent)
        db.session.add(new)
        db.session.flush()
        new.path = f"{parent.path}{new.id}/"
        db.session.commit()
        return new

    return make


@pytest.fixture
def make_task():
    def make(owner_code: str | None, plan_key: str = "fixture-plan", parent: Task | None = None, **values) -> Task:
        plan = db.session.scalar(select(Plan).where(Plan.key == plan_key))
        if plan is None:
            plan = Plan(key=plan_key, title="测试计划", issuer_unit=unit("NHC"))
            db.session.add(plan)
        task = Task(
            plan=plan,
            parent=parent,
            ref=values.pop("ref", f"T-{uuid.uuid4().hex[:8]}"),
            title=values.pop("title", "测试任务"),
            owner_unit=unit(owner_code) if owner_code else None,
            depth=parent.depth + 1 if parent else 0,
            **values,
        )
        db.session.add(task)
        db.session.flush()
        task.path = f"{parent.path if parent else '/'}{task.id}/"
        db.session.commit()
        return task

    return make


@contextmanager
def count_queries():
    """Count the SQL statements run inside the block: `with count_queries() as n: ...; n()`."""
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO")):
            statements.append(statement)  # the test harness's savepoints are not the page's

    class Counted:
        sql = statements  # the statements themselves, for tests that look at what ran

        def __call__(self) -> int:
            return len(statements)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield Counted()
    finally:
        event.remove(engine, "before_cursor_execute", before)


def today() -> date:
    return date.today()


@pytest.fixture
def scratch_database_url(database_url, tmp_path):
    """A database of its own for a test that must commit (other processes, migrations, backup):
    a new SQLite file, or a new PostgreSQL database dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'scratch.db'}"
        return
    name = f"{url.database}_{uuid.uuid4().hex[:8]}"  # e.g. h20_1a2b3c4d beside the test database h20
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def requires_postgresql(url: str, why: str) -> None:
    from sqlalchemy.engine import make_url

    if make_url(url).get_backend_name() != "postgresql":
        pytest.skip(why)


@pytest.fixture(params=["tasks", "summary-dirty", "summary-folded"])
def progress_source(request):
    """Run a progress test three ways: from the tasks (no summary); from a summary built before
    the test's data (every owner dirty: roll-up plus the live correction); from a summary built
    after it (the module's TODAY). The figures must be the same."""
    from tracker.progress import summary

    as_of = request.module.TODAY
    if request.param == "summary-dirty":
        summary.rebuild(as_of)
        db.session.commit()
    elif request.param == "summary-folded":
        for name in request.fixturenames:
            if name in ("plan_tree", "histories"):
                request.getfixturevalue(name)
        summary.rebuild(as_of)
        db.session.commit()
    return request.param
