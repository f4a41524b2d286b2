"""Settings for Audio Exchange, read from the environment (see .env.example).

Every value has a default that works on a fresh machine: SQLite in the project,
the in-memory channel layer. DEBUG is off unless set, and with DEBUG off a missing
or weak SECRET_KEY is refused (`make run` makes one; the tests set their own).
"""

import ipaddress
import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from audioexchange.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

_DEV_SECRET_KEY = "dev-insecure-key-change-me"  # noqa: S105 - only valid with DEBUG on
# A key shorter than this, or Django's generated placeholder, is not a real one (Django's
# deploy check asks for 50; 32 random characters are already beyond guessing).
_MIN_SECRET_KEY_LENGTH = 32
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "")


def _is_real_secret_key(key: str) -> bool:
    return len(key) >= _MIN_SECRET_KEY_LENGTH and key != _DEV_SECRET_KEY and not key.startswith("django-insecure-")


if not DEBUG and not _is_real_secret_key(SECRET_KEY) and not env_bool("ALLOW_DEV_SECRET_KEY", False):
    raise ImproperlyConfigured(
        f"Set the SECRET_KEY environment variable to a random value of at least {_MIN_SECRET_KEY_LENGTH} "
        "characters (DEBUG is off): generate one with "
        "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`, or set DEBUG=1 on a development machine."
    )
SECRET_KEY = SECRET_KEY or _DEV_SECRET_KEY
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
# Pages whose scripts may open the signaling socket (its Origin header): host names match any
# scheme and port (channels' OriginValidator), "https://call.example.org" only that origin.
SIGNALING_ALLOWED_ORIGINS = env_list("SIGNALING_ALLOWED_ORIGINS", list(ALLOWED_HOSTS))
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "django_prometheus",
    "accounts",
    "rooms",
    "signaling",
    "chat",
    "mediaworker",
    "moderation",
    "invites",
    "api",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The page's language: the language switch's cookie, else Accept-Language, else English.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Innermost, so a view's lost Redis or PostgreSQL becomes a 503 page, not a 500.
    "audioexchange.middleware.ServiceRestartingMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "audioexchange.urls"
ASGI_APPLICATION = "audioexchange.asgi.application"

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
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DATABASE_POOL", True):
    # Every join and page takes a connection for one short hop. A pool spares PostgreSQL a backend
    # fork per hop; persistent connections (CONN_MAX_AGE) do not suit ASGI's per-request threads.
    DATABASES["default"]["OPTIONS"] = {
        **DATABASES["default"].get("OPTIONS", {}),
        "pool": {"min_size": 2, "max_size": env_int("DATABASE_POOL_SIZE", 10, minimum=1), "timeout": 10},
    }
    # A pooled connection can die while idle (PostgreSQL restarted, pg_terminate_backend, a network
    # cut): check each one as it leaves the pool, or the next join gets a dead one and crashes.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "lobby"
LOGOUT_REDIRECT_URL = "lobby"

# English unless the language switch (its cookie) or the browser's Accept-Language asks for
# another of LANGUAGES; the translations live in locale/ (README, "Languages").
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "audioexchange.storage.StaticStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Behind nginx (deploy/): X-Forwarded-Proto says https, and daphne takes the client address from
# X-Forwarded-For (scripts/web.sh). Without a proxy a client could send both headers itself.
BEHIND_PROXY = env_bool("BEHIND_PROXY", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_PROXY else None
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "signaling.layers.RedisChannelLayer",
            # redis-py 8 reads with a 5 s socket timeout by default, the same as channels-redis'
            # blocking BZPOPMIN: without a longer one, idle consumers die with TimeoutError.
            "CONFIG": {
                # redis-py 8 pools refuse (MaxConnectionsError) past 100 connections by default.
                "hosts": [
                    {"address": REDIS_URL, "socket_timeout": 15, "socket_connect_timeout": 3, "max_connections": 2000}
                ],
                "capacity": 1500,
                "expiry": 30,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "signaling.layers.InMemoryChannelLayer"}}

# Presence across processes (with REDIS_URL): leases renewed every HEARTBEAT, lapsed after TTL.
PRESENCE_TTL_SECONDS = env_float("PRESENCE_TTL_SECONDS", 30.0, minimum=1.0)
PRESENCE_HEARTBEAT_SECONDS = env_float("PRESENCE_HEARTBEAT_SECONDS", 10.0, minimum=0.1)
if PRESENCE_HEARTBEAT_SECONDS >= PRESENCE_TTL_SECONDS:
    raise ImproperlyConfigured("PRESENCE_HEARTBEAT_SECONDS must be shorter than PRESENCE_TTL_SECONDS.")
