"""How gunicorn serves iptcare, for `make demo` and `make bench` alike (one source).

Processes, one request at a time each (gunicorn's sync worker), 2 * CPUs + 1 of them, as
gunicorn's documentation advises (ADR 0011). iptcare's requests are CPU-bound Python; threads in
one process share one interpreter lock, and a kept-alive connection stays with the process that
accepted it, so with a few processes of several threads one process could hold most clients
while another sat idle (ADR 0011 has the measurements).
A sync worker answers each request on its own connection and takes the next from the shared
socket only when it is free, so the load follows the free processes.

Environment (docs/configuration.md): GUNICORN_WORKERS (processes; default 2 * CPUs + 1),
GUNICORN_THREADS (threads per process; default 1 — more than 1 selects the gthread worker) and
GUNICORN_TIMEOUT (seconds a request may run before its process is replaced; default 120, long
enough for the streamed audit export).

The sync worker does not buffer slow clients: in production, serve through a reverse proxy that
does (nginx, Caddy; docs/configuration.md).
"""

from __future__ import annotations

import os

_cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1

workers = int(os.environ.get("GUNICORN_WORKERS", str(2 * _cpus + 1)))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
loglevel = "warning"
