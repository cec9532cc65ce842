"""The command line as a client of the daemon: `qm create/list/show/cp/ps/
stop/rm/pull` run as subprocesses with QM_HOST pointing at a test daemon,
their output read back and checked against the daemon's own JSON.

A small fake daemon (Python's http.server) stands in where the real one
cannot say what a test needs: NDJSON status streams from /api/create, an
error in the middle of a stream, a stream held open to show that lines
reach the terminal as they arrive, and the exact bytes of a blob upload."""
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

import daemon_util
from daemon_util import Daemon, free_port, make_model, sha256_file, wait_until

MODELFILE = '''# a test model
FROM ./weights/tiny.gguf
PARAMETER temperature 0.25
PARAMETER stop "<|end|>"
PARAMETER num_ctx 1024
SYSTEM You are a terse test assistant.
TEMPLATE """{{ .System }}|{{ .Prompt }}"""
LICENSE """MIT License
Copyright (c) qm tests

Permission is hereby granted."""
'''


# -- helpers ---------------------------------------------------------------

def cli_env(host, home, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QM_", "OLLAMA_"))}
    env.update({"QM_HOST": host, "HOME": str(home)})
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_qm(env, *args, cwd=None, timeout=120):
    return subprocess.run([daemon_util.QM, *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def ok(p):
    assert p.returncode == 0, f"rc={p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    return p


def failed(p, pattern=None):
    """Exit status 1 and exactly one line, 'Error: ...', on stderr."""
    assert p.returncode == 1, f"rc={p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    lines = p.stderr.splitlines()
    assert len(lines) >= 1 and lines[-1].startswith("Error: "), p.stderr
    assert all(not x.startswith("Error") for x in lines[:-1]), p.stderr
    if pattern:
        assert re.search(pattern, lines[-1]), lines[-1]
    return lines[-1]


def table(text):
    """Rows of a qm table as dicts; checks that every row lines up with the header."""
    lines = [x for x in text.splitlines() if x.strip()]
    assert lines, "no table"
    header = re.split(r" {3,}", lines[0].strip())
    starts = [lines[0].index(h) for h in header]
    rows = []
    for line in lines[1:]:
        cells = [line[a:b].strip() for a, b in zip(starts, starts[1:] + [len(line)])]
        for a in starts[1:]:   # a column starts after a run of (at least 3) spaces
            assert line[a - 3:a] == "   " and line[a] != " ", (lines[0], line)
        rows.append(dict(zip(header, cells)))
    return header, rows


def human_bytes(n):
    """Ollama's size format (decimal units), written independently of format.c."""
    for scale, unit in ((10**12, "TB"), (10**9, "GB"), (10**6, "MB"), (10**3, "kB")):
        if n >= scale:
            v = n / scale
            return f"{int(v)} {unit}" if v >= 10 or v == int(v) else f"{v:.1f} {unit}"
    return f"{n} B"


def listening(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def gguf(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("climodels")
    return make_model(str(tmp / "tiny.gguf"), "tiny-qwen2", "q8_0", 7)


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(str(tmp_path))
    yield d
    d.stop()


@pytest.fixture
def env(daemon, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    return cli_env(f"127.0.0.1:{daemon.port}", home)


@pytest.fixture
def modelfile(tmp_path, gguf):
    """A Modelfile in its own folder, FROM a GGUF given relative to that folder."""
    d = tmp_path / "project"
    (d / "weights").mkdir(parents=True)
    shutil.copy(gguf, d / "weights" / "tiny.gguf")
    (d / "Modelfile").write_text(MODELFILE)
    return d / "Modelfile"


def create(env, name, modelfile, tmp_path):
    # run from elsewhere: FROM is relative to the Modelfile's folder, not to the cwd
    p = ok(run_qm(env, "create", name, "-f", str(modelfile), cwd=str(tmp_path)))
    assert p.stderr.splitlines()[-1] == "success", p.stderr
    return p


def tags(d):
    return {m["name"]: m for m in d.get("/api/tags")["models"]}


# -- create, list, show ------------------------------------------------------

def test_create_then_list_and_show(daemon, env, modelfile, tmp_path, gguf):
    create(env, "clitest", modelfile, tmp_path)
    # the GGUF went up as a blob under its sha256
    digest = sha256_file(gguf)
    assert os.path.exists(os.path.join(daemon.store, "blobs", digest.replace(":", "-")))

    header, rows = table(ok(run_qm(env, "list")).stdout)
    assert header == ["NAME", "ID", "SIZE", "MODIFIED"]
    t = tags(daemon)["clitest:latest"]
    (row,) = [r for r in rows if r["NAME"] == "clitest:latest"]
    assert row["ID"] == t["digest"].removeprefix("sha256:")[:12] and re.fullmatch(r"[0-9a-f]{12}", row["ID"])
    assert row["SIZE"] == human_bytes(t["size"]) and t["size"] >= os.path.getsize(gguf)
    assert re.fullmatch(r"Less than a second ago|\d+ seconds? ago|About a minute ago", row["MODIFIED"])
    def ids(*args):
        return [(r["NAME"], r["ID"], r["SIZE"]) for r in table(ok(run_qm(env, *args)).stdout)[1]]
    assert ids("ls") == ids("list") == [("clitest:latest", row["ID"], row["SIZE"])]
    assert ids("list", "CLI") == ids("list")     # a prefix, any case
    assert table(ok(run_qm(env, "list", "other")).stdout)[1] == []

    info = daemon.post("/api/show", {"model": "clitest"})
    assert info[0] == 200
    info = json.loads(info[1])
    out = ok(run_qm(env, "show", "clitest")).stdout
    sections = re.findall(r"^  (\S.*)$", out, re.M)
    assert sections[0] == "Model" and {"Parameters", "System", "License"} <= set(sections), out
    arch = info["model_info"]["general.architecture"]
    assert re.search(rf"^    architecture\s+{arch}$", out, re.M), out
    assert re.search(rf"^    context length\s+{info['model_info'][arch + '.context_length']}$", out, re.M)
    assert re.search(rf"^    embedding length\s+{info['model_info'][arch + '.embedding_length']}$", out, re.M)
    assert re.search(rf"^    quantization\s+{info['details']['quantization_level']}$", out, re.M), out
    assert re.search(r"^    parameters\s+\d+(\.\d+)?[KMB]$", out, re.M), out
    assert re.search(r"^    temperature\s+0\.25$", out, re.M), out
    assert re.search(r"^    num_ctx\s+1024$", out, re.M), out
    assert re.search(r"^    stop\s+\"?<\|end\|>\"?$", out, re.M), out
    assert re.search(r"^  System\n    You are a terse test assistant\.\n", out, re.M), out
    # the license's first two lines only
    assert re.search(r"^  License\n    MIT License\n    Copyright \(c\) qm tests\n\n", out, re.M), out
    assert "Permission" not in out

    assert ok(run_qm(env, "show", "clitest", "--system")).stdout == "You are a terse test assistant.\n"
    assert ok(run_qm(env, "show", "clitest", "--template")).stdout == "{{ .System }}|{{ .Prompt }}\n"
    lic = ok(run_qm(env, "show", "clitest", "--license")).stdout
    assert lic.rstrip("\n") == "MIT License\nCopyright (c) qm tests\n\nPermission is hereby granted."
    params = ok(run_qm(env, "show", "clitest", "--parameters")).stdout
    assert params.rstrip("\n") == info["parameters"].rstrip("\n")
    assert {tuple(x.split(None, 1)) for x in params.splitlines()} >= {("temperature", "0.25"), ("num_ctx", "1024")}
    mf = ok(run_qm(env, "show", "clitest", "--modelfile")).stdout
    assert mf.rstrip("\n") == info["modelfile"].rstrip("\n")
    assert "PARAMETER temperature 0.25" in mf and "You are a terse test assistant." in mf
    assert re.search(r"^FROM .*sha256-" + digest[7:], mf, re.M), mf
    # the flags are exclusive
    assert run_qm(env, "show", "clitest", "--system", "--license").returncode == 2


def test_create_from_an_existing_model_and_blob_reuse(daemon, env, modelfile, tmp_path):
    create(env, "base", modelfile, tmp_path)
    create(env, "again", modelfile, tmp_path)   # same GGUF: HEAD finds it, nothing is uploaded
    log = daemon.read_log()
    assert len(re.findall(r"\| POST /api/blobs/sha256:", log)) == 1, log
    assert len(re.findall(r"\| HEAD /api/blobs/sha256:", log)) == 2, log

    derived = tmp_path / "Derived"
    derived.write_text("FROM base\nSYSTEM You are derived.\n")
    p = ok(run_qm(env, "create", "derived", "--file", str(derived)))
    assert p.stderr.splitlines()[-1] == "success"
    assert ok(run_qm(env, "show", "derived", "--system")).stdout == "You are derived.\n"
    # what the Modelfile did not set comes from the base model
    assert ok(run_qm(env, "show", "derived", "--template")).stdout == "{{ .System }}|{{ .Prompt }}\n"
    t = tags(daemon)
    assert t["derived:latest"]["digest"] != t["base:latest"]["digest"]


def test_create_default_modelfile_and_errors(daemon, env, modelfile, tmp_path):
    # ./Modelfile by default
    p = ok(run_qm(env, "create", "fromcwd", cwd=str(modelfile.parent)))
    assert "fromcwd:latest" in tags(daemon)
    failed(run_qm(env, "create", "x", cwd=str(tmp_path)), r"Modelfile")   # none in tmp_path
    bad = tmp_path / "Bad"
    bad.write_text("FROM x\nPARAMETER temperature warm\n")
    failed(run_qm(env, "create", "x", "-f", str(bad)), r"line 2")
    missing = tmp_path / "Missing"
    missing.write_text("FROM ./nowhere.gguf\n")
    failed(run_qm(env, "create", "x", "-f", str(missing)), r"nowhere\.gguf")
    failed(run_qm(env, "create", "x", "-f", str(bad.parent / "NoSuchFile")), r"NoSuchFile")
    unknown = tmp_path / "Unknown"
    unknown.write_text("FROM no-such-model\n")
    failed(run_qm(env, "create", "x", "-f", str(unknown)), r"no-such-model")
    assert set(tags(daemon)) == {"fromcwd:latest"}
    assert run_qm(env, "create").returncode == 2
    assert run_qm(env, "create", "x", "-f").returncode == 2
    assert p.stderr.count("success") == 1


# -- cp, rm --------------------------------------------------------------------

def test_cp_and_rm(daemon, env, modelfile, tmp_path):
    create(env, "orig", modelfile, tmp_path)
    p = ok(run_qm(env, "cp", "orig", "copy:v2"))
    assert p.stdout == "copied 'orig' to 'copy:v2'\n"
    _, rows = table(ok(run_qm(env, "list")).stdout)
    by = {r["NAME"]: r for r in rows}
    assert set(by) == {"orig:latest", "copy:v2"}
    assert by["orig:latest"]["ID"] == by["copy:v2"]["ID"] and by["orig:latest"]["SIZE"] == by["copy:v2"]["SIZE"]
    assert ok(run_qm(env, "show", "copy:v2", "--system")).stdout == "You are a terse test assistant.\n"

    p = ok(run_qm(env, "rm", "orig"))
    assert p.stdout == "deleted 'orig'\n"
    _, rows = table(ok(run_qm(env, "list")).stdout)
    assert [r["NAME"] for r in rows] == ["copy:v2"]
    failed(run_qm(env, "rm", "orig"), r"orig.*not found|not found.*orig")
    failed(run_qm(env, "cp", "orig", "other"), r"not found")
    p = ok(run_qm(env, "rm", "copy:v2"))
    assert table(ok(run_qm(env, "list")).stdout)[1] == []


# -- ps, stop --------------------------------------------------------------------

def generate(d, model, **extra):
    status, body = d.post("/api/generate", {"model": model, "prompt": "hello", "stream": False,
                                            "options": {"temperature": 0, "num_predict": 2, "num_ctx": 2048},
                                            **extra})
    assert status == 200, body


def test_ps_and_stop(daemon, env, modelfile, tmp_path):
    create(env, "runme", modelfile, tmp_path)
    header, rows = table(ok(run_qm(env, "ps")).stdout)
    assert header == ["NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"] and rows == []

    generate(daemon, "runme")
    (api,) = daemon.get("/api/ps")["models"]
    _, rows = table(ok(run_qm(env, "ps")).stdout)
    (row,) = rows
    assert row["NAME"] == "runme:latest"
    assert row["ID"] == tags(daemon)["runme:latest"]["digest"].removeprefix("sha256:")[:12]
    assert row["SIZE"] == human_bytes(api["size"])
    assert row["PROCESSOR"] == "100% CPU"
    assert row["CONTEXT"] == str(api["context_length"]) == "2048"
    assert re.fullmatch(r"[45] minutes from now", row["UNTIL"]), row      # QM_KEEP_ALIVE 5m

    generate(daemon, "runme", keep_alive=-1)
    (row,) = table(ok(run_qm(env, "ps")).stdout)[1]
    assert row["UNTIL"] == "Forever"

    p = ok(run_qm(env, "stop", "runme"))
    assert p.stdout == "" and p.stderr == ""
    wait_until(lambda: daemon.get("/api/ps")["models"] == [], 30, "the model to unload")
    assert table(ok(run_qm(env, "ps")).stdout)[1] == []
    wait_until(lambda: daemon.runner_pids() == [], 30, "the runner to exit")
    # a model that is not loaded stops quietly; one that does not exist is an error
    ok(run_qm(env, "stop", "runme"))
    failed(run_qm(env, "stop", "nosuch"), r"nosuch")


# -- errors ------------------------------------------------------------------------

def test_unknown_model_and_usage(env):
    failed(run_qm(env, "show", "nosuch"), r"nosuch.*not found|not found.*nosuch")
    failed(run_qm(env, "show", "nosuch", "--template"), r"not found")
    for args in (["show"], ["cp", "a"], ["rm"], ["stop"], ["list", "--bogus"], ["ps", "extra"],
                 ["pull"], ["create"]):
        p = run_qm(env, *args)
        assert p.returncode == 2, (args, p.stderr)
        assert "Usage: qm" in p.stderr, (args, p.stderr)
    for cmd in ("list", "ps", "show", "rm", "cp", "stop", "create", "pull"):
        p = ok(run_qm(env, cmd, "--help"))
        assert p.stdout.startswith(f"Usage: qm {cmd}"), p.stdout
    assert re.search(r"^\s+create\s", ok(run_qm(env, "help")).stdout, re.M)


def test_no_daemon_is_an_error_and_none_is_started(tmp_path, modelfile):
    port = free_port()
    home = tmp_path / "home"
    home.mkdir()
    env = cli_env(f"127.0.0.1:{port}", home)
    msg = f"Error: could not connect to qm server at http://127.0.0.1:{port}; is `qm serve` running?"
    for args in (["list"], ["ps"], ["show", "m"], ["rm", "m"], ["cp", "a", "b"], ["stop", "m"],
                 ["create", "m", "-f", str(modelfile)]):
        p = run_qm(env, *args)
        assert p.returncode == 1, (args, p.stderr)
        assert p.stderr.splitlines()[-1] == msg, (args, p.stderr)
        assert "started" not in p.stderr
    assert not listening(port)
    assert not (home / ".qm").exists()
    # QM_HOST in its other spellings names the same place
    for host in (f"http://127.0.0.1:{port}", f"http://localhost:{port}/"):
        p = run_qm(cli_env(host, home), "list")
        assert p.returncode == 1 and f":{port};" in p.stderr, p.stderr


# -- pull --------------------------------------------------------------------------

def serve_pids(port):
    """The `qm serve` processes (of this user) whose QM_HOST is 127.0.0.1:port."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            with open(f"/proc/{pid}/environ", "rb") as f:
                envs = f.read().split(b"\0")
        except OSError:
            continue
        if argv[1:2] == [b"serve"] and f"QM_HOST=127.0.0.1:{port}".encode() in envs:
            pids.append(int(pid))
    return pids


def test_pull_starts_a_daemon(tmp_path, gguf):
    from registry_server import RegistryServer
    port = free_port()
    home = tmp_path / "home"
    home.mkdir()
    store = tmp_path / "store"
    env = cli_env(f"127.0.0.1:{port}", home, QM_MODELS=store)
    with RegistryServer() as reg:
        reg.add_model("ns", "model", "tag", gguf)
        try:
            p = run_qm(env, "pull", f"http://{reg.host}/ns/model:tag")
            assert "started `qm serve` in the background" in p.stderr, p.stderr
            assert (home / ".qm" / "serve.log").exists()
            assert listening(port)
            ok(p)
            lines = p.stderr.splitlines()
            assert lines[-1] == "success" and "pulling manifest" in lines, p.stderr
            # not a terminal: one line per layer, no redraws
            assert "\r" not in p.stderr
            layer_lines = [x for x in lines if re.match(r"pulling [0-9a-f]{12}", x)]
            assert len(layer_lines) == len(set(layer_lines)) >= 1, p.stderr
            # the started daemon keeps serving: the model is there
            _, rows = table(ok(run_qm(env, "list")).stdout)
            assert [r["NAME"] for r in rows] == [f"{reg.host}/ns/model:tag"]
            # a second pull finds it answering and starts nothing
            p = ok(run_qm(env, "pull", f"http://{reg.host}/ns/model:tag"))
            assert "started" not in p.stderr
            failed(run_qm(env, "pull", f"http://{reg.host}/ns/nosuch:tag"), r"nosuch")
        finally:
            pids = serve_pids(port)
            for pid in pids:
                os.kill(pid, signal.SIGTERM)
            wait_until(lambda: not any(os.path.exists(f"/proc/{p}") and
                                       open(f"/proc/{p}/stat").read().split()[2] != "Z" for p in pids),
                       60, "the started daemon to exit")
    assert len(pids) == 1, pids


# -- a fake daemon: streams the real one does not send (yet) -------------------------

class FakeDaemon:
    """Answers /api/version, HEAD/POST /api/blobs, and /api/pull and /api/create
    with a scripted NDJSON stream; a None in the script waits for `release`."""

    def __init__(self):
        self.requests = []
        self.blobs = {}
        self.script = []
        self.release = threading.Event()
        fake = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                self._json(200, {"version": "0.0.0-fake"})

            def do_HEAD(self):
                digest = self.path.rsplit("/", 1)[-1]
                self.send_response(200 if digest in fake.blobs else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(n)
                if self.path.startswith("/api/blobs/"):
                    fake.blobs[self.path.rsplit("/", 1)[-1]] = body
                    self.send_response(201)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                fake.requests.append((self.path, json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.end_headers()
                for item in fake.script:
                    if item is None:
                        fake.release.wait()
                        continue
                    self.wfile.write(json.dumps(item).encode() + b"\n")
                    self.wfile.flush()

            def _json(self, code, obj):
                b = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(b)))
                self.end_headers()
                self.wfile.write(b)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_create_streams_status_and_sends_the_modelfile(tmp_path, modelfile, gguf):
    with FakeDaemon() as fake:
        fake.script = [{"status": "parsing GGUF"},
                       {"status": "quantizing F16 model to Q4_K_M", "digest": "sha256:" + "ab" * 32,
                        "total": 100, "completed": 40},
                       {"status": "quantizing F16 model to Q4_K_M", "digest": "sha256:" + "ab" * 32,
                        "total": 100, "completed": 100},
                       {"status": "writing manifest"}, {"status": "success"}]
        env = cli_env(f"127.0.0.1:{fake.port}", tmp_path)
        p = ok(run_qm(env, "create", "q", "-f", str(modelfile), "-q", "q4_K_M"))
        assert p.stderr.splitlines() == [
            "gathering model components",
            f"copying file {sha256_file(gguf)[:19]}: {human_bytes(os.path.getsize(gguf))}",
            "parsing GGUF",
            "quantizing F16 model to Q4_K_M: 100 B",
            "writing manifest",
            "success"], p.stderr
        digest = sha256_file(gguf)
        with open(gguf, "rb") as f:
            assert fake.blobs[digest] == f.read()
        ((path, body),) = fake.requests
        assert path == "/api/create"
        assert body["model"] == "q" and body["stream"] is True and body["quantize"] == "q4_K_M"
        assert body["files"] == {"tiny.gguf": digest} and "from" not in body
        assert body["system"] == "You are a terse test assistant."
        assert body["template"] == "{{ .System }}|{{ .Prompt }}"
        assert body["license"].startswith("MIT License\n")
        assert body["parameters"]["temperature"] == 0.25 and body["parameters"]["num_ctx"] == 1024
        assert body["parameters"]["stop"] == ["<|end|>"]

        # the blob is there now: a second create sends none
        fake.blobs[digest] = b"kept"
        ok(run_qm(env, "create", "q2", "-f", str(modelfile)))
        assert fake.blobs[digest] == b"kept"
        assert "quantize" not in fake.requests[-1][1]


def first_line(proc, timeout=60):
    """The next line of proc's stderr, or None when none comes in time (the
    fake holds the rest of the stream, so a client that waits for the end
    would never print it)."""
    got = []
    reader = threading.Thread(target=lambda: got.append(proc.stderr.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return got[0] if got else None


def test_stream_lines_arrive_live_and_errors_end_them(tmp_path):
    with FakeDaemon() as fake:
        env = cli_env(f"127.0.0.1:{fake.port}", tmp_path)
        fake.script = [{"status": "pulling manifest"}, None,
                       {"status": "pulling 0123456789ab", "digest": "sha256:" + "01" * 32, "total": 2000,
                        "completed": 1000},
                       {"status": "pulling 0123456789ab", "digest": "sha256:" + "01" * 32, "total": 2000,
                        "completed": 2000},
                       {"status": "verifying sha256 digest"}, {"status": "writing manifest"},
                       {"status": "success", "model": "registry.example/ns/m:tag"}]
        proc = subprocess.Popen([daemon_util.QM, "pull", "m"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            # the first line shows while the daemon still holds the rest back
            assert first_line(proc) == "pulling manifest\n", "the first status did not come through alone"
            assert proc.poll() is None
            fake.release.set()
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, err
        assert err.splitlines() == ["pulling 0123456789ab: 2 kB", "verifying sha256 digest",
                                    "writing manifest", "stored as registry.example/ns/m:tag", "success"]
        assert fake.requests[-1] == ("/api/pull", {"model": "m", "insecure": False, "stream": True})

        fake.release.clear()
        fake.script = [{"status": "pulling manifest"}, {"error": "pull model manifest: file does not exist"}]
        p = run_qm(env, "pull", "--insecure", "m")
        assert failed(p) == "Error: pull model manifest: file does not exist"
        assert p.stderr.splitlines()[0] == "pulling manifest"
        assert fake.requests[-1][1]["insecure"] is True


def test_ctrl_c_ends_a_pull(tmp_path):
    with FakeDaemon() as fake:
        env = cli_env(f"127.0.0.1:{fake.port}", tmp_path)
        fake.script = [{"status": "pulling manifest"}, None, {"status": "success"}]
        proc = subprocess.Popen([daemon_util.QM, "pull", "m"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            assert first_line(proc) == "pulling manifest\n"
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        # ended by the interrupt, not by the stream (which the fake still holds)
        assert not fake.release.is_set()
        assert proc.returncode == 130, err
        assert "success" not in err and "Error" not in err
