"""Start, watch and stop the three servers under test, and measure their memory.

- django:    gunicorn config.wsgi, 2 sync workers, production-like environment
- floor:     gunicorn bench.floor:app, 2 sync workers, same database
- datasette: Datasette (uvicorn, as `datasette serve -i`) on the tier's SQLite copy, one process
- baseline:  (--baseline REV) gunicorn config.wsgi from the code of REV, as django, same database

Every process is started by the benchmark in its own process group and stopped by its pid.
"""

import http.client
import os
import signal
import socket
import subprocess
import threading
import time

import psutil

from bench import config, datasette_queries


class Server:
    def __init__(self, name, count, sqlite_path=None, code_dir=None, label=None):
        """`code_dir` serves other code than config.CODE_DIR (the baseline), with only that code
        on the path; `label` names the server in errors."""
        self.name, self.count, self.sqlite_path = name, count, sqlite_path
        self.code_dir, self.label = code_dir, label or name
        self.port = config.PORTS[name]
        self.proc = None
        self.log_path = config.DATA_DIR / f"{name}-{config.tier_name(count)}.log"

    @property
    def base(self):
        return f"http://{config.HOST}:{self.port}"

    def command(self):
        if self.name in ("django", "baseline", "floor"):
            app = "bench.floor:app" if self.name == "floor" else "config.wsgi:application"
            return [
                str(config.BIN / "gunicorn"),
                app,
                "--workers", str(config.WORKERS),
                "--worker-class", "sync",
                "--bind", f"{config.HOST}:{self.port}",
                "--timeout", str(config.WORKER_TIMEOUT_S),
                "--log-level", "warning",
            ]  # fmt: skip
        return [
            config.PYTHON,
            "-m",
            "bench.datasette_serve",
            str(self.sqlite_path),
            str(datasette_queries.write_metadata(self.count)),
            str(self.port),
        ]  # fmt: skip

    def start(self):
        config.DATA_DIR.mkdir(parents=True, exist_ok=True)
        try:
            socket.create_connection((config.HOST, self.port), timeout=1).close()
        except OSError:
            pass
        else:
            raise RuntimeError(f"port {self.port} is already in use; the {self.label} server cannot bind it")
        env = config.django_env(self.count, self.code_dir, with_bench=self.code_dir is None)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed in stop()
        self._log = log
        self.proc = subprocess.Popen(
            self.command(),
            cwd=self.code_dir or config.CODE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_ready()
        return self

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        path = (
            "/-/versions.json" if self.name == "datasette" else "/api/v1/stats/casualties/?group_by=outcome"
        )
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.label} exited with {self.proc.returncode}; see {self.log_path}")
            try:
                conn = http.client.HTTPConnection(config.HOST, self.port, timeout=5)
                conn.request("GET", path)
                status = conn.getresponse().status
                conn.close()
                # The floor does not know group_by=outcome and answers 400: it is up.
                if status < 500:
                    if self.name != "datasette":
                        self.wait_workers()
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.label} did not start within {timeout} s; see {self.log_path}")

    def wait_workers(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.workers()) >= config.WORKERS:
                return
            time.sleep(0.1)

    def processes(self):
        if self.proc is None or self.proc.poll() is not None:
            return []
        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def workers(self):
        procs = self.processes()
        return procs[1:] if self.name != "datasette" else procs

    def rss(self):
        """(total RSS of the process tree, largest single process RSS), in bytes."""
        total = largest = 0
        for proc in self.processes():
            try:
                rss = proc.memory_info().rss
            except psutil.NoSuchProcess:
                continue
            total += rss
            largest = max(largest, rss)
        return total, largest

    def peak_worker_rss(self):
        """The largest VmHWM (peak RSS since start) among the serving processes."""
        peak = 0
        for proc in self.workers():
            try:
                with open(f"/proc/{proc.pid}/status") as status:
                    for line in status:
                        if line.startswith("VmHWM:"):
                            peak = max(peak, int(line.split()[1]) * 1024)
            except OSError:
                continue
        return peak

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            # The process group of the server we started (gunicorn master and its workers).
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None

    def restart(self):
        self.stop()
        return self.start()


class RSSSampler:
    """Samples a server's RSS every `interval` seconds in a thread; keeps the peaks."""

    def __init__(self, server, interval=0.1):
        self.server, self.interval = server, interval
        self.peak_total = self.peak_process = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            total, largest = self.server.rss()
            self.peak_total = max(self.peak_total, total)
            self.peak_process = max(self.peak_process, largest)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
