"""gunicorn's settings for the production server (`make serve`, `gunicorn -c config/gunicorn.py`).

Threads, not sync workers: a sync worker is one request at a time for its whole length,
so two clients reading an export slowly held both workers and /healthz waited behind
them, and gunicorn's 30 s timeout killed the workers mid-download. A gthread worker keeps
its heartbeat in its own loop whatever its threads are doing, so a download of any
length runs to its end, and each slow reader holds one thread of many, not a process.
Measured in docs/operations.md ("Slow clients").

Without REDIS_URL there is one process: the throttles count in its memory, which all its
threads share. More processes need REDIS_URL, or each would count a client's requests
separately and the limit would be multiplied (docs/security.md).

Environment: BIND (127.0.0.1:8000), WORKERS (1; 2 or more only with REDIS_URL), THREADS
(32), WORKER_TIMEOUT_S (60), GRACEFUL_TIMEOUT_S (60), KEEPALIVE_S (5).
"""

import os
import sys


def _count(name, default, minimum=1):
    value = os.environ.get(name) or str(default)
    try:
        number = int(value)
    except ValueError:
        sys.exit(f"config/gunicorn.py: {name} must be a whole number, got {value!r}.")
    if number < minimum:
        sys.exit(f"config/gunicorn.py: {name} must be at least {minimum}, got {number}.")
    return number


wsgi_app = "config.wsgi:application"
bind = os.environ.get("BIND") or "127.0.0.1:8000"

worker_class = "gthread"
workers = _count("WORKERS", 1)
if workers > 1 and not os.environ.get("REDIS_URL"):
    sys.exit(
        f"config/gunicorn.py: WORKERS={workers} needs REDIS_URL. Without a shared cache each "
        "process throttles on its own, which multiplies every client's rate limit. Set "
        "REDIS_URL (e.g. redis://127.0.0.1:6379/0) or run one process (WORKERS=1)."
    )
# Each thread serves one request at a time, an export for as long as its client reads;
# each holds its own database connection while it serves (CONN_MAX_AGE keeps it open).
threads = _count("THREADS", 32)
# Connections a worker holds open at once (requests being served plus idle keep-alives).
worker_connections = 1000

# With gthread this is not a limit on a request: the worker reports in from its own loop
# while threads serve. It restarts a worker whose loop itself is stuck.
timeout = _count("WORKER_TIMEOUT_S", 60)
# On a restart (deploy, HUP), running requests (long exports too) get this long to end.
graceful_timeout = _count("GRACEFUL_TIMEOUT_S", 60)
keepalive = _count("KEEPALIVE_S", 5)

accesslog = "-"
errorlog = "-"

# No control socket (gunicornc): nothing here uses it, it could raise the worker count past
# the REDIS_URL rule above at run time, and every gunicorn of a user would share its path.
control_socket_disable = True