# Seconds between SIGTERM and closing every socket with 1001.
SIGNALING_SHUTDOWN_DRAIN_SECONDS = env_float("SIGNALING_SHUTDOWN_DRAIN_SECONDS", 0.5)
# A dropped browser may come back under its peer id for this long (its resume token's age; the
# others keep its peer connection as long), docs/protocol.md "Resuming".
SIGNALING_RESUME_SECONDS = env_float("SIGNALING_RESUME_SECONDS", 60.0, minimum=5.0)

# Chat: a token bucket per connection, separate from the signaling one.
CHAT_RATE_PER_SECOND = env_float("CHAT_RATE_PER_SECOND", 1.0, minimum=0.01)
CHAT_BURST = env_int("CHAT_BURST", 5, minimum=1)
# media-state (mute, camera, hand, screen) is sent to the whole room: its own, smaller bucket.
MEDIA_STATE_RATE_PER_SECOND = env_float("MEDIA_STATE_RATE_PER_SECOND", 2.0, minimum=0.01)
MEDIA_STATE_BURST = env_int("MEDIA_STATE_BURST", 10, minimum=1)

# Signaling limits (docs/protocol.md).
SIGNALING_MAX_MESSAGE_BYTES = env_int("SIGNALING_MAX_MESSAGE_BYTES", 64 * 1024, minimum=1024)
SIGNALING_RATE_LIMIT_PER_SECOND = env_float("SIGNALING_RATE_LIMIT_PER_SECOND", 50.0, minimum=0.1)
SIGNALING_RATE_LIMIT_BURST = env_int("SIGNALING_RATE_LIMIT_BURST", 300, minimum=1)
# A connection refused this many messages in a row by the rate limiter is closed.
SIGNALING_RATE_LIMIT_STRIKES = env_int("SIGNALING_RATE_LIMIT_STRIKES", 100, minimum=1)
# Joins one process admits at a time (database hop, Redis); the rest wait with their socket open.
SIGNALING_CONCURRENT_JOINS = env_int("SIGNALING_CONCURRENT_JOINS", 32, minimum=1)
ROOM_DEFAULT_MAX_PARTICIPANTS = env_int("ROOM_DEFAULT_MAX_PARTICIPANTS", 8, minimum=2)
ROOM_MAX_PARTICIPANTS_LIMIT = env_int("ROOM_MAX_PARTICIPANTS_LIMIT", 50, minimum=2)
# Who gets into a room over the signaling socket (docs/deploy.md, "Signaling limits"): one
# person's sockets in one room (admitted or waiting to be let in) across every process.
ROOM_SOCKETS_PER_PERSON = env_int("ROOM_SOCKETS_PER_PERSON", 3, minimum=1)
# Session keys carry their own signature, so the room socket refuses a forged or missing
# session cookie before any database hop (accounts/sessions.py).
SESSION_ENGINE = "accounts.sessions"

# ICE servers handed to browsers in every `welcome` (TURN credentials are short-lived).
STUN_URLS = env_list("STUN_URLS", [])
TURN_URLS = env_list("TURN_URLS", [])
TURN_SHARED_SECRET = env_str("TURN_SHARED_SECRET", "")
TURN_CREDENTIAL_TTL = env_int("TURN_CREDENTIAL_TTL", 3600, minimum=60)
if TURN_URLS and not TURN_SHARED_SECRET:
    raise ImproperlyConfigured("TURN_URLS is set but TURN_SHARED_SECRET is empty: set both.")

# The media worker (mediaworker/): server-side recordings.
# Recordings older than this many days are deleted by `manage.py purgerecordings`.
RECORDING_RETENTION_DAYS = env_int("RECORDING_RETENTION_DAYS", 30, minimum=1)
# Incoming media streams (one per participant and kind) one worker records at most.
MEDIAWORKER_MAX_STREAMS = env_int("MEDIAWORKER_MAX_STREAMS", 40, minimum=1)
# Seconds the signaling waits for a worker to take a room (REDIS_URL: `manage.py mediaworker` must run).
MEDIAWORKER_START_TIMEOUT = env_float("MEDIAWORKER_START_TIMEOUT", 5.0, minimum=0.1)
# Seconds a worker's hold on a room lasts unless renewed (with REDIS_URL).
MEDIAWORKER_LEASE_SECONDS = env_int("MEDIAWORKER_LEASE_SECONDS", 30, minimum=2)
# `auto` rooms move from mesh to relay above this many people (video rooms / audio-only rooms),
# and back at or below it.
RELAY_AUTO_ABOVE_VIDEO = env_int("RELAY_AUTO_ABOVE_VIDEO", 4, minimum=1)
RELAY_AUTO_ABOVE_AUDIO = env_int("RELAY_AUTO_ABOVE_AUDIO", 10, minimum=1)
# Mesh rooms: seconds a browser waits for a direct connection before restarting ICE, and again
# after the restart before asking the relay to carry that pair (`relay-fallback`).
RELAY_FALLBACK_AFTER_SECONDS = env_float("RELAY_FALLBACK_AFTER_SECONDS", 8.0, minimum=0.5)
# `relay-fallback` requests: a bucket per connection (each may set up worker connections).
RELAY_FALLBACK_RATE_PER_SECOND = env_float("RELAY_FALLBACK_RATE_PER_SECOND", 0.2, minimum=0.01)
RELAY_FALLBACK_BURST = env_int("RELAY_FALLBACK_BURST", 4, minimum=1)
# Port of the separate `manage.py mediaworker` process's /metrics (0: none).
MEDIAWORKER_METRICS_PORT = env_int("WORKER_METRICS_PORT", 9200)

