"""A local model registry for the pull tests, with fault injection.

Python's standard library only: a ThreadingHTTPServer on 127.0.0.1 (port 0)
in a background thread, HTTP/1.1 with keep-alive.  It serves

  * the Ollama registry protocol: GET/HEAD /v2/<ns>/<model>/manifests/<tag>
    and /v2/<ns>/<model>/blobs/sha256:<hex> (optionally through a 307
    redirect to /cdn/sha256:<hex>, as the real registry redirects to a CDN);
  * Hugging Face-style files (/<owner>/<repo>/resolve/main/<file>) with
    X-Linked-Etag / X-Linked-Size, or plain files without them;

with byte ranges (206, 416) and faults armed per path or per digest for the
next N requests: "drop", "stall", "corrupt", "404", "500", "slow".  Every
request is logged with the body bytes actually sent, so tests can say
"downloaded once" and "resumed where it stopped".

    with RegistryServer() as reg:
        m = reg.add_model("test", "tiny", "q8", "tiny.gguf")
        reg.fault(m["model_digest"], "drop", after_bytes=300_000)
        ... pull f"http://{reg.host}/test/tiny:q8" ...
        assert reg.bytes_served(m["model_digest"]) < 2 * m["model_size"]
"""
import hashlib
import http.server
import json
import os
import re
import socket
import struct
import tempfile
import threading
import time

MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_TYPE = "application/vnd.docker.container.image.v1+json"
MODEL_TYPE = "application/vnd.ollama.image.model"
TEMPLATE_TYPE = "application/vnd.ollama.image.template"
SYSTEM_TYPE = "application/vnd.ollama.image.system"
PARAMS_TYPE = "application/vnd.ollama.image.params"

BODY_FAULTS = ("drop", "stall", "corrupt", "slow")
STATUS_FAULTS = ("404", "500")

# llama.cpp's general.file_type values, for the config blob
FILE_TYPES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
              10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M",
              16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 25: "IQ4_NL", 30: "IQ4_XS", 32: "BF16"}


def gguf_metadata(path, keys=("general.architecture", "general.file_type")):
    """The scalar/string values of `keys` from a GGUF header (small reader,
    enough for the config blob; arrays are skipped)."""
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    fmts = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
            10: "<Q", 11: "<q", 12: "<d"}
    out = {}
    with open(path, "rb") as f:
        def rd(n):
            b = f.read(n)
            if len(b) != n:
                raise ValueError("truncated GGUF header")
            return b

        def rstr():
            (n,) = struct.unpack("<Q", rd(8))
            return rd(n).decode("utf-8", "replace")

        def skip(t):
            if t == 8:
                rstr()
            elif t == 9:
                (et,) = struct.unpack("<I", rd(4))
                (n,) = struct.unpack("<Q", rd(8))
                if et in sizes:
                    f.seek(sizes[et] * n, 1)
                else:
                    for _ in range(n):
                        skip(et)
            else:
                f.seek(sizes[t], 1)

        if rd(4) != b"GGUF":
            raise ValueError(f"{path}: not a GGUF file")
        (version,) = struct.unpack("<I", rd(4))
        _n_tensors, n_kv = struct.unpack("<QQ", rd(16))
        for _ in range(n_kv):
            key = rstr()
            (t,) = struct.unpack("<I", rd(4))
            if key in keys and t == 8:
                out[key] = rstr()
            elif key in keys and t in fmts:
                (out[key],) = struct.unpack(fmts[t], rd(sizes[t]))
            else:
                skip(t)
    return out


