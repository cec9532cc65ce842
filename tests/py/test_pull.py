"""`/api/pull` end to end against a local registry with fault injection
(registry_server.py): the Ollama registry protocol, Hugging Face file URLs,
plain URLs and catalog names; dropped, stalled, corrupt, failing and slow
transfers; resume across daemon restarts; concurrent pulls; garbage
collection during a pull; a full and a read-only store; `qm pull` on a
terminal.  Test models are ~1.1 MB random-weight GGUFs, so a pull takes a
fraction of a second unless a test slows it down on purpose."""
import hashlib
import http.client
import json
import os
import re
import select
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

import daemon_util
from daemon_util import Daemon, make_model, sha256_file, wait_until
from registry_server import RegistryServer, _parse_range

CHUNK = 65536          # QM_PULL_CHUNK where a blob should come in many parallel pieces
BIG_CHUNK = 1 << 30    # ... where it should come in one piece
FAST = {"QM_PULL_BACKOFF_MS": 20}


# -- helpers ---------------------------------------------------------------

@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Three different ~1.1 MB qwen2 models (one layer, q8_0)."""
    tmp = tmp_path_factory.mktemp("pullmodels")
    out = {n: make_model(str(tmp / f"m{n}.gguf"), "tiny-qwen2", "q8_0", n, extra=("--n-layer", "1"))
           for n in (1, 2, 3)}
    for p in out.values():
        assert 1_000_000 < os.path.getsize(p) < 2_000_000
    return out


@pytest.fixture
def reg():
    with RegistryServer() as r:
        yield r


class Pull(threading.Thread):
    """A streamed POST /api/pull read in the background: .lines grows as the
    daemon's NDJSON lines arrive, so tests can wait on the progress."""

    def __init__(self, d, name, insecure=False, **extra):
        super().__init__(daemon=True)
        self.body = {"model": name, **({"insecure": True} if insecure else {}), **extra}
        self.port = d.port
        self.status = None
        self.lines = []
        self.error = None
        self.start()

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        try:
            conn.request("POST", "/api/pull", json.dumps(self.body), {"Content-Type": "application/json"})
            r = conn.getresponse()
            self.status = r.status
            while True:
                line = r.readline()
                if not line:
                    break
                if line.strip():
                    self.lines.append(json.loads(line))
        except (http.client.HTTPException, OSError, ValueError) as e:
            self.error = e
        finally:
            conn.close()

    def result(self, timeout=120):
        self.join(timeout)
        assert not self.is_alive(), f"pull of {self.body['model']} did not end; last lines {self.lines[-3:]}"
        return self.status, self.lines

    def completed(self, digest):
        return max([x.get("completed", 0) for x in list(self.lines) if x.get("digest") == digest] or [0])


def pull(d, name, insecure=False, **extra):
    return Pull(d, name, insecure, **extra).result()


def pull_plain(d, name, insecure=False):
    """stream:false: (status, the one JSON object)."""
    body = {"model": name, "stream": False, **({"insecure": True} if insecure else {})}
    status, raw = d.post("/api/pull", body)
    return status, json.loads(raw)


def succeeded(status, lines):
    assert status == 200 and lines and lines[-1].get("status") == "success", (status, lines[-4:])
    assert not any("error" in x for x in lines), lines
    return lines[-1].get("model")


def failed(status, lines):
    assert lines and "error" in lines[-1], (status, lines[-4:])
    assert not any(x.get("status") == "success" for x in lines), lines
    return lines[-1]["error"]


def blob_path(d, digest):
    return os.path.join(d.store, "blobs", digest.replace(":", "-"))


def blob_names(d):
    p = os.path.join(d.store, "blobs")
    return set(os.listdir(p)) if os.path.isdir(p) else set()


def manifest_files(d):
    root = os.path.join(d.store, "manifests")
    return [os.path.relpath(os.path.join(dp, f), root) for dp, _, fs in os.walk(root) for f in fs]


def manifest_of(d, relpath):
    """The installed manifest at manifests/<relpath> (case-insensitive), parsed."""
    for f in manifest_files(d):
        if f.lower() == relpath.lower():
            with open(os.path.join(d.store, "manifests", f), "rb") as fh:
                return json.load(fh)
    raise AssertionError(f"no manifest {relpath} in {manifest_files(d)}")


def relpath_of(name):
    """host/ns/model/tag for a stored name as the daemon shows it."""
    base, tag = name.rsplit(":", 1) if ":" in name.rsplit("/", 1)[-1] else (name, "latest")
    parts = base.split("/")
    if len(parts) == 1:
        parts = ["registry.ollama.ai", "library"] + parts
    elif len(parts) == 2:
        parts = ["registry.ollama.ai"] + parts
    return "/".join(parts + [tag])


