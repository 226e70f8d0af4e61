"""Settings for the incident records service.

One module, configured from the environment through the strict helpers below.
Development defaults are safe to run locally; with DEBUG off the service refuses
to start until SECRET_KEY and ALLOWED_HOSTS are given.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name, default=None):
    value = os.environ.get(name)
    if value is None or value == "":
        if default is None:
            raise ImproperlyConfigured(f"The environment variable {name} is required.")
        return default
    return value


def env_bool(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {value!r}.")


def env_int(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}.") from None


def env_count(name, default, minimum=0):
    """A whole number no smaller than `minimum`."""
    value = env_int(name, default)
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}.")
    return value


def env_list(name, default=""):
    value = os.environ.get(name, default)
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)

if DEBUG:
    SECRET_KEY = env_str("SECRET_KEY", "insecure-development-key-do-not-use-in-production")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
else:
    SECRET_KEY = env_str("SECRET_KEY")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS is required when DEBUG is off.")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "rest_framework.authtoken",
    "simple_history",
    "axes",
    "incidents",
]

MIDDLEWARE = [
    # First, so it sees the answer to every exception: errors under /api/ are JSON, in DEBUG too.
    "incidents.api.errors.JSONErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "incidents.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "incidents.routing.PinWritesToPrimaryMiddleware",
    "incidents.caching.AnonymousReadCacheMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Every change through the admin or the API is recorded with its user.
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLite is the zero-setup default; DATABASE_URL (postgres://...) switches to PostgreSQL.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("CONN_MAX_AGE", 0 if DEBUG else 60),
        # A persistent connection that died with a database restart is replaced
        # before use instead of failing the request.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # One request cannot hold the database: PostgreSQL cancels statements past this.
            "options": f"-c statement_timeout={env_int('DATABASE_STATEMENT_TIMEOUT_MS', 30_000)}",
            # While the database is down, requests fail within seconds instead of hanging.
            "connect_timeout": env_int("DATABASE_CONNECT_TIMEOUT_S", 3),
        }
    )
    if env_bool("DATABASE_PREPARED_STATEMENTS", True):
        # Parameters bound by the server, and a query run a fifth time on a connection is
        # prepared: PostgreSQL then skips parsing and planning it (docs/benchmarks.md).
        # Turn off behind a pooler that cannot keep prepared statements (PgBouncer in
        # transaction mode before 1.21).
        DATABASES["default"]["OPTIONS"].update({"server_side_binding": True, "prepare_threshold": 5})

# Read replicas: reads go to one of them, writes (and the reads of a writing request)
# to the primary. Each replica is a test mirror of the primary.
for number, url in enumerate(env_list("DATABASE_REPLICA_URLS"), start=1):
    DATABASES[f"replica_{number}"] = {
        **dj_database_url.parse(
            url, conn_max_age=DATABASES["default"]["CONN_MAX_AGE"], conn_health_checks=True
        ),
        "OPTIONS": DATABASES["default"].get("OPTIONS", {}),
        "TEST": {"MIRROR": "default"},
    }
DATABASE_ROUTERS = ["incidents.routing.PrimaryReplicaRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    # 12 characters: short guessable phrases (the old README's "change-me") are refused.
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Where the seed source documents live; load_seeds reads their text from here.
SEEDS_DIR = BASE_DIR / "seeds"
FIXTURES_DIR = BASE_DIR / "fixtures"

API_MAX_PAGE_SIZE = env_int("API_MAX_PAGE_SIZE", 500)
# The most incidents one export streams; larger sets are taken in filtered parts.
EXPORT_MAX_ROWS = env_int("EXPORT_MAX_ROWS", 2_000_000)
# PostgreSQL writes the incident CSV in one COPY statement, which lasts as long as the
# client takes to download it; it gets this limit instead of DATABASE_STATEMENT_TIMEOUT_MS.
EXPORT_STATEMENT_TIMEOUT_MS = env_int("EXPORT_STATEMENT_TIMEOUT_MS", 30 * 60 * 1000)

# Caches back the throttles and the optional read cache. Without REDIS_URL the cache lives
# in the one gunicorn process that config/gunicorn.py then runs (its threads share it);
# that file refuses more than one process without REDIS_URL, since separate processes
# would each count a client's requests anew (docs/security.md, "Throttle counts shared by
# every process").
REDIS_URL = os.environ.get("REDIS_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Seconds an anonymous API read stays cached (0: off). Any write empties the cache.
API_CACHE_SECONDS = env_int("API_CACHE_SECONDS", 0)

# The read-only API is open to pages on other origins; writes are not (browsers are
# only allowed safe methods across origins, and no credentials).
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_ALL_ORIGINS = True
CORS_ALLOW_METHODS = ("GET", "HEAD", "OPTIONS")
CORS_ALLOW_CREDENTIALS = False
CORS_EXPOSE_HEADERS = ("ETag", "Content-Disposition", "Retry-After")

# How many reverse proxies in front of the service append to X-Forwarded-For. 0 (the
# default): the client is the socket's peer (REMOTE_ADDR) and X-Forwarded-For is ignored,
# so a client cannot name itself anew per request to escape the throttles or the login
# lockout. Behind N proxies, the Nth address from the right is the client; set it only
# when the service cannot be reached except through those proxies.
NUM_PROXIES = env_count("NUM_PROXIES", 0)


def client_ip(request):
    """The client's address as the throttles see it, for the login lockout too (one rule)."""
    from rest_framework.throttling import BaseThrottle

    return BaseThrottle().get_ident(request)