def sha256_path(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class _Resource:
    """Something with a body: a blob or a file."""

    def __init__(self, path, size, sha, content_type, keys, headers=None):
        self.path, self.size, self.sha = path, size, sha
        self.content_type = content_type
        self.keys = keys            # fault / log keys: url path(s), "sha256:<hex>"
        self.headers = headers or {}


class _Fault:
    def __init__(self, key, kind, times, after_bytes, delay, piece):
        self.key, self.kind, self.times = key, kind, times
        self.after_bytes, self.delay, self.piece = after_bytes, delay, piece
        self.released = threading.Event()
        self.hits = 0


class _Dropped(Exception):
    pass


class RegistryServer:
    def __init__(self, redirect_blobs=False, workdir=None):
        self.redirect_blobs = redirect_blobs
        self._tmp = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="qm-registry-")
            workdir = self._tmp.name
        self.workdir = workdir
        self.blob_dir = os.path.join(workdir, "blobs")
        os.makedirs(self.blob_dir, exist_ok=True)
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._manifests = {}   # url path -> (bytes, digest)
        self._blobs = {}       # hex -> _Resource
        self._files = {}       # url path -> _Resource
        self._faults = []
        self._stalls = []      # faults of kind stall (for release)
        self.requests = []     # dicts: method, path, range, status, bytes_sent, keys, fault
        self._httpd = None
        self._thread = None

    # -- lifecycle --------------------------------------------------------

    def start(self):
        server = self

        class Handler(_Handler):
            registry = server

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self.port = self._httpd.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="registry-server", daemon=True)
        self._thread.start()
        return self

    def close(self):
        self._closing.set()
        self.release()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=10)
            self._httpd = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # -- content ----------------------------------------------------------

    def _put_blob(self, data=None, src=None, content_type="application/octet-stream"):
        """Store a blob (bytes or a file, copied) and return its hex digest."""
        if src is not None:
            sha = sha256_path(src)
            dst = os.path.join(self.blob_dir, "sha256-" + sha)
            if not os.path.exists(dst):
                tmp = dst + ".tmp"
                with open(src, "rb") as fi, open(tmp, "wb") as fo:
                    for chunk in iter(lambda: fi.read(1 << 20), b""):
                        fo.write(chunk)
                os.replace(tmp, dst)
        else:
            sha = hashlib.sha256(data).hexdigest()
            dst = os.path.join(self.blob_dir, "sha256-" + sha)
            if not os.path.exists(dst):
                with open(dst, "wb") as fo:
                    fo.write(data)
        with self._lock:
            if sha not in self._blobs:
                self._blobs[sha] = _Resource(dst, os.path.getsize(dst), sha, content_type,
                                             {"sha256:" + sha, f"/cdn/sha256:{sha}"},
                                             {"ETag": f'"sha256:{sha}"',
                                              "Docker-Content-Digest": "sha256:" + sha})
        return sha

    def add_model(self, ns, model, tag, gguf_path, template=None, system=None, params=None,
                  family=None, file_type=None):
        """Publish a model as ns/model:tag.  Returns a dict: manifest (dict),
        manifest_bytes, manifest_digest, manifest_path (the URL path),
        model_digest, model_size, config_digest, digests (every layer and the
        config, "sha256:<hex>"), name (host/ns/model:tag)."""
        meta = gguf_metadata(gguf_path)
        family = family or meta.get("general.architecture", "llama")
        if file_type is None:
            ft = meta.get("general.file_type")
            file_type = FILE_TYPES.get(ft, "unknown") if ft is not None else "unknown"
        layers = []

        def layer(media, sha):
            layers.append({"mediaType": media, "digest": "sha256:" + sha,
                           "size": self._blobs[sha].size})

        model_sha = self._put_blob(src=gguf_path)
        layer(MODEL_TYPE, model_sha)
        if template is not None:
            layer(TEMPLATE_TYPE, self._put_blob(template.encode()))
        if system is not None:
            layer(SYSTEM_TYPE, self._put_blob(system.encode()))
        if params is not None:
            layer(PARAMS_TYPE, self._put_blob(json.dumps(params).encode()))
        config = {"model_format": "gguf", "model_family": family, "model_families": [family],
                  "model_type": "", "file_type": file_type, "architecture": "amd64", "os": "linux",
                  "rootfs": {"type": "layers", "diff_ids": [x["digest"] for x in layers]}}
        config_sha = self._put_blob(json.dumps(config).encode())
        manifest = {"schemaVersion": 2, "mediaType": MANIFEST_TYPE,
                    "config": {"mediaType": CONFIG_TYPE, "digest": "sha256:" + config_sha,
                               "size": self._blobs[config_sha].size},
                    "layers": layers}
        raw = json.dumps(manifest, indent=3).encode()
        mdigest = "sha256:" + hashlib.sha256(raw).hexdigest()
        mpath = f"/v2/{ns}/{model}/manifests/{tag}"
        with self._lock:
            self._manifests[mpath] = (raw, mdigest)
        return {"manifest": manifest, "manifest_bytes": raw, "manifest_digest": mdigest,
                "manifest_path": mpath, "model_digest": "sha256:" + model_sha,
                "model_size": self._blobs[model_sha].size, "config_digest": "sha256:" + config_sha,
                "config": config,
                "digests": ["sha256:" + config_sha] + [x["digest"] for x in layers],
                "name": f"{self.host}/{ns}/{model}:{tag}"}

    def remove_model(self, ns, model, tag):
        with self._lock:
            self._manifests.pop(f"/v2/{ns}/{model}/manifests/{tag}", None)

    def add_file(self, url_path, file_path, sha256_header=True):
        """Serve file_path at url_path (e.g. /Owner/Repo/resolve/main/x.gguf),
        with X-Linked-Etag/X-Linked-Size (the sha256 of an LFS file, as
        Hugging Face sends them) unless sha256_header is False.  Returns the
        sha256 hex."""
        if not url_path.startswith("/"):
            url_path = "/" + url_path
        sha = sha256_path(file_path)
        size = os.path.getsize(file_path)
        if sha256_header:
            headers = {"X-Linked-Etag": f'"{sha}"', "X-Linked-Size": str(size), "ETag": f'"{sha}"'}
        else:
            # a plain file server: an ETag that is no digest
            headers = {"ETag": f'"{sha[:8]}-{size:x}"'}
        with self._lock:
            self._files[url_path] = _Resource(file_path, size, sha, "application/octet-stream",
                                              {url_path}, headers)
        return sha

    # -- faults -----------------------------------------------------------

    def fault(self, key, kind, times=1, after_bytes=None, delay=None, piece=8192):
        """Arm a fault for the next `times` requests (None: forever) whose path
        or blob digest is `key` ("sha256:<hex>", a bare hex digest, or a URL
        path).  Kinds: drop, stall, corrupt, slow (these act on GET answers
        with a body only), 404, 500 (any request, HEAD included).
        after_bytes: body bytes sent before a drop or stall (default: half of
        the answer's body; at most all but one byte).  delay: seconds between
        pieces of `piece` bytes for slow; a wait before the answer for other
        kinds."""
        if kind not in BODY_FAULTS + STATUS_FAULTS:
            raise ValueError(f"unknown fault kind {kind!r}")
        if re.fullmatch(r"[0-9a-f]{64}", key):
            key = "sha256:" + key
        f = _Fault(key, kind, times, after_bytes, delay, piece)
        if self._closing.is_set():
            f.released.set()
        with self._lock:
            self._faults.append(f)
            if kind == "stall":
                self._stalls.append(f)
        return f

    def clear_faults(self):
        with self._lock:
            self._faults.clear()

    def release(self):
        """Let every stalled answer (present and of faults armed so far) go
        on: the rest of its body is sent."""
        with self._lock:
            stalls = list(self._stalls)
        for f in stalls:
            f.released.set()

    def _take_fault(self, keys, body):
        with self._lock:
            for f in self._faults:
                if f.key not in keys:
                    continue
                if f.kind in BODY_FAULTS and not body:
                    continue
                if f.times is not None:
                    f.times -= 1
                    if f.times <= 0:
                        self._faults.remove(f)
                f.hits += 1
                return f
        return None

    # -- log --------------------------------------------------------------

    def _log(self, entry):
        with self._lock:
            self.requests.append(entry)
            return entry

    def _add_sent(self, entry, n):
        with self._lock:
            entry["bytes_sent"] += n

    def log(self, key=None, since=0):
        """A snapshot of the request log (copies), optionally only requests
        for one key (path or digest) and from index `since` on."""
        if key is not None and re.fullmatch(r"[0-9a-f]{64}", key):
            key = "sha256:" + key
        with self._lock:
            return [dict(r) for r in self.requests[since:] if key is None or key in r["keys"]]

    def bytes_served(self, key, since=0):
        """Body bytes sent for one blob or file (by digest or path), over all
        requests from index `since` on."""
        return sum(r["bytes_sent"] for r in self.log(key, since))

    def mark(self):
        """The current length of the request log (for `since`)."""
        with self._lock:
            return len(self.requests)

    def wait_for(self, cond, timeout=30, what="condition"):
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                raise TimeoutError(f"registry server: timed out waiting for {what}")
            time.sleep(0.01)

    def stalled(self, key):
        """Whether an answer for key is stalled right now."""
        with self._lock:
            return any(r.get("stalled") for r in self.requests if key in r["keys"])