def verify_installed(d, name, gguf=None):
    """The model's manifest names blobs that exist and hash to their names,
    /api/show knows it and it generates."""
    m = manifest_of(d, relpath_of(name))
    for layer in [m["config"]] + m["layers"]:
        p = blob_path(d, layer["digest"])
        assert os.path.exists(p), (layer, sorted(blob_names(d)))
        assert sha256_file(p) == layer["digest"]
        assert os.path.getsize(p) == layer["size"]
    model_layers = [x for x in m["layers"] if x["mediaType"] == "application/vnd.ollama.image.model"]
    assert len(model_layers) == 1, m
    if gguf is not None:
        assert model_layers[0]["digest"] == sha256_file(gguf)
    status, body = d.post("/api/show", {"model": name})
    assert status == 200, body
    show = json.loads(body)
    status, body = d.post("/api/generate", {"model": name, "prompt": "hello", "stream": False,
                                            "options": {"temperature": 0, "num_predict": 4}})
    assert status == 200, body
    gen = json.loads(body)
    assert gen["done"] is True and isinstance(gen["response"], str) and gen.get("eval_count", 0) <= 4, gen
    return m, show


def tag_names(d):
    return [m["name"] for m in d.get("/api/tags")["models"]]


def no_partials(d):
    return not [f for f in blob_names(d) if "partial" in f]


# -- the test server by itself --------------------------------------------

