"""iptcare settings: one module, read from the environment.

Modes (see docs/configuration.md):
- production: ``IPTCARE_PRODUCTION=1`` — SECRET_KEY and ALLOWED_HOSTS required, HTTPS only, HSTS.
- demo: ``IPTCARE_DEMO=1`` (set by ``make demo``) — a secret key is generated into ``var/``, MFA may
  be switched off and a "demo mode" banner is shown, email goes to the console.
- test: ``IPTCARE_TEST=1`` (set by ``config.settings_test`` for pytest).
Anything else is development and needs SECRET_KEY set explicitly.
"""

from __future__ import annotations

import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("IPTCARE_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


PRODUCTION = env_bool("IPTCARE_PRODUCTION")
DEMO = env_bool("IPTCARE_DEMO")
TESTING = env_bool("IPTCARE_TEST")
if PRODUCTION and (DEMO or TESTING):
    raise ImproperlyConfigured("IPTCARE_PRODUCTION cannot be combined with demo or test mode")

DEBUG = env_bool("DEBUG", default=False) and not PRODUCTION


def _secret_key() -> str:
    key = os.environ.get("SECRET_KEY", "")
    if key:
        return key
    if TESTING:
        return "insecure-test-only-key-" + "x" * 40  # never used outside the test suite
    if DEMO:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path = VAR_DIR / "secret_key"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(64))
            path.chmod(0o600)
        return path.read_text().strip()
    raise ImproperlyConfigured(
        "SECRET_KEY is required (set it in the environment); only demo and test mode generate one"
    )


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "testserver", "[::1]"]
)
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is required in production")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "csp",
    "django_htmx",
    "iptcare.core",
    "iptcare.accounts",
    "iptcare.access",
    "iptcare.audit",
    "iptcare.clients",
    "iptcare.scheduling",
    "iptcare.encounters",
    "iptcare.ipt",
    "iptcare.plans",
    "iptcare.recovery",
    "iptcare.measures",
    "iptcare.portal",
    "iptcare.chart",
    "iptcare.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "iptcare.core.middleware.RequestContextMiddleware",
    # Reads, refusals and failed writes are appended here, after the view (ADR 0015).
    "iptcare.audit.middleware.AuditEdgeMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "iptcare.accounts.middleware.SessionLifetimeMiddleware",
    "iptcare.accounts.middleware.MFARequiredMiddleware",
    # After authentication, OTP, session lifetime and MFA: a locked kiosk session is still ended
    # by a timeout; while locked, nothing but the kiosk hand-back page is reachable.
    "iptcare.measures.middleware.KioskLockMiddleware",
    "iptcare.core.middleware.DomainErrorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "iptcare.core.middleware.NoStoreMiddleware",
    # AxesMiddleware last, as django-axes documents.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "iptcare.core.context_processors.site",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# Default: the embedded SQLite file, with Django's own backend (ADR 0015). WAL lets readers work
# while one writer commits; synchronous=FULL syncs every commit before it is reported ("nothing is
# lost"); IMMEDIATE transactions take the write lock at BEGIN, so that a read-then-write block
# (the audit chain's head, a single-use link) cannot interleave with another writer; a writer
# waits up to 30 s for the lock.
SQLITE_PATH = VAR_DIR / "iptcare.sqlite3"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{SQLITE_PATH}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0 if TESTING else DATABASES["default"]["CONN_MAX_AGE"]
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
            "PRAGMA busy_timeout=30000;"
        ),
    }
    if TESTING:
        # A file, not shared-cache memory, so that concurrency tests see real SQLite locking.
        # Per process, so that two test runs on one machine never share a file.
        DATABASES["default"]["TEST"] = {
            "NAME": str(VAR_DIR / f"test-iptcare-{os.getpid()}.sqlite3")
        }

