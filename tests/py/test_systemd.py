"""qm as a systemd service (issue 7), without a running systemd: the units as
`cmake --install` writes them (checked by systemd-analyze, sysusers and
tmpfiles on a scratch root), socket activation through
systemd-socket-activate, the sd_notify protocol read from a NOTIFY_SOCKET
this test binds, and SIGTERM during a streaming generation."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from daemon_util import QM, Daemon, free_port, make_model

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QM_ABS = os.path.abspath(QM)
CTX = 65536   # the tiny model streams ~1000 tokens/s: this keeps a stream going for a minute


def need(tool):
    path = shutil.which(tool)
    if not path:
        pytest.skip(f"{tool} is not installed (Debian package systemd)")
    return path


def clean_env(**extra):
    """The environment without the settings of a surrounding daemon or service manager."""
    e = {k: v for k, v in os.environ.items()
         if not (k.startswith(("QM_", "OLLAMA_", "LISTEN_", "WATCHDOG_")) or
                 k in ("NOTIFY_SOCKET", "JOURNAL_STREAM"))}
    e.update({k: str(v) for k, v in extra.items()})
    return e


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_model(str(tmp_path_factory.mktemp("model") / "a.gguf"), extra=("--ctx", str(CTX)))


# ---- the units as installed ------------------------------------------------------

@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    cmake = need("cmake")
    build = os.path.dirname(QM_ABS)
    if not os.path.exists(os.path.join(build, "cmake_install.cmake")):
        pytest.skip(f"QM_BIN ({QM}) is not in a cmake build directory")
    prefix = tmp_path_factory.mktemp("prefix")
    r = subprocess.run([cmake, "--install", build, "--prefix", str(prefix)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return prefix


def unit_entries(path):
    """(section, key, value) of a unit file, in order (keys repeat)."""
    out, section = [], None
    for line in open(path):
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
        else:
            k, _, v = line.partition("=")
            out.append((section, k.strip(), v.strip()))
    return out


def test_install_puts_units_where_systemd_reads_them(prefix):
    unit = prefix / "lib/systemd/system/qm.service"
    for f in ("lib/systemd/system/qm.socket", "lib/sysusers.d/qm.conf", "lib/tmpfiles.d/qm.conf"):
        assert (prefix / f).is_file(), f
    assert os.access(prefix / "bin/qm", os.X_OK)
    # the binary path is the install prefix's, given at install time
    exec_start = [v for s, k, v in unit_entries(unit) if k == "ExecStart"]
    assert exec_start == [f"{prefix}/bin/qm serve"]
    assert "@" not in unit.read_text()


def test_systemd_analyze_verify(prefix, tmp_path):
    analyze = need("systemd-analyze")
    units = [str(prefix / "lib/systemd/system" / u) for u in ("qm.service", "qm.socket")]

    def verify(*paths):
        r = subprocess.run([analyze, "verify", "--man=no", *paths], capture_output=True, text=True)
        return r.returncode, (r.stdout + r.stderr).strip()

    # every complaint counts, warnings ("Unknown key ... ignoring") included.
    # verify does not resolve User=qm, so the missing user is no complaint.
    assert verify(*units) == (0, "")
    # the check can fail: a misspelt key and a missing binary are reported
    bad = tmp_path / "qm.service"
    bad.write_text(open(units[0]).read().replace("KillMode=", "KilMode=")
                   .replace(f"{prefix}/bin/qm", f"{tmp_path}/nothere/qm"))
    rc, out = verify(str(bad))
    assert rc != 0 and "KilMode" in out and "nothere" in out, out


def test_service_settings(prefix):
    svc = unit_entries(prefix / "lib/systemd/system/qm.service")
    one = {(s, k): v for s, k, v in svc}
    env = dict(v.split("=", 1) for s, k, v in svc if k == "Environment")
    assert one[("Service", "Type")] == "notify"
    assert one[("Service", "User")] == one[("Service", "Group")] == "qm"
    assert one[("Service", "StateDirectory")] == "qm"
    assert env == {"QM_HOST": "127.0.0.1:11434", "QM_MODELS": "/var/lib/qm/models"}
    assert one[("Service", "Restart")] == "on-failure"
    # SIGTERM to the daemon alone, which drains and stops its runners; and
    # systemd waits longer than QM_SHUTDOWN_TIMEOUT's 30 s default for it
    assert one[("Service", "KillMode")] == "mixed"
    assert int(re.fullmatch(r"(\d+)s?", one[("Service", "TimeoutStopSec")]).group(1)) > 30
    assert one[("Service", "WatchdogSec")]
    assert one[("Service", "LimitNOFILE")] == "65536"
    assert one[("Service", "DevicePolicy")] == "closed"
    assert one[("Service", "ReadWritePaths")] == "/var/lib/qm"
    sock = {(s, k): v for s, k, v in unit_entries(prefix / "lib/systemd/system/qm.socket")}
    assert sock[("Socket", "ListenStream")] == "127.0.0.1:11434"
    assert sock[("Install", "WantedBy")] == "sockets.target"


def test_hardening_as_systemd_reads_it(prefix):
    analyze = need("systemd-analyze")
    r = subprocess.run([analyze, "security", "--offline=yes", str(prefix / "lib/systemd/system/qm.service")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for item in ("User=/DynamicUser=", "NoNewPrivileges=", "ProtectSystem=", "ProtectHome=", "PrivateTmp=",
                 "CapabilityBoundingSet=~CAP_SYS_ADMIN"):
        assert re.search(r"✓ " + re.escape(item), out), item
    # the device list systemd parsed: the NVIDIA groups (/dev/nvidia0..,
    # nvidiactl, nvidia-uvm and -uvm-tools) and nothing broader
    acl = re.search(r"device ACL with some special devices: (.*?)\s{2,}", out).group(1).split()
    for group in ("char-nvidia:rw", "char-nvidiactl:rw", "char-nvidia-uvm:rw"):
        assert group in acl, acl
    exposure = float(re.search(r"Overall exposure level for qm.service: ([\d.]+)", out).group(1))
    assert exposure <= 4.0, out


def test_sysusers_and_tmpfiles(prefix, tmp_path):
    sysusers, tmpfiles = need("systemd-sysusers"), need("systemd-tmpfiles")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    for _ in range(2):   # a second run changes nothing
        r = subprocess.run([sysusers, f"--root={root}", str(prefix / "lib/sysusers.d/qm.conf")],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        r = subprocess.run([tmpfiles, f"--root={root}", "--create", str(prefix / "lib/tmpfiles.d/qm.conf")],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    users = [line.split(":") for line in (root / "etc/passwd").read_text().splitlines()]
    (qm,) = [u for u in users if u[0] == "qm"]
    uid, home, shell = int(qm[2]), qm[5], qm[6]
    assert 0 < uid < 1000 and home == "/var/lib/qm" and "nologin" in shell
    for d in ("var/lib/qm", "var/lib/qm/models"):
        st = os.stat(root / d)
        assert st.st_uid == uid and st.st_mode & 0o777 == 0o750, d


# ---- the daemon under a service manager's protocols --------------------------------

class Serve(Daemon):
    """`qm serve` started by argv (qm itself or a wrapper around it); unlike
    Daemon, the caller says when it must be up."""

    def __init__(self, tmp, argv, port, env):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.store = os.path.join(tmp, "store")
        os.makedirs(self.store, exist_ok=True)
        self.log = open(os.path.join(tmp, f"serve-{port}.log"), "wb")
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_up(self, timeout=20):
        deadline = time.time() + timeout
        while True:
            try:
                return self.get("/api/version")
            except (urllib.error.URLError, ConnectionError):
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("qm serve did not answer: " + self.read_log())
                time.sleep(0.05)

    def wait_log(self, text, timeout=20):
        deadline = time.time() + timeout
        while text not in self.read_log():
            assert time.time() < deadline, f"no {text!r} in the log: " + self.read_log()
            time.sleep(0.02)

    def qm_runners(self):
        """Every `qm runner` of this store still in the process table, whoever its parent now is."""
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    args = f.read().split(b"\0")
            except OSError:
                continue
            if b"runner" in args and any(a.startswith(self.store.encode()) for a in args):
                found.append(int(pid))
        return found


class Notify:
    """The service manager's end of sd_notify: a datagram socket at NOTIFY_SOCKET."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="qm-sd-")   # short: sun_path holds 108 bytes
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.got = []   # every message, each a list of KEY=VALUE lines

    def wait_for(self, line, timeout=20):
        """Messages up to the first with this line (or a line starting with it, for "STATUS=")."""
        deadline = time.time() + timeout
        while True:
            for m in self.got:
                if any(x == line or (line.endswith("=") and x.startswith(line)) for x in m):
                    return m
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError(f"no {line!r} in {self.got}")
            self.sock.settimeout(left)
            try:
                self.got.append(self.sock.recv(4096).decode().split("\n"))
            except socket.timeout:
                pass

    def drain(self, seconds):
        end = time.time() + seconds
        while (left := end - time.time()) > 0:
            self.sock.settimeout(left)
            try:
                self.got.append(self.sock.recv(4096).decode().split("\n"))
            except socket.timeout:
                break

    def count(self, line):
        return sum(line in m for m in self.got)

    def close(self):
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def notify():
    n = Notify()
    yield n
    n.close()