def test_registry_server_selftest(models, tmp_path):
    """Server self-test: protocol, ranges, keep-alive, every fault, the log."""
    gguf = models[1]
    data = open(gguf, "rb").read()
    size = len(data)
    sha = hashlib.sha256(data).hexdigest()
    assert _parse_range("bytes=0-9", 100) == (0, 9)
    assert _parse_range("bytes=90-", 100) == (90, 99)
    assert _parse_range("bytes=-10", 100) == (90, 99)
    assert _parse_range("bytes=100-", 100) == "unsatisfiable"
    assert _parse_range("bytes=5-200", 100) == (5, 99)
    assert _parse_range("items=1-2", 100) is None
    with RegistryServer() as reg:
        m = reg.add_model("test", "tiny", "q8", gguf, template="{{ .Prompt }}", system="sys",
                          params={"temperature": 0})
        assert m["model_digest"] == "sha256:" + sha and m["model_size"] == size
        assert m["config"]["model_family"] == "qwen2" and m["config"]["file_type"] == "Q8_0"
        assert [x["mediaType"] for x in m["manifest"]["layers"]] == [
            "application/vnd.ollama.image.model", "application/vnd.ollama.image.template",
            "application/vnd.ollama.image.system", "application/vnd.ollama.image.params"]
        blob = f"/v2/test/tiny/blobs/{m['model_digest']}"
        c = http.client.HTTPConnection("127.0.0.1", reg.port, timeout=10)

        def get(path, method="GET", headers=None):
            c.request(method, path, headers=headers or {})
            r = c.getresponse()
            return r, r.read()

        # keep-alive: one connection for all of these
        r, body = get("/v2/test/tiny/manifests/q8")
        assert r.status == 200 and r.getheader("Content-Type") == "application/vnd.docker.distribution.manifest.v2+json"
        assert json.loads(body) == m["manifest"] and body == m["manifest_bytes"]
        man = json.loads(body)
        assert man["schemaVersion"] == 2 and man["config"]["mediaType"] == "application/vnd.docker.container.image.v1+json"
        for layer in [man["config"]] + man["layers"]:
            r, b = get(f"/v2/test/tiny/blobs/{layer['digest']}")
            assert r.status == 200 and len(b) == layer["size"]
            assert "sha256:" + hashlib.sha256(b).hexdigest() == layer["digest"]
        r, body = get("/v2/test/tiny/manifests/q8", "HEAD")
        assert r.status == 200 and body == b"" and int(r.getheader("Content-Length")) == len(m["manifest_bytes"])
        r, body = get(blob)
        assert r.status == 200 and body == data and r.getheader("Accept-Ranges") == "bytes"
        r, body = get(blob, headers={"Range": "bytes=10-19"})
        assert r.status == 206 and body == data[10:20] and r.getheader("Content-Range") == f"bytes 10-19/{size}"
        r, body = get(blob, headers={"Range": f"bytes={size - 5}-"})
        assert r.status == 206 and body == data[-5:]
        r, body = get(blob, headers={"Range": f"bytes={size}-"})
        assert r.status == 416 and r.getheader("Content-Range") == f"bytes */{size}"
        r, body = get("/v2/test/tiny/manifests/nope")
        assert r.status == 404 and b"MANIFEST_UNKNOWN" in body
        r, body = get("/v2/test/tiny/blobs/sha256:" + "0" * 64)
        assert r.status == 404
        assert reg.bytes_served(m["model_digest"]) == 2 * size + 10 + 5

        # files with and without the linked etag
        assert reg.add_file("/O/R-GGUF/resolve/main/x.gguf", gguf) == sha
        reg.add_file("/plain/x.gguf", gguf, sha256_header=False)
        r, body = get("/O/R-GGUF/resolve/main/x.gguf", "HEAD")
        assert r.status == 200 and body == b"" and r.getheader("X-Linked-Etag") == f'"{sha}"'
        assert r.getheader("X-Linked-Size") == str(size) and r.getheader("Content-Length") == str(size)
        assert r.getheader("ETag") and r.getheader("Accept-Ranges") == "bytes"
        r, body = get("/plain/x.gguf", "HEAD")
        assert r.status == 200 and r.getheader("X-Linked-Etag") is None and sha not in (r.getheader("ETag") or "")
        r, body = get("/plain/x.gguf", headers={"Range": "bytes=0-99"})
        assert r.status == 206 and body == data[:100]
        r, body = get("/O/R-GGUF/resolve/main/missing.gguf")
        assert r.status == 404

        # status faults: consumed by HEAD and GET alike, `times` of them
        reg.fault("/plain/x.gguf", "404")
        assert get("/plain/x.gguf", "HEAD")[0].status == 404
        assert get("/plain/x.gguf", "HEAD")[0].status == 200
        reg.fault(sha, "500", times=2)
        assert [get(blob)[0].status for _ in range(3)] == [500, 500, 200]
        reg.fault("/plain/x.gguf", "500", times=None)
        assert [get("/plain/x.gguf", "HEAD")[0].status for _ in range(3)] == [500] * 3
        reg.clear_faults()
        assert get("/plain/x.gguf", "HEAD")[0].status == 200

        # body faults leave HEAD alone
        reg.fault(m["model_digest"], "corrupt")
        assert get(blob, "HEAD")[0].status == 200
        r, body = get(blob)
        assert r.status == 200 and len(body) == size and body != data
        r, body = get(blob, headers={"Range": "bytes=1000-1999"})
        assert body == data[1000:2000]          # that fault was used up
        reg.fault(m["model_digest"], "corrupt")
        r, body = get(blob, headers={"Range": "bytes=1000-1999"})
        assert len(body) == 1000 and body != data[1000:2000]
        c.close()

        # drop: headers and after_bytes of the body, then the connection closes
        mark = reg.mark()
        reg.fault(m["model_digest"], "drop", after_bytes=300_000)
        c = http.client.HTTPConnection("127.0.0.1", reg.port, timeout=10)
        c.request("GET", blob)
        r = c.getresponse()
        assert r.status == 200 and int(r.getheader("Content-Length")) == size
        with pytest.raises(http.client.IncompleteRead) as e:
            r.read()
        assert len(e.value.partial) == 300_000 and e.value.partial == data[:300_000]
        c.close()
        assert reg.bytes_served(m["model_digest"], since=mark) == 300_000
        # the rest by a range request
        with urllib.request.urlopen(urllib.request.Request(reg.url + blob, headers={"Range": "bytes=300000-"})) as r:
            assert r.status == 206 and r.read() == data[300_000:]
        assert reg.bytes_served(m["model_digest"], since=mark) == size

        # slow: the whole body, in pieces
        reg.fault("/plain/x.gguf", "slow", delay=0.001, piece=100_000)
        with urllib.request.urlopen(reg.url + "/plain/x.gguf") as r:
            assert r.read() == data
        assert reg.log("/plain/x.gguf")[-1]["fault"] == "slow"

        # stall: after_bytes, then nothing until release(), then the rest
        reg.fault("/plain/x.gguf", "stall", after_bytes=50_000)
        got = {}

        def fetch():
            with urllib.request.urlopen(reg.url + "/plain/x.gguf", timeout=30) as r:
                got["body"] = r.read()

        t = threading.Thread(target=fetch)
        t.start()
        reg.wait_for(lambda: reg.stalled("/plain/x.gguf"), what="the stall")
        assert reg.log("/plain/x.gguf")[-1]["bytes_sent"] == 50_000 and "body" not in got
        reg.release()
        t.join(30)
        assert got["body"] == data

        # a fault that stays armed, keyed by path
        reg.fault("/v2/test/tiny/manifests/q8", "404", times=None)
        for _ in range(3):
            with pytest.raises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(reg.url + "/v2/test/tiny/manifests/q8")
            assert e.value.code == 404

        # a stall ends when the server shuts down
        reg.fault("/plain/x.gguf", "stall", after_bytes=10)
        def cut_off():
            with pytest.raises(http.client.IncompleteRead):
                urllib.request.urlopen(reg.url + "/plain/x.gguf", timeout=30).read()
            got["cut"] = True

        t = threading.Thread(target=cut_off, daemon=True)
        t.start()
        reg.wait_for(lambda: reg.stalled("/plain/x.gguf"), what="the second stall")
    t.join(30)
    assert not t.is_alive() and got.get("cut")

    # blobs through a 307 to another path
    with RegistryServer(redirect_blobs=True) as reg:
        m = reg.add_model("test", "tiny", "q8", gguf)
        blob = f"/v2/test/tiny/blobs/{m['model_digest']}"
        c = http.client.HTTPConnection("127.0.0.1", reg.port, timeout=10)
        c.request("GET", blob)
        r = c.getresponse()
        r.read()
        assert r.status == 307 and r.getheader("Location") == f"{reg.url}/cdn/{m['model_digest']}"
        reg.fault(m["model_digest"], "drop", after_bytes=1000)   # applies to the answer with the body
        with pytest.raises(http.client.IncompleteRead):
            urllib.request.urlopen(reg.url + blob).read()
        with urllib.request.urlopen(reg.url + blob) as r:
            assert r.read() == data
        assert reg.bytes_served(m["model_digest"]) == 1000 + size