# Settings of earlier releases that nothing reads any more (ADR 0015): say so at start rather
# than let an operator believe they still do something.
for _removed, _why in (
    ("IPTCARE_AUDIT_CHAINS", "the audit trail is one chain again"),
    ("DB_PREPARED_STATEMENTS", "the database backends are Django's own"),
):
    if _removed in os.environ:
        sys.stderr.write(
            f"iptcare: warning: {_removed} is no longer used ({_why}); remove it from the "
            "environment.\n"
        )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts, passwords, MFA, lockout --------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "iptcare.accounts.backends.EmailBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "accounts:login"

IPTCARE_REQUIRE_MFA = env_bool("IPTCARE_REQUIRE_MFA", default=not DEMO)
OTP_TOTP_ISSUER = "iptcare"

AXES_FAILURE_LIMIT = env_int("IPTCARE_LOCKOUT_FAILURES", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("IPTCARE_LOCKOUT_MINUTES", 30))
# Per account (the usual health-system rule) and per client IP (credential stuffing across
# accounts).
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False
AXES_ENABLE_ACCESS_FAILURE_LOG = False
AXES_USERNAME_CALLABLE = "iptcare.accounts.backends.axes_username"

# --- Sessions ------------------------------------------------------------------------------
# ONC 170.315(d)(5) automatic access time-out, enforced by SessionLifetimeMiddleware:
# - idle: a session unused for IPTCARE_IDLE_MINUTES ends. Activity is recorded in the session at
#   most once a minute (not a database write per request), so a session may end up to a minute
#   early, never late; the server-side expiry date slides with each recorded activity.
# - absolute: IPTCARE_SESSION_HOURS after login the session ends, however active.
IPTCARE_IDLE_MINUTES = env_int("IPTCARE_IDLE_MINUTES", 15)
IPTCARE_SESSION_HOURS = env_int("IPTCARE_SESSION_HOURS", 12)
# How long a client's portal invitation link works (staff password links: one hour).
IPTCARE_PORTAL_INVITE_DAYS = env_int("IPTCARE_PORTAL_INVITE_DAYS", 7)
# What a client who endorses self-harm is told to do right now (thank-you page of a
# questionnaire). Empty: the US text (988 Suicide & Crisis Lifeline, or 911). Deployments outside
# the US set their own crisis line here.
IPTCARE_CRISIS_TEXT = os.environ.get("IPTCARE_CRISIS_TEXT", "").strip()
IPTCARE_ACTIVITY_RESOLUTION_SECONDS = 60
SESSION_ENGINE = "django.contrib.sessions.backends.db"
# Server-side expiry a little beyond the idle limit so that the middleware (which audits the
# timeout) is what ends an idle session, to the minute.
SESSION_COOKIE_AGE = IPTCARE_IDLE_MINUTES * 60 + IPTCARE_ACTIVITY_RESOLUTION_SECONDS * 2
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_NAME = "iptcare_session"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_NAME = "iptcare_csrftoken"

# --- Security headers ---------------------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("IPTCARE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env_int("IPTCARE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("IPTCARE_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if env_bool("IPTCARE_BEHIND_PROXY"):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Email ---------------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=True)
# Seconds a mail server may take: an email is sent inside the request that asked for it, after
# its commit, and a server that never answers must not hold the request until gunicorn ends it.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "iptcare <no-reply@localhost>")
PASSWORD_RESET_TIMEOUT = 60 * 60  # one hour

# --- i18n, static --------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("IPTCARE_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise serves from finders; keeps it quiet
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Audit ---------------------------------------------------------------------------------
# Off only for the benchmark's "audit off" comparison run; never in production.
IPTCARE_AUDIT_ENABLED = env_bool("IPTCARE_AUDIT_ENABLED", default=True) or PRODUCTION

# --- API ----------------------------------------------------------------------------------
IPTCARE_API_TOKEN_MAX_DAYS = env_int("IPTCARE_API_TOKEN_MAX_DAYS", 365)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# Benchmark-only routes (bench/): never set in production.
IPTCARE_BENCH = env_bool("IPTCARE_BENCH") and not PRODUCTION