def serve_env(store, port, **extra):
    # one OpenMP thread per runner: on a busy machine a team's barriers wait
    # for descheduled threads and a tiny model's stream crawls; these tests
    # time shutdowns, not the CPU
    return clean_env(QM_HOST=f"127.0.0.1:{port}", QM_MODELS=store, QM_DEBUG=1, OMP_THREAD_LIMIT=1, **extra)


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True


def test_socket_activation(tmp_path, model, notify):
    activate = need("systemd-socket-activate")
    port, unused = free_port(), free_port()
    store = str(tmp_path / "store")
    # the child gets only what systemd-socket-activate sets, hence env(1);
    # QM_HOST names another port: the passed socket must win over it
    argv = [activate, "-l", f"127.0.0.1:{port}", shutil.which("env"), f"QM_MODELS={store}", "QM_DEBUG=1",
            "OMP_THREAD_LIMIT=1",
            f"QM_HOST=127.0.0.1:{unused}", f"NOTIFY_SOCKET={notify.path}", QM_ABS, "serve"]
    d = Serve(str(tmp_path), argv, port, clean_env())
    try:
        # systemd-socket-activate listens; qm starts at the first connection
        assert d.wait_up()["version"]
        notify.wait_for("READY=1")
        assert refused(unused)
        d.create("a", model)
        status, raw = d.post("/api/generate", {"model": "a", "prompt": "hello", "stream": False,
                                               "options": {"temperature": 0, "num_predict": 8}})
        body = json.loads(raw)
        assert status == 200 and body["done"] and body["eval_count"] == 8, body
        assert d.runner_pids()
        assert "listening on 1 socket(s) from systemd" in d.read_log()
    finally:
        assert d.stop() == 0, d.read_log()
    assert not d.qm_runners()