class _Server(http.server.ThreadingHTTPServer):
    request_queue_size = 128   # many parallel range requests at once


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    registry = None  # set by the subclass made in RegistryServer.start
    server_version = "qm-test-registry/1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def do_GET(self):
        self._serve(body=True)

    def do_HEAD(self):
        self._serve(body=False)

    def _other(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        self._entry = self.registry._log({"method": self.command, "path": self.path,
                                          "range": self.headers.get("Range"), "status": 405,
                                          "bytes_sent": 0, "keys": {self.path}, "fault": None})
        self._simple(405, b'{"errors":[{"code":"UNSUPPORTED","message":"method not allowed"}]}')

    do_POST = do_PUT = do_DELETE = do_PATCH = _other

    # --

    def _simple(self, status, body=b"", headers=None, ctype="application/json", send_body=True):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if send_body and body:
            self.registry._add_sent(self._entry, len(body))
            self.wfile.write(body)

    def _serve(self, body):
        reg = self.registry
        path = self.path.split("?", 1)[0]
        keys = {path}
        res = None
        manifest = None
        redirect = None
        m = re.fullmatch(r"/v2/(.+)/blobs/sha256:([0-9a-f]{64})", path)
        with reg._lock:
            if path in reg._manifests:
                manifest = reg._manifests[path]
            elif m:
                res = reg._blobs.get(m.group(2))
                keys.add("sha256:" + m.group(2))
                if res is not None and reg.redirect_blobs:
                    redirect = f"/cdn/sha256:{res.sha}"
                    res = None
            elif path.startswith("/cdn/sha256:"):
                res = reg._blobs.get(path[len("/cdn/sha256:"):])
            elif path in reg._files:
                res = reg._files[path]
        if res is not None:
            keys |= res.keys
        rng = self.headers.get("Range")
        self._entry = reg._log({"method": self.command, "path": self.path, "range": rng,
                                "status": None, "bytes_sent": 0, "keys": keys, "fault": None,
                                "stalled": False, "time": time.monotonic()})
        # whether this answer would carry a body (a GET of a satisfiable resource)
        will_have_body = body and (manifest is not None or res is not None)
        f = reg._take_fault(keys, will_have_body)
        if f is not None:
            self._entry["fault"] = f.kind
            if f.delay and f.kind != "slow":
                self._sleep(f.delay)
            if f.kind == "404":
                self._entry["status"] = 404
                return self._simple(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}'
                                    if "/manifests/" in path else
                                    b'{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}',
                                    send_body=body)
            if f.kind == "500":
                self._entry["status"] = 500
                return self._simple(500, b'{"errors":[{"code":"UNKNOWN","message":"internal server error"}]}',
                                    send_body=body)
        if manifest is not None:
            raw, digest = manifest
            self._entry["status"] = 200
            return self._send_body(200, lambda off, n: raw[off:off + n], len(raw), 0, len(raw),
                                   {"Content-Type": MANIFEST_TYPE, "Docker-Content-Digest": digest,
                                    "ETag": f'"{digest}"'}, body, f)
        if redirect is not None:
            self._entry["status"] = 307
            return self._simple(307, b"", {"Location": reg.url + redirect}, send_body=body)
        if res is None:
            self._entry["status"] = 404
            if m or "/manifests/" in path:
                code = "BLOB_UNKNOWN" if m else "MANIFEST_UNKNOWN"
                return self._simple(404, json.dumps({"errors": [{"code": code, "message": "not found"}]}).encode(),
                                    send_body=body)
            return self._simple(404, b"Entry not found", ctype="text/plain", send_body=body)
        headers = {"Content-Type": res.content_type, "Accept-Ranges": "bytes", **res.headers}
        start, end = 0, res.size - 1
        status = 200
        if rng is not None:
            r = _parse_range(rng, res.size)
            if r == "unsatisfiable":
                self._entry["status"] = 416
                return self._simple(416, b"", {"Content-Range": f"bytes */{res.size}", **res.headers},
                                    send_body=body)
            if r is not None:
                start, end = r
                status = 206
                headers["Content-Range"] = f"bytes {start}-{end}/{res.size}"
        self._entry["status"] = status

        def read(off, n, _p=res.path):
            with open(_p, "rb") as fh:
                fh.seek(off)
                return fh.read(n)

        return self._send_body(status, read, res.size, start, end + 1, headers, body, f)

    def _sleep(self, seconds):
        self.registry._closing.wait(seconds)

    def _send_body(self, status, read, total, start, stop, headers, body, f):
        """Send bytes [start, stop) of a resource of `total` bytes, applying
        the body fault f (or None)."""
        reg = self.registry
        length = stop - start
        self.send_response(status)
        self.send_header("Content-Length", str(length))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if not body or length == 0:
            return
        kind = f.kind if f is not None and f.kind in BODY_FAULTS else None
        cut = None
        if kind in ("drop", "stall"):
            cut = f.after_bytes if f.after_bytes is not None else length // 2
            cut = max(0, min(cut, length - 1))
        piece = f.piece if kind == "slow" else 65536
        off = start
        try:
            while off < stop:
                n = min(piece, stop - off)
                if cut is not None and off - start < cut:
                    n = min(n, start + cut - off)
                elif cut is not None and off - start == cut:
                    if kind == "drop":
                        raise _Dropped()
                    # stall: hang until released or shut down, then go on
                    self._entry["stalled"] = True
                    f.released.wait()
                    self._entry["stalled"] = False
                    if reg._closing.is_set():
                        raise _Dropped()
                    cut = None
                    continue
                data = read(off, n)
                if kind == "corrupt":
                    data = _corrupt(data, off)
                # counted before the write, so that a client that has it all
                # never sees the log behind; taken back when the write fails
                reg._add_sent(self._entry, len(data))
                try:
                    self.wfile.write(data)
                except OSError:
                    reg._add_sent(self._entry, -len(data))
                    raise
                off += n
                if kind == "slow" and off < stop and f.delay:
                    self._sleep(f.delay)
                    if reg._closing.is_set():
                        raise _Dropped()
        except (_Dropped, ConnectionError, BrokenPipeError, OSError):
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _corrupt(data, off):
    """Flip the first byte of every piece and every byte at an offset that is
    100 mod 4096, so any range of the body comes out wrong."""
    b = bytearray(data)
    b[0] ^= 0xFF
    first = (100 - off) % 4096
    for i in range(first or 4096, len(b), 4096):
        b[i] ^= 0xFF
    return bytes(b)


def _parse_range(value, size):
    """(start, end) inclusive, None to ignore the header (malformed, several
    ranges), or "unsatisfiable"."""
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", value)
    if not m or (m.group(1) == "" and m.group(2) == ""):
        return None
    if m.group(1) == "":
        n = int(m.group(2))
        if n == 0:
            return "unsatisfiable"
        return max(0, size - n), size - 1
    start = int(m.group(1))
    end = int(m.group(2)) if m.group(2) else size - 1
    if m.group(2) and end < start:
        return None
    if start >= size:
        return "unsatisfiable"
    return start, min(end, size - 1)
