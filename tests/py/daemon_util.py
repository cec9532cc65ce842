"""Helpers for the end-to-end tests of `qm serve`: test models, a daemon on a
free loopback port with its own store, and models created in it through the
API the way Ollama's client does (blob upload, then /api/create)."""
import hashlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

QM = os.environ.get("QM_BIN", "build/qm")
TOOLS = os.environ.get("QM_TOOLS_DIR", "build/tests")


def make_model(path, preset="tiny-qwen2", ftype="q8_0", seed=1, extra=()):
    if not os.path.exists(path):
        subprocess.run([os.path.join(TOOLS, "make_test_model"), "--preset", preset, "--type", ftype,
                        "--seed", str(seed), "--out", path, *extra], check=True, capture_output=True)
    return path


def wait_until(cond, timeout=60, what="condition"):
    """Poll cond until it is true (a deadline, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


class Daemon:
    def __init__(self, tmp, **env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.store = os.path.join(tmp, "store")
        os.makedirs(self.store, exist_ok=True)
        self.log = open(os.path.join(tmp, f"serve-{self.port}.log"), "wb")
        e = dict(os.environ)
        for k in list(e):
            if k.startswith("QM_") and k not in ("QM_BIN", "QM_TOOLS_DIR") or k.startswith("OLLAMA_"):
                del e[k]
        e.update({"QM_HOST": f"127.0.0.1:{self.port}", "QM_MODELS": self.store, "QM_DEBUG": "1"})
        e.update({k: str(v) for k, v in env.items()})
        self.proc = subprocess.Popen([QM, "serve"], env=e, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while True:
            try:
                self.get("/api/version")
                break
            except (urllib.error.URLError, ConnectionError):
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("qm serve did not start: " + self.read_log())
                time.sleep(0.05)

    def read_log(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log.name, "rb") as f:
            return f.read().decode(errors="replace")

    def request(self, method, path, body=None, headers=None, timeout=120):
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def get(self, path):
        status, body = self.request("GET", path)
        return json.loads(body) if status == 200 else (status, body)

    def post(self, path, body, **kw):
        return self.request("POST", path, body, **kw)

    def create(self, name, gguf, **fields):
        """Upload the GGUF as a blob and create a model from it, as ollama's client does."""
        digest = sha256_file(gguf)
        with open(gguf, "rb") as f:
            status, body = self.post(f"/api/blobs/{digest}", f.read())
        assert status in (200, 201), body
        status, body = self.post("/api/create", {"model": name, "files": {os.path.basename(gguf): digest},
                                                 "stream": False, **fields})
        assert status == 200, body
        return digest

    def runner_pids(self):
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout
        return [int(x) for x in out.split()]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode
