"""Configuration from environment variables, with safe defaults."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_DIR", BASE_DIR / "instance"))


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def instance_secret_key(instance_dir: str | Path) -> str:
    """A key generated once and kept in the instance folder (used when SECRET_KEY is not set).

    A key made afresh per process would log users out at every restart and differ between
    gunicorn workers.
    """
    path = Path(instance_dir) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another worker made it a moment ago
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    return path.read_text().strip()


def normalise_database_url(url: str) -> str:
    """Accept the usual postgres:// spellings and pin the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY")  # else instance/secret_key
    SQLALCHEMY_DATABASE_URI = normalise_database_url(
        os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'tracker.db'}")
    )
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    # a PostgreSQL streaming replica for the progress pages' reads (tracker/replica.py); empty: the primary
    DATABASE_READ_URL = os.environ.get("DATABASE_READ_URL", "")
    UPLOAD_DIR = os.environ.get("UPLOAD_DIR", str(INSTANCE_DIR / "uploads"))
    MAX_UPLOAD_MB = int(os.environ.get("MAX_UPLOAD_MB", "20"))
    # Office files (.docx/.xlsx) are checked before parsing (tracker/office_archive.py)
    OFFICE_MAX_ENTRIES = int(os.environ.get("OFFICE_MAX_ENTRIES", "1000"))
    OFFICE_MAX_UNCOMPRESSED_MB = int(os.environ.get("OFFICE_MAX_UNCOMPRESSED_MB", "100"))
    OFFICE_MAX_RATIO = int(os.environ.get("OFFICE_MAX_RATIO", "100"))
    SEED_DIR = os.environ.get("SEED_DIR", str(BASE_DIR / "seed_plans"))
    TIMEZONE = os.environ.get("TRACKER_TIMEZONE", "Asia/Shanghai")
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = TIMEZONE
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "tracker" / "translations")
    LANGUAGES = ("zh_CN", "en")
    SCHEDULER_ENABLED = _bool("SCHEDULER_ENABLED", True)
    PAGE_SIZE = int(os.environ.get("PAGE_SIZE", "50"))
    # 撤销通过: minutes during which the reviewer who accepted a task may undo it (tracker/plans/undo_window.py)
    ACCEPT_UNDO_MINUTES = int(os.environ.get("ACCEPT_UNDO_MINUTES", "10"))
    # a task-list export of more rows than this is written by the scheduler process, with a
    # progress page (tracker/exports/jobs.py); a run not heard of for the lease is taken over
    EXPORT_BACKGROUND_ROWS = int(os.environ.get("EXPORT_BACKGROUND_ROWS", "50000"))
    EXPORT_LEASE_SECONDS = int(os.environ.get("EXPORT_LEASE_SECONDS", "900"))
    # the audit log's export: at most this many rows (newest first); above the second, in the background
    AUDIT_EXPORT_MAX_ROWS = int(os.environ.get("AUDIT_EXPORT_MAX_ROWS", "20000"))
    AUDIT_EXPORT_BACKGROUND_ROWS = int(os.environ.get("AUDIT_EXPORT_BACKGROUND_ROWS", "5000"))
    # rendered progress pages kept per worker, by version (tracker/progress/pages.py); 0: off
    PROGRESS_CACHE_MB = float(os.environ.get("PROGRESS_CACHE_MB", "32"))
    # ... and shared by the workers of the machine through this folder; empty: not shared
    PROGRESS_CACHE_DIR = os.environ.get("PROGRESS_CACHE_DIR", str(INSTANCE_DIR / "page-cache"))
    # Redis shared by every web machine (rendered pages); empty: the folder above, one machine
    REDIS_URL = os.environ.get("REDIS_URL", "")
    TRACKER_NODES = int(os.environ.get("TRACKER_NODES", "1"))  # web machines behind the proxy
    # Evidence files and scheme documents: "local" (UPLOAD_DIR) or "s3" (an S3-compatible object store)
    STORAGE_BACKEND = os.environ.get("STORAGE_BACKEND", "local")
    S3_ENDPOINT_URL = os.environ.get("S3_ENDPOINT_URL", "")  # e.g. http://minio:9000; empty: the provider's
    S3_BUCKET = os.environ.get("S3_BUCKET", "tracker")
    S3_PREFIX = os.environ.get("S3_PREFIX", "evidence/")
    S3_REGION = os.environ.get("S3_REGION", "")
    S3_ACCESS_KEY = os.environ.get("S3_ACCESS_KEY", "")
    S3_SECRET_KEY = os.environ.get("S3_SECRET_KEY", "")
    S3_PATH_STYLE = _bool("S3_PATH_STYLE", True)  # MinIO and most private stores want path-style
    S3_PRESIGNED_SECONDS = int(os.environ.get("S3_PRESIGNED_SECONDS", "0"))  # 0: downloads stream through the app
    PROGRESS_CACHE_TTL_HOURS = float(os.environ.get("PROGRESS_CACHE_TTL_HOURS", "48"))
    PROGRESS_LOCK_SECONDS = float(os.environ.get("PROGRESS_LOCK_SECONDS", "10"))
    # Escalation and notifications
    BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:5000")  # for links in mail and webhook
    ESCALATION_HOUR = int(os.environ.get("ESCALATION_HOUR", "7"))  # daily run, Asia/Shanghai
    SMTP_HOST = os.environ.get("SMTP_HOST", "")  # empty: no e-mail
    SMTP_PORT = int(os.environ.get("SMTP_PORT", "25"))
    SMTP_USER = os.environ.get("SMTP_USER", "")
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD", "")
    SMTP_STARTTLS = _bool("SMTP_STARTTLS", False)
    SMTP_SSL = _bool("SMTP_SSL", False)
    SMTP_TIMEOUT = float(os.environ.get("SMTP_TIMEOUT", "10"))
    MAIL_FROM = os.environ.get("MAIL_FROM", "tracker@localhost")
    WEBHOOK_URL = os.environ.get("WEBHOOK_URL", "")  # empty: no webhook
    # SQLite: a message claimed this long ago by a deliverer that never finished may be sent again
    DELIVERY_LEASE_SECONDS = float(os.environ.get("DELIVERY_LEASE_SECONDS", "300"))
    # Sign-in throttle (tracker/security.py): LOGIN_MAX_FAILURES per (address, user name) locks that
    # pair for LOGIN_LOCK_MINUTES; LOGIN_ADDRESS_MAX_FAILURES from one address (any names) lock the
    # address; past LOGIN_MAX_FAILURES for one name (any address) each try waits a delay that
    # doubles, up to LOGIN_MAX_DELAY_SECONDS (a name is slowed, never locked).
    LOGIN_MAX_FAILURES = int(os.environ.get("LOGIN_MAX_FAILURES", "5"))
    LOGIN_ADDRESS_MAX_FAILURES = int(os.environ.get("LOGIN_ADDRESS_MAX_FAILURES", "20"))
    LOGIN_MAX_DELAY_SECONDS = int(os.environ.get("LOGIN_MAX_DELAY_SECONDS", "60"))
    LOGIN_LOCK_MINUTES = int(os.environ.get("LOGIN_LOCK_MINUTES", "15"))
    # Reverse proxies in front of the app (nginx: 1): their X-Forwarded-For/-Proto/-Host are
    # trusted for that many hops (werkzeug ProxyFix); 0 (the default): none, remote_addr as is.
    TRUSTED_PROXY_HOPS = int(os.environ.get("TRUSTED_PROXY_HOPS", os.environ.get("TRUSTED_PROXIES", "0")))
    # Single sign-on (tracker/auth/sso.py, tracker/auth/ldap.py; README "Single sign-on"). Each is
    # off while its address is empty. A signed-in identity maps to an existing active user by user
    # name or e-mail; SSO never creates accounts. LOCAL_LOGIN=0 switches local passwords off.
    LOCAL_LOGIN = _bool("LOCAL_LOGIN", True)
    OIDC_ISSUER = os.environ.get("OIDC_ISSUER", "")  # e.g. https://id.example.gov.cn/realms/main
    OIDC_METADATA_URL = os.environ.get("OIDC_METADATA_URL", "")  # default: ISSUER/.well-known/openid-configuration
    OIDC_CLIENT_ID = os.environ.get("OIDC_CLIENT_ID", "")
    OIDC_CLIENT_SECRET = os.environ.get("OIDC_CLIENT_SECRET", "")
    OIDC_SCOPES = os.environ.get("OIDC_SCOPES", "openid profile email")
    OIDC_MATCH_BY = os.environ.get("OIDC_MATCH_BY", "username")  # or "email"
    OIDC_USERNAME_CLAIM = os.environ.get("OIDC_USERNAME_CLAIM", "preferred_username")
    OIDC_EMAIL_CLAIM = os.environ.get("OIDC_EMAIL_CLAIM", "email")
    # by e-mail: only an address the provider says it verified (email_verified), unless 0
    OIDC_REQUIRE_VERIFIED_EMAIL = _bool("OIDC_REQUIRE_VERIFIED_EMAIL", True)
    OIDC_PROVIDER_NAME = os.environ.get("OIDC_PROVIDER_NAME", "")  # the button's name; default "single sign-on"
    OIDC_TIMEOUT = float(os.environ.get("OIDC_TIMEOUT", "10"))
    LDAP_URL = os.environ.get("LDAP_URL", "")  # e.g. ldaps://ldap.example.org or ldap://127.0.0.1:389
    LDAP_USER_DN_TEMPLATE = os.environ.get("LDAP_USER_DN_TEMPLATE", "")  # uid={username},ou=people,dc=example,dc=org
    LDAP_SEARCH_BASE = os.environ.get("LDAP_SEARCH_BASE", "")  # or search: base + filter (+ a service account)
    LDAP_SEARCH_FILTER = os.environ.get("LDAP_SEARCH_FILTER", "(uid={username})")
    LDAP_BIND_DN = os.environ.get("LDAP_BIND_DN", "")  # the service account that searches; empty: anonymous
    LDAP_BIND_PASSWORD = os.environ.get("LDAP_BIND_PASSWORD", "")
    LDAP_MATCH_BY = os.environ.get("LDAP_MATCH_BY", "username")  # or "email"
    LDAP_USERNAME_ATTRIBUTE = os.environ.get("LDAP_USERNAME_ATTRIBUTE", "uid")
    LDAP_EMAIL_ATTRIBUTE = os.environ.get("LDAP_EMAIL_ATTRIBUTE", "mail")
    LDAP_START_TLS = _bool("LDAP_START_TLS", False)
    # TLS (ldaps:// or StartTLS): the CA file the directory's certificate chains to (empty: the
    # system's trust store); verification is on unless LDAP_TLS_VERIFY=0 (then logged every time)
    LDAP_CA_FILE = os.environ.get("LDAP_CA_FILE", "")
    LDAP_TLS_VERIFY = _bool("LDAP_TLS_VERIFY", True)
    LDAP_TIMEOUT = float(os.environ.get("LDAP_TIMEOUT", "5"))
    IDLE_TIMEOUT_MINUTES = int(os.environ.get("IDLE_TIMEOUT_MINUTES", "30"))
    SESSION_REFRESH_EACH_REQUEST = True
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    WTF_CSRF_TIME_LIMIT = None


class TestConfig(Config):
    TESTING = True
    PROGRESS_CACHE_DIR = ""  # the suite's app sets a folder of its own (tests/conftest.py)
    REDIS_URL = ""  # tests that use Redis set it themselves
    DATABASE_READ_URL = ""  # tests of the replica set it themselves
    SECRET_KEY = "test-secret"
    SQLALCHEMY_DATABASE_URI = normalise_database_url(os.environ.get("TEST_DATABASE_URL", "sqlite://"))
    SCHEDULER_ENABLED = False
    WTF_CSRF_ENABLED = False
    SMTP_HOST = ""
    WEBHOOK_URL = ""