# -- the registry protocol -------------------------------------------------

def test_registry_pull_end_to_end(tmp_path, models, reg):
    template = "{{ if .System }}{{ .System }} {{ end }}{{ .Prompt }}"
    m = reg.add_model("test", "tiny", "q8", models[1], template=template, system="You are terse.",
                      params={"temperature": 0, "num_predict": 3})
    name = f"http://{reg.host}/test/tiny:q8"
    d = Daemon(str(tmp_path), QM_PULL_CHUNK=CHUNK, **FAST)
    try:
        status, lines = pull(d, name)
        stored = succeeded(status, lines)
        assert stored == f"{reg.host}/test/tiny:q8"
        assert lines[0] == {"status": "pulling manifest"}
        statuses = [x["status"] for x in lines if "status" in x]
        tail = [s for s in statuses if not s.startswith("pulling")]
        assert tail == ["verifying sha256 digest", "writing manifest", "success"], statuses
        layers = {x["digest"]: x["size"] for x in m["manifest"]["layers"]}
        # progress per digest: one total, completed never going back, ending at the size
        for digest in layers:
            prog = [x for x in lines if x.get("digest") == digest]
            assert prog, (digest, statuses)
            assert {x["status"] for x in prog} == {"pulling " + digest[7:19]}
            assert {x.get("total") for x in prog} == {layers[digest]}
            done = [x.get("completed", 0) for x in prog]
            assert done == sorted(done) and done[-1] == layers[digest], done
        assert set(x["digest"] for x in lines if "digest" in x) <= set(m["digests"])
        # the blob came in several ranged pieces
        got = [r for r in reg.log(m["model_digest"]) if r["method"] == "GET" and r["status"] in (200, 206)]
        assert len(got) >= 2 and all(r["range"] for r in got), got
        assert reg.bytes_served(m["model_digest"]) == m["model_size"]

        assert stored in tag_names(d)
        man, show = verify_installed(d, stored, models[1])
        assert man == m["manifest"]
        assert manifest_files(d) == [f"{reg.host}/test/tiny/q8"]
        assert show["template"] == template and show["system"] == "You are terse."
        assert "temperature" in show["parameters"] and show["details"]["family"] == "qwen2"
        assert no_partials(d), blob_names(d)
        assert blob_names(d) == {x.replace(":", "-") for x in m["digests"]}

        # again: nothing downloaded but the manifest
        served = {x: reg.bytes_served(x) for x in m["digests"]}
        assert succeeded(*pull(d, name)) == stored
        assert {x: reg.bytes_served(x) for x in m["digests"]} == served
        status, body = pull_plain(d, name)
        assert status == 200 and body.get("status") == "success", (status, body)
        assert reg.bytes_served(m["model_digest"]) == m["model_size"]
    finally:
        assert d.stop() == 0


def test_registry_pull_insecure_name_and_500_once(tmp_path, models, reg):
    m = reg.add_model("test", "tiny", "q8", models[1])
    reg.fault(m["model_digest"], "500")
    d = Daemon(str(tmp_path), **FAST)
    try:
        stored = succeeded(*pull(d, f"{reg.host}/test/tiny:q8", insecure=True))
        assert stored == f"{reg.host}/test/tiny:q8"
        statuses = [r["status"] for r in reg.log(m["model_digest"]) if r["method"] == "GET"]
        assert statuses[0] == 500 and statuses[-1] in (200, 206), statuses
        verify_installed(d, stored, models[1])
    finally:
        d.stop()


def test_pull_resumes_after_dropped_connection(tmp_path, models):
    with RegistryServer(redirect_blobs=True) as reg:
        m = reg.add_model("test", "tiny", "q8", models[1])
        cut = 300_000
        reg.fault(m["model_digest"], "drop", after_bytes=cut)
        d = Daemon(str(tmp_path), QM_PULL_CHUNK=BIG_CHUNK, **FAST)
        try:
            stored = succeeded(*pull(d, f"http://{reg.host}/test/tiny:q8"))
            verify_installed(d, stored, models[1])
            gets = [r for r in reg.log(m["model_digest"]) if r["bytes_sent"]]
            assert gets[0]["fault"] == "drop" and gets[0]["bytes_sent"] == cut
            served = reg.bytes_served(m["model_digest"])
            assert served < 2 * m["model_size"]
            # resumed: most of what came before the drop was kept (a restart costs size + cut)
            assert served < m["model_size"] + cut // 2, (served, [(r["range"], r["bytes_sent"]) for r in gets])
            assert no_partials(d)
        finally:
            d.stop()