def test_notify_ready_status_stopping(tmp_path, model, notify):
    port = free_port()
    store = str(tmp_path / "store")
    d = Serve(str(tmp_path), [QM_ABS, "serve"], port, serve_env(store, port, NOTIFY_SOCKET=notify.path))
    try:
        ready = notify.wait_for("READY=1")
        # READY=1 comes once listening: the port answers at once
        assert d.get("/api/version")["version"]
        assert "STATUS=0 models loaded" in ready
        d.create("a", model)
        status, _ = d.post("/api/generate", {"model": "a", "prompt": "hi", "stream": False,
                                             "options": {"num_predict": 2}})
        assert status == 200
        notify.wait_for("STATUS=1 model loaded")
        assert notify.count("WATCHDOG=1") == 0   # no WATCHDOG_USEC, no pings
        assert not notify.count("STOPPING=1")
        d.proc.send_signal(signal.SIGTERM)
        notify.wait_for("STOPPING=1")
        assert d.proc.wait(timeout=30) == 0, d.read_log()
    finally:
        d.stop()
    assert not d.qm_runners()


@pytest.mark.parametrize("own_pid", [True, False])
def test_watchdog(tmp_path, notify, own_pid):
    port = free_port()
    store = str(tmp_path / "store")
    # WATCHDOG_PID must name qm itself: the shell exports its own pid, then
    # becomes qm.  Another pid means the watchdog is someone else's.
    pid = "$$" if own_pid else "1"
    argv = ["sh", "-c", f'export WATCHDOG_PID={pid}; exec "$0" serve', QM_ABS]
    d = Serve(str(tmp_path), argv, port, serve_env(store, port, NOTIFY_SOCKET=notify.path,
                                                   WATCHDOG_USEC=200000))
    try:
        notify.wait_for("READY=1")
        notify.drain(2.0)   # pings every WATCHDOG_USEC/2 = 0.1 s
        if own_pid:
            assert notify.count("WATCHDOG=1") >= 2, notify.got
        else:
            assert notify.count("WATCHDOG=1") == 0, notify.got
    finally:
        assert d.stop() == 0, d.read_log()


