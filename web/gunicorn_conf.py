"""gunicorn settings shared by `jiuzhu serve` and the benchmark.

Sync workers: one request per process at a time. Measured on 2 cores (bench/throughput.py), threaded workers
(gthread, 4 threads) completed 45% fewer tasks per second than sync ones: the threads of one process contend for
the GIL while the other process sits idle. WEB_CONCURRENCY sets the number of processes (default 2).
"""

worker_class = "sync"
graceful_timeout = 10
