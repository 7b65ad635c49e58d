"""How gunicorn serves iptcare, for `make demo` and `make bench` alike (one source).

Environment: GUNICORN_WORKERS (processes, default 2) and GUNICORN_THREADS (threads per process,
default 4); see docs/configuration.md.
"""

from __future__ import annotations

import os

workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
loglevel = "warning"