# ---- SIGTERM during a streaming generation ---------------------------------------------

def open_stream(d, n):
    body = {"model": "a", "messages": [{"role": "user", "content": "tell me everything"}],
            "options": {"temperature": 0, "num_predict": n, "num_ctx": CTX}}
    req = urllib.request.Request(d.url + "/api/chat", method="POST", data=json.dumps(body).encode())
    return urllib.request.urlopen(req, timeout=120)


def started_with_model(tmp_path, model, **env):
    port = free_port()
    store = str(tmp_path / "store")
    d = Serve(str(tmp_path), [QM_ABS, "serve"], port, serve_env(store, port, **env))
    d.wait_up()
    d.create("a", model)
    return d


def test_sigterm_ends_stream_after_grace_period(tmp_path, model):
    d = started_with_model(tmp_path, model, QM_SHUTDOWN_TIMEOUT="1s")
    try:
        with open_stream(d, 1000000) as r:
            assert json.loads(r.readline())["done"] is False
            runners = d.runner_pids()
            assert runners
            d.proc.send_signal(signal.SIGTERM)
            # once qm has taken the signal, nobody new gets in, but the stream
            # goes on during the grace period
            d.wait_log("shutdown (SIGTERM): finishing 1 request(s)")
            assert refused(d.port)
            during = [json.loads(r.readline()) for _ in range(20)]
            assert all(x["done"] is False for x in during)
            assert d.proc.poll() is None
            rest = [json.loads(x) for x in r.read().decode().splitlines() if x.strip()]
        last = rest[-1]
        # a proper end, not an error line: done with its reason, and counts
        assert not [x for x in rest if "error" in x]
        assert last.get("done") is True and last.get("done_reason") == "shutdown", last
        assert last["eval_count"] >= 21, last
        assert all(x["done"] is False for x in rest[:-1])
        assert d.proc.wait(timeout=30) == 0, d.read_log()
    finally:
        d.stop()
    assert not d.qm_runners(), d.read_log()
    for pid in runners:
        assert not os.path.exists(f"/proc/{pid}"), pid


def test_sigterm_lets_stream_finish(tmp_path, model):
    d = started_with_model(tmp_path, model, QM_SHUTDOWN_TIMEOUT="300s")
    n = 500
    try:
        with open_stream(d, n) as r:
            assert json.loads(r.readline())["done"] is False
            runners = d.runner_pids()
            d.proc.send_signal(signal.SIGTERM)
            rest = [json.loads(x) for x in r.read().decode().splitlines() if x.strip()]
        last = rest[-1]
        assert not [x for x in rest if "error" in x]
        assert last.get("done") is True and last.get("done_reason") == "length" and last["eval_count"] == n, last
        # qm exits once the stream is done, not at the end of the 300 s grace period
        assert d.proc.wait(timeout=60) == 0, d.read_log()
        assert "shutdown (SIGTERM): finishing 1 request(s)" in d.read_log()
    finally:
        d.stop()
    assert runners and not d.qm_runners()
    for pid in runners:
        assert not os.path.exists(f"/proc/{pid}"), pid


# ---- scripts/install-service.sh --------------------------------------------------------

SCRIPT = os.path.join(TOP, "scripts", "install-service.sh")


def test_install_script_refuses_without_root():
    argv = ["bash", SCRIPT]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if not setpriv:
            pytest.skip("setpriv (util-linux) is needed to run the script as another user")
        argv = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "must be run as root" in r.stderr, r.stderr
    assert "building" not in r.stdout + r.stderr


def test_install_script_refuses_without_systemd():
    if os.geteuid() != 0:
        pytest.skip("the check that comes after the root check needs root")
    if os.path.isdir("/run/systemd/system"):
        pytest.skip("systemd is running here: the script would really install")
    r = subprocess.run(["bash", SCRIPT], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "systemd is not running" in r.stderr, r.stderr
    assert "building" not in r.stdout + r.stderr