def test_pull_500_forever_gives_up(tmp_path, models, reg):
    m = reg.add_model("test", "tiny", "q8", models[1])
    reg.fault(m["model_digest"], "500", times=None)
    d = Daemon(str(tmp_path), QM_PULL_RETRIES=2, QM_PULL_BACKOFF_MS=10)
    try:
        name = f"http://{reg.host}/test/tiny:q8"
        err = failed(*pull(d, name))
        assert "500" in err or "internal server error" in err.lower(), err
        tries = [r for r in reg.log(m["model_digest"]) if r["status"] == 500 and r["method"] == "GET"]
        assert len(tries) >= 2, tries
        assert not os.path.exists(blob_path(d, m["model_digest"]))
        assert manifest_files(d) == [] and tag_names(d) == []
        status, body = pull_plain(d, name)
        assert status in (500, 502) and "error" in body, (status, body)
        assert not os.path.exists(blob_path(d, m["model_digest"])) and manifest_files(d) == []
    finally:
        d.stop()


def test_pull_manifest_not_found(tmp_path, models, reg):
    reg.add_model("test", "tiny", "q8", models[1])
    reg.fault("/v2/test/tiny/manifests/q8", "404", times=None)
    d = Daemon(str(tmp_path), **FAST)
    try:
        for name in (f"http://{reg.host}/test/nosuch:latest", f"http://{reg.host}/test/tiny:q8"):
            err = failed(*pull(d, name))
            assert re.search(r"not found|does not exist", err, re.I), err
            status, body = pull_plain(d, name)
            assert status == 404 and re.search(r"not found|does not exist", body["error"], re.I), (status, body)
        assert manifest_files(d) == [] and tag_names(d) == []
        assert not [f for f in blob_names(d) if f.startswith("sha256-") and "partial" not in f]
        assert all("/manifests/" in r["path"] for r in reg.log())
    finally:
        d.stop()


def test_pull_corrupt_blob(tmp_path, models, reg):
    m = reg.add_model("test", "tiny", "q8", models[1])
    reg.fault(m["model_digest"], "corrupt", times=None)
    d = Daemon(str(tmp_path), QM_PULL_CHUNK=CHUNK, **FAST)
    name = f"http://{reg.host}/test/tiny:q8"
    try:
        err = failed(*pull(d, name))
        assert "digest" in err.lower(), err
        assert not os.path.exists(blob_path(d, m["model_digest"]))
        assert manifest_files(d) == [] and tag_names(d) == []
        reg.clear_faults()
        stored = succeeded(*pull(d, name))
        verify_installed(d, stored, models[1])
    finally:
        d.stop()


def test_pull_slow_blob_reports_progress(tmp_path, models, reg):
    m = reg.add_model("test", "tiny", "q8", models[1])
    reg.fault(m["model_digest"], "slow", times=None, delay=0.05, piece=8192)
    d = Daemon(str(tmp_path), QM_PULL_CHUNK=CHUNK, **FAST)
    try:
        status, lines = pull(d, f"http://{reg.host}/test/tiny:q8")
        stored = succeeded(status, lines)
        done = [x.get("completed", 0) for x in lines if x.get("digest") == m["model_digest"]]
        middle = {c for c in done if 0 < c < m["model_size"]}
        assert len(middle) >= 3, done
        assert done == sorted(done) and done[-1] == m["model_size"]
        verify_installed(d, stored, models[1])
    finally:
        d.stop()


def test_concurrent_pulls_download_once(tmp_path, models, reg):
    m = reg.add_model("test", "tiny", "q8", models[1])
    # the first piece stops part way until release(); every other one is slow
    reg.fault(m["model_digest"], "stall", after_bytes=30_000)
    reg.fault(m["model_digest"], "slow", times=None, delay=0.02, piece=8192)
    d = Daemon(str(tmp_path), QM_PULL_CHUNK=CHUNK, **FAST)
    try:
        name = f"http://{reg.host}/test/tiny:q8"
        a = Pull(d, name)
        reg.wait_for(lambda: reg.stalled(m["model_digest"]), what="the first pull's stall")
        b = Pull(d, name)
        # the second has its manifest while the first is mid-blob
        wait_until(lambda: len(reg.log(m["manifest_path"])) >= 2, what="the second pull's manifest")
        assert a.is_alive()
        reg.release()
        ra, rb = a.result(), b.result()
        assert succeeded(*ra) == succeeded(*rb) == f"{reg.host}/test/tiny:q8"
        for lines in (ra[1], rb[1]):
            done = [x["completed"] for x in lines if x.get("digest") == m["model_digest"] and "completed" in x]
            assert done and done[-1] == m["model_size"], lines[-4:]
        assert reg.bytes_served(m["model_digest"]) <= m["model_size"] + CHUNK
        verify_installed(d, f"{reg.host}/test/tiny:q8", models[1])
        assert no_partials(d)
    finally:
        d.stop()


# -- resume across restarts ------------------------------------------------