# Resource limits (docs/deploy.md "Resource limits").
# A recording is stopped after this many seconds (the room is told why).
RECORDING_MAX_SECONDS = env_int("RECORDING_MAX_SECONDS", 4 * 3600, minimum=1)
# Recording does not start, and a running one stops, when less than this is free under MEDIA_ROOT.
RECORDING_MIN_FREE_MB = env_int("RECORDING_MIN_FREE_MB", 1024)
# Fractions of MEDIAWORKER_MAX_STREAMS one room, and the rooms of one owner together, may take.
MEDIAWORKER_ROOM_SHARE = env_float("MEDIAWORKER_ROOM_SHARE", 0.75, minimum=0.01)
MEDIAWORKER_OWNER_SHARE = env_float("MEDIAWORKER_OWNER_SHARE", 0.75, minimum=0.01)
if MEDIAWORKER_ROOM_SHARE > 1 or MEDIAWORKER_OWNER_SHARE > 1:
    raise ImproperlyConfigured("MEDIAWORKER_ROOM_SHARE and MEDIAWORKER_OWNER_SHARE are fractions: at most 1.")
# Chat lines older than this many days are deleted (0: kept for ever).
CHAT_RETENTION_DAYS = env_int("CHAT_RETENTION_DAYS", 30)
# The media worker deletes recordings and chat past their retention this often (seconds).
RETENTION_PURGE_INTERVAL_SECONDS = env_float("RETENTION_PURGE_INTERVAL_SECONDS", 86400.0, minimum=0.1)

# --- Abuse limits on pages (docs/deploy.md "Security") -------------------------------------
# Counters live in Django's cache: Redis with REDIS_URL, so a limit holds across every process;
# otherwise this process's memory (one process, as without REDIS_URL everything is).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "ax-cache",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Wrong room passwords one client address (an IPv6 /64) may try per room in each window;
# beyond them the room page answers 429 until the window ends, for the right password too.
ROOM_PASSWORD_ATTEMPTS = env_int("ROOM_PASSWORD_ATTEMPTS", 10, minimum=1)
ROOM_PASSWORD_WINDOW_SECONDS = env_int("ROOM_PASSWORD_WINDOW_SECONDS", 600, minimum=10)
# New room passwords are at least this long.
ROOM_PASSWORD_MIN_LENGTH = env_int("ROOM_PASSWORD_MIN_LENGTH", 8, minimum=1)
# Sign-in form posts (/accounts/login/ and /admin/login/ together) per client address per minute.
LOGIN_ATTEMPTS_PER_MINUTE = env_int("LOGIN_ATTEMPTS_PER_MINUTE", 10, minimum=1)
# Rooms one person who is not staff may own.
ROOMS_PER_USER = env_int("ROOMS_PER_USER", 20, minimum=1)
# TURN credentials (in `welcome` and at /ice-servers/) one person gets per hour; past it,
# `welcome` carries STUN only and /ice-servers/ answers 429 (docs/protocol.md).
TURN_CREDENTIALS_PER_HOUR = env_int("TURN_CREDENTIALS_PER_HOUR", 60, minimum=1)

# Content-Security-Policy on every page (django-csp): scripts and styles only from our own
# files, never inline; the signaling socket to this site ('self' covers ws:/wss: to it); camera
# and microphone streams play through srcObject, which CSP does not restrict.
_SELF, _NONE = "'self'", "'none'"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [_SELF],
        "script-src": [_SELF],
        "style-src": [_SELF],
        "img-src": [_SELF, "data:", "blob:"],
        "media-src": [_SELF, "blob:", "mediastream:"],
        "connect-src": [_SELF],
        "font-src": [_SELF],
        "object-src": [_NONE],
        "base-uri": [_SELF],
        "form-action": [_SELF],
        "frame-ancestors": [_NONE],
    }
}