REST_FRAMEWORK = {
    "NUM_PROXIES": NUM_PROXIES,
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # A DRF token as `Bearer <key>` (what OpenAPI clients send) or `Token <key>`.
        "incidents.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "incidents.api.permissions.ModelPermissionsOrAnonReadOnly",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "incidents.api.pagination.PageNumberPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "incidents.api.errors.api_exception_handler",
    # ?format= (or a URL suffix) wins over the Accept header (incidents/api/negotiation.py).
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "incidents.api.negotiation.ExplicitFormatNegotiation",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    # Requests per client; over it the API answers 429 with Retry-After.
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("THROTTLE_ANON_RATE", "300/minute"),
        "user": env_str("THROTTLE_USER_RATE", "3000/minute"),
    },
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}

# Login lockout (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one username
# from one address, that pair is refused (429) for LOGIN_COOLOFF_MINUTES, even with the
# right password; a successful login clears its failures. Attempts are kept in the
# database, so every process and host sees the same count. Superusers can unlock early
# in the admin (Axes > Access attempts) or with `manage.py axes_reset`.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_count("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_count("LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = client_ip
# No log of successful logins: it would keep every editor's address and browser.
AXES_DISABLE_ACCESS_LOG = True

SPECTACULAR_SETTINGS = {
    "TITLE": "Incident records API",
    "DESCRIPTION": (
        "Structured records of armed clashes, attacks, cease-fires and protests, "
        "with the actors involved and every casualty figure as an attributed claim."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Clients outside a browser use the token; the admin session (for the browsable API)
    # stays out of the schema. Reads need neither (incidents/api/schema.py, default_security).
    "AUTHENTICATION_WHITELIST": ["incidents.api.authentication.BearerTokenAuthentication"],
    # Bodies are documented as JSON, what clients send. The form parsers serve the browsable
    # API's HTML forms; listed too, they gave each write three bodies of one shape, which
    # openapi-python-client (0.29) turns into a write it sends as multipart, or cannot import.
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    # The exports' URL-suffix form, as an operation of its own (incidents.{format}).
    "PREPROCESSING_HOOKS": ["incidents.api.schema.add_export_endpoints"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "incidents.api.schema.default_security",
    ],
    # Choice sets shared by several fields get one stable name each in the schema.
    "ENUM_NAME_OVERRIDES": {
        "DatePrecisionEnum": "incidents.models.DatePrecision",
        "ActorKindEnum": "incidents.models.Actor.Kind",
        "SourceKindEnum": "incidents.models.Source.Kind",
        "ActorRoleEnum": "incidents.models.IncidentActor.Role",
        "HistoryRoleEnum": "incidents.history.ROLES",
    },
}

# Production hardening; each value can be overridden from the environment.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# Content-Security-Policy (django-csp) on every answer: scripts only from this site's own
# static files, nothing framed, no plugins, forms post only here. Styles may be inline:
# Redoc injects its styles at run time and the browsable API uses style attributes; a
# style cannot run code. blob: workers are Redoc's search.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "worker-src": [SELF, "blob:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
}