def stall_then_stop(tmp_path, reg, m, how):
    """Pull with the model blob stalled at 40%; once the daemon says it has
    that much, stop it (SIGTERM or SIGKILL).  Returns the settings."""
    size = m["model_size"]
    cut = int(size * 0.4)
    reg.fault(m["model_digest"], "stall", after_bytes=cut)
    env = dict(QM_PULL_CHUNK=BIG_CHUNK, QM_SHUTDOWN_TIMEOUT="5s", **FAST)
    d = Daemon(str(tmp_path), **env)
    p = Pull(d, f"http://{reg.host}/test/tiny:q8")
    reg.wait_for(lambda: reg.stalled(m["model_digest"]), what="the stall")
    # progress is the synchronisation point: the daemon has (nearly) all that was sent
    wait_until(lambda: p.completed(m["model_digest"]) >= cut * 9 // 10 or not p.is_alive(),
               what=f"progress to reach {cut}: {p.lines[-2:]}")
    assert p.is_alive(), p.lines[-3:]
    if how == "term":
        assert d.stop() == 0
    else:
        d.proc.kill()
        d.proc.wait()
        d.log.close()
    p.result()
    assert not any(x.get("status") == "success" for x in p.lines)
    return d, env


def test_resume_after_sigterm(tmp_path, models, reg):
    m = reg.add_model("test", "tiny", "q8", models[1])
    d, env = stall_then_stop(tmp_path, reg, m, "term")
    assert os.path.exists(blob_path(d, m["model_digest"]) + "-partial"), sorted(blob_names(d))
    assert not os.path.exists(blob_path(d, m["model_digest"]))
    assert manifest_files(d) == []
    mark = reg.mark()
    reg.release()
    d = Daemon(str(tmp_path), **env)
    try:
        stored = succeeded(*pull(d, f"http://{reg.host}/test/tiny:q8"))
        after = reg.bytes_served(m["model_digest"], since=mark)
        assert after < 0.8 * m["model_size"], (after, [(r["range"], r["bytes_sent"]) for r in reg.log(since=mark)])
        verify_installed(d, stored, models[1])
        assert no_partials(d)
    finally:
        d.stop()


def test_resume_after_sigkill(tmp_path, models, reg):
    m = reg.add_model("test", "tiny", "q8", models[1])
    d, env = stall_then_stop(tmp_path, reg, m, "kill")
    assert not os.path.exists(blob_path(d, m["model_digest"]))
    reg.release()
    d = Daemon(str(tmp_path), **env)
    try:
        stored = succeeded(*pull(d, f"http://{reg.host}/test/tiny:q8"))
        verify_installed(d, stored, models[1])
    finally:
        d.stop()


# -- Hugging Face and plain URLs -------------------------------------------

def test_hf_url(tmp_path, models, reg):
    sha = reg.add_file("/Owner/Tiny-GGUF/resolve/main/Tiny-Q8_0.gguf", models[1])
    reg.add_file("/Owner/Tiny-GGUF/resolve/main/Other-F16.gguf", models[2])
    d = Daemon(str(tmp_path), HF_ENDPOINT=reg.url, QM_PULL_CHUNK=CHUNK, **FAST)
    try:
        stored = succeeded(*pull(d, "https://huggingface.co/Owner/Tiny-GGUF/resolve/main/Tiny-Q8_0.gguf"))
        assert stored.lower() == "hf.co/owner/tiny-gguf:tiny-q8_0", stored
        assert os.path.exists(blob_path(d, "sha256:" + sha))
        assert reg.bytes_served("/Owner/Tiny-GGUF/resolve/main/Tiny-Q8_0.gguf") == os.path.getsize(models[1])
        verify_installed(d, stored, models[1])
        assert stored in tag_names(d)
        # the /blob/ form of the same kind of URL
        stored2 = succeeded(*pull(d, "https://huggingface.co/Owner/Tiny-GGUF/blob/main/Other-F16.gguf"))
        assert stored2.lower() == "hf.co/owner/tiny-gguf:other-f16", stored2
        assert reg.bytes_served("/Owner/Tiny-GGUF/resolve/main/Other-F16.gguf") == os.path.getsize(models[2])
        verify_installed(d, stored2, models[2])
    finally:
        d.stop()


def test_hf_url_corrupt_body(tmp_path, models, reg):
    path = "/Owner/Tiny-GGUF/resolve/main/Tiny-Q8_0.gguf"
    sha = reg.add_file(path, models[1])
    reg.fault(path, "corrupt", times=None)
    d = Daemon(str(tmp_path), HF_ENDPOINT=reg.url, **FAST)
    try:
        status, lines = pull(d, "https://huggingface.co/Owner/Tiny-GGUF/resolve/main/Tiny-Q8_0.gguf")
        err = failed(status, lines)
        assert "digest" in err.lower(), err
        assert reg.bytes_served(path) > 0
        assert not os.path.exists(blob_path(d, "sha256:" + sha))
        assert manifest_files(d) == [] and tag_names(d) == []
    finally:
        d.stop()


def test_plain_url_without_linked_etag(tmp_path, models, reg):
    reg.add_file("/dl/x.gguf", models[3], sha256_header=False)
    d = Daemon(str(tmp_path), **FAST)
    try:
        stored = succeeded(*pull(d, f"http://{reg.host}/dl/x.gguf"))
        assert stored.startswith(reg.host + "/") and re.search(r"/x(:|$)", stored), stored
        assert os.path.exists(blob_path(d, sha256_file(models[3])))
        verify_installed(d, stored, models[3])
        assert no_partials(d)
        # a deeper path, a name with upper case
        reg.add_file("/some/deep/path/Y.gguf", models[2], sha256_header=False)
        stored2 = succeeded(*pull(d, f"http://{reg.host}/some/deep/path/Y.gguf"))
        assert stored2.startswith(reg.host + "/") and re.search(r"/y(:|$)", stored2, re.I), stored2
        verify_installed(d, stored2, models[2])
    finally:
        d.stop()