# Calls inside other apps (issue 16): signed join tokens, the REST API, webhooks.
# HS256 key of `/rooms/<slug>/?jwt=` tokens; empty: join tokens are refused (`join_tokens_off`).
JOIN_TOKEN_SECRET = env_str("JOIN_TOKEN_SECRET", "")
# The longest a join token may live (its `exp` at most this many seconds ahead).
JOIN_TOKEN_MAX_SECONDS = env_int("JOIN_TOKEN_MAX_SECONDS", 86400, minimum=60)
# REST API (`/api/v1/`): requests per minute per key; page size of listings (at most).
API_RATE_PER_MINUTE = env_int("API_RATE_PER_MINUTE", 120, minimum=1)
API_PAGE_SIZE = env_int("API_PAGE_SIZE", 50, minimum=1)
# Seconds a recording's signed download URL from the API stays valid.
API_DOWNLOAD_URL_SECONDS = env_int("API_DOWNLOAD_URL_SECONDS", 300, minimum=10)
# Webhooks (api/webhooks.py, docs/webhooks.md): one endpoint from the environment (more in the
# admin), the seconds between retries (then it is given up), and the sender's timeouts.
WEBHOOK_URL = env_str("WEBHOOK_URL", "")
WEBHOOK_SECRET = env_str("WEBHOOK_SECRET", "")
if WEBHOOK_URL and not WEBHOOK_SECRET.startswith("whsec_"):
    raise ImproperlyConfigured("WEBHOOK_URL needs WEBHOOK_SECRET=whsec_<base64>: see docs/webhooks.md.")
WEBHOOK_RETRY_SECONDS = [
    float(item) for item in env_list("WEBHOOK_RETRY_SECONDS", ["5", "300", "1800", "7200", "18000", "36000", "36000"])
]
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 10.0, minimum=0.5)
WEBHOOK_POLL_SECONDS = env_float("WEBHOOK_POLL_SECONDS", 1.0, minimum=0.05)
# The site's address as others reach it (https://call.example.org), for links in webhooks.
PUBLIC_URL = env_str("PUBLIC_URL", "")
# Origins (scheme://host[:port]) whose pages may show the call page in an <iframe> and drive it
# with static/js/embed-api.js (docs/embedding.md); empty: no site may frame it.
EMBED_ALLOWED_ORIGINS = env_list("EMBED_ALLOWED_ORIGINS", [])
for _origin in EMBED_ALLOWED_ORIGINS:
    if not re.fullmatch(r"https?://[^/\s*]+", _origin):
        raise ImproperlyConfigured(
            f"EMBED_ALLOWED_ORIGINS: {_origin!r} is not an origin; write scheme://host[:port] with no path, "
            "e.g. https://learn.example.org."
        )
if EMBED_ALLOWED_ORIGINS and SESSION_COOKIE_SECURE:
    # A page on another site can only keep its guest's session inside the frame if the cookie is
    # sent in third-party context; browsers accept SameSite=None only with Secure (https).
    SESSION_COOKIE_SAMESITE = "None"
NINJA_PAGINATION_PER_PAGE = API_PAGE_SIZE
NINJA_PAGINATION_MAX_LIMIT = API_PAGE_SIZE
# The API's rate limit counts in CACHES (above): Redis when there is one, so every process shares it.

PROMETHEUS_EXPORT_MIGRATIONS = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}

# Janus (sfu/): comma-separated ws:// URLs of Janus WebSocket APIs, the API secret sent on every
# request, and the VideoRoom admin_key that creates rooms (deploy/janus). Empty: no Janus.
JANUS_URLS = env_list("JANUS_URLS", [])
JANUS_API_SECRET = env_str("JANUS_API_SECRET", "")
JANUS_ADMIN_KEY = env_str("JANUS_ADMIN_KEY", "")
if JANUS_URLS and not (JANUS_API_SECRET and JANUS_ADMIN_KEY):
    raise ImproperlyConfigured(
        "JANUS_URLS is set but JANUS_API_SECRET or JANUS_ADMIN_KEY is empty: set both to the values "
        "deploy/janus/render.sh was given."
    )
if any(not url.startswith(("ws://", "wss://")) for url in JANUS_URLS):
    raise ImproperlyConfigured("JANUS_URLS must be ws:// or wss:// URLs, e.g. ws://127.0.0.1:8188.")


def _networks(name: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    try:
        return [ipaddress.ip_network(item, strict=False) for item in env_list(name, [])]
    except ValueError as error:
        raise ImproperlyConfigured(f"{name} must be comma-separated networks, e.g. 10.0.0.0/8: {error}") from None


# Private networks whose ICE candidates browsers may give Janus (browsers on the same LAN as
# Janus); empty: only public addresses (sfu/candidates.py, as coturn's denied-peer-ip).
JANUS_BROWSER_NETWORKS = _networks("JANUS_BROWSER_NETWORKS")