# -- catalog names ---------------------------------------------------------

def test_catalog_names(tmp_path, models, reg):
    cat = tmp_path / "catalog.json"
    cat.write_text(json.dumps({"version": 1, "models": {
        "tiny": {"huggingface": "Owner/Repo-GGUF", "file": "tiny-{tag}.gguf", "tags": ["q8_0", "f16"],
                 "default": "q8_0"},
        "loud": {"huggingface": "Owner/Loud-GGUF", "file": "Loud-{TAG}.gguf", "tags": ["q8_0"],
                 "default": "q8_0"}}}))
    reg.add_file("/Owner/Repo-GGUF/resolve/main/tiny-q8_0.gguf", models[1])
    reg.add_file("/Owner/Repo-GGUF/resolve/main/tiny-f16.gguf", models[2])
    reg.add_file("/Owner/Loud-GGUF/resolve/main/Loud-Q8_0.gguf", models[3])
    d = Daemon(str(tmp_path), QM_CATALOG=str(cat), HF_ENDPOINT=reg.url, **FAST)
    try:
        assert succeeded(*pull(d, "tiny")) == "tiny:q8_0"
        assert reg.bytes_served("/Owner/Repo-GGUF/resolve/main/tiny-q8_0.gguf") == os.path.getsize(models[1])
        verify_installed(d, "tiny:q8_0", models[1])
        assert succeeded(*pull(d, "tiny:f16")) == "tiny:f16"
        verify_installed(d, "tiny:f16", models[2])
        assert succeeded(*pull(d, "loud")) == "loud:q8_0"
        verify_installed(d, "loud:q8_0", models[3])
        assert set(tag_names(d)) == {"tiny:q8_0", "tiny:f16", "loud:q8_0"}

        mark = reg.mark()
        err = failed(*pull(d, "tiny:q2_k"))
        assert "q8_0" in err or "f16" in err, err
        status, body = pull_plain(d, "tiny:q2_k")
        assert status in (400, 404) and ("q8_0" in body["error"] or "f16" in body["error"]), (status, body)
        assert reg.log(since=mark) == []
    finally:
        d.stop()


def test_builtin_catalog(tmp_path, models, reg):
    path = "/Qwen/Qwen1.5-0.5B-Chat-GGUF/resolve/main/qwen1_5-0_5b-chat-q4_0.gguf"
    reg.add_file(path, models[1])
    d = Daemon(str(tmp_path), HF_ENDPOINT=reg.url, **FAST)
    try:
        stored = succeeded(*pull(d, "qwen1.5-0.5b:q4_0"))
        assert stored == "qwen1.5-0.5b:q4_0"
        assert [r for r in reg.log(path) if r["method"] == "GET" and r["bytes_sent"]]
        assert {r["path"] for r in reg.log()} == {path}
    finally:
        d.stop()


# -- bad names -------------------------------------------------------------

def test_bad_names_rejected(tmp_path, models, reg):
    reg.add_model("test", "tiny", "q8", models[1])
    d = Daemon(str(tmp_path), HF_ENDPOINT=reg.url, **FAST)
    try:
        names = ["../evil", "/etc/passwd", "ev\x01il", "tiny\n:latest",
                 f"http://{reg.host}/../evil", f"http://{reg.host}/test/../../etc:passwd",
                 f"http://{reg.host}/test/ti\x7fny:q8", f"http://{reg.host}/test/tiny:q8/../x"]
        for name in names:
            status, body = pull_plain(d, name)
            assert status == 400 and body.get("error"), (name, status, body)
            status, lines = pull(d, name, insecure=True)
            assert status == 400 or (lines and "error" in lines[-1]), (name, status, lines)
            assert not any(x.get("status") == "success" for x in lines)
        assert reg.log() == []
        assert manifest_files(d) == [] and tag_names(d) == []
    finally:
        d.stop()


# -- garbage collection during a pull --------------------------------------

def test_delete_during_pull(tmp_path, models, reg):
    """Another model is deleted (and blobs collected) while a pull waits on
    the network; both have the same template blob, which only the deleted
    model's manifest references at that moment."""
    template = "{{ .Prompt }}"
    a = reg.add_model("test", "a", "latest", models[1], template=template)
    b = reg.add_model("test", "b", "latest", models[2], template=template)
    shared = set(a["digests"]) & set(b["digests"])
    assert len(shared) == 1
    d = Daemon(str(tmp_path), QM_PULL_CHUNK=BIG_CHUNK, **FAST)
    try:
        name_b = succeeded(*pull(d, f"http://{reg.host}/test/b"))
        d.create("c", models[3])
        reg.fault(a["model_digest"], "stall", after_bytes=a["model_size"] // 3)
        p = Pull(d, f"http://{reg.host}/test/a")
        reg.wait_for(lambda: reg.stalled(a["model_digest"]), what="the stall")
        status, body = d.request("DELETE", "/api/delete", {"model": name_b})
        assert status == 200, body
        reg.release()
        name_a = succeeded(*p.result())
        assert name_a == f"{reg.host}/test/a:latest"
        verify_installed(d, name_a, models[1])
        if os.path.exists(blob_path(d, b["model_digest"])):
            # collection may wait while a model is being written; the next delete collects
            status, body = d.request("DELETE", "/api/delete", {"model": "c"})
            assert status == 200, body
        assert not os.path.exists(blob_path(d, b["model_digest"]))
        assert os.path.exists(blob_path(d, next(iter(shared))))
        verify_installed(d, name_a, models[1])
        assert name_a in tag_names(d) and name_b not in tag_names(d)
    finally:
        d.stop()


# -- a full and a read-only store ------------------------------------------

def namespaced_qm(tmp_path, setup):
    """A wrapper that runs `qm serve` in a user+mount namespace after `setup`
    (shell, with the store in $QM_MODELS), or None when unshare is refused."""
    try:
        ok = subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    if not ok:
        return None
    w = tmp_path / "qm-ns.sh"
    w.write_text("#!/bin/sh\nexec unshare -rm sh -c '%s && exec \"$0\" \"$@\"' %s \"$@\"\n"
                 % (setup, os.path.abspath(daemon_util.QM)))
    w.chmod(0o755)
    return str(w)


def test_disk_full(tmp_path, models, reg, monkeypatch):
    wrapper = namespaced_qm(tmp_path, 'mount -t tmpfs -o size=600k tmpfs "$QM_MODELS"')
    if wrapper is None:
        pytest.skip("unshare -rm is not permitted here")
    m = reg.add_model("test", "tiny", "q8", models[1])
    assert m["model_size"] > 600 * 1024
    monkeypatch.setattr(daemon_util, "QM", wrapper)
    d = Daemon(str(tmp_path), **FAST)
    try:
        err = failed(*pull(d, f"http://{reg.host}/test/tiny:q8"))
        assert "space" in err.lower(), err
        inside = f"/proc/{d.proc.pid}/root{os.path.abspath(d.store)}"
        assert not os.path.exists(os.path.join(inside, "blobs", m["model_digest"].replace(":", "-")))
        assert not os.path.exists(os.path.join(inside, "manifests", reg.host))
        assert tag_names(d) == []
        assert d.proc.poll() is None
    finally:
        d.stop()


def test_read_only_store(tmp_path, models, reg, monkeypatch):
    wrapper = namespaced_qm(tmp_path, 'mount --bind "$QM_MODELS" "$QM_MODELS" && '
                                      'mount -o remount,bind,ro "$QM_MODELS"')
    if wrapper is None:
        pytest.skip("unshare -rm is not permitted here")
    m = reg.add_model("test", "tiny", "q8", models[1])
    os.makedirs(tmp_path / "store" / "blobs")
    os.makedirs(tmp_path / "store" / "manifests")
    monkeypatch.setattr(daemon_util, "QM", wrapper)
    d = Daemon(str(tmp_path), **FAST)
    try:
        err = failed(*pull(d, f"http://{reg.host}/test/tiny:q8"))
        assert "read-only" in err.lower() or "read only" in err.lower(), err
        assert blob_names(d) == set() and manifest_files(d) == []
    finally:
        d.stop()


# -- the command line ------------------------------------------------------

def test_cli_pull_on_a_terminal(tmp_path, models, reg):
    probe = subprocess.run([daemon_util.QM, "help"], capture_output=True, text=True, timeout=30)
    if not re.search(r"^\s*pull\b", probe.stdout + probe.stderr, re.M):
        pytest.skip("`qm pull` is not in this build yet (not listed by `qm help`)")
    m = reg.add_model("ns", "model", "tag", models[1])
    reg.fault(m["model_digest"], "slow", times=None, delay=0.02, piece=16384)
    d = Daemon(str(tmp_path), QM_PULL_CHUNK=CHUNK, **FAST)
    try:
        import fcntl
        import termios
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("QM_", "OLLAMA_"))}
        env.update({"QM_HOST": f"127.0.0.1:{d.port}", "TERM": "xterm"})
        proc = subprocess.Popen([daemon_util.QM, "pull", f"http://{reg.host}/ns/model:tag"],
                                stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        out = b""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 1)
            if r:
                try:
                    chunk = os.read(master, 65536)
                except OSError:   # EIO: the terminal's other side is closed
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        os.close(master)
        rc = proc.wait(timeout=30)
        text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.decode(errors="replace"))
        assert rc == 0, text
        assert re.search(r"pulling %s.*?\d+(\.\d+)?\s*%%" % m["model_digest"][7:19], text), text
        last = [x for x in re.split(r"[\r\n]+", text) if x.strip()][-1]
        assert last.strip() == "success", text[-500:]
        verify_installed(d, f"{reg.host}/ns/model:tag", models[1])
    finally:
        d.stop()
