"""qm inspect against the reference writer and reader of the `gguf` package.

A file with every metadata value type (scalars at their extremes, arrays of
each scalar type, arrays of strings, nested arrays), a custom alignment and
tensors of several types is written with gguf.GGUFWriter; `qm inspect --json`
must report every key, type and value (floats bit-exact) and every tensor
(name, type, shape, offset, size) as written and as gguf.GGUFReader reads it.
Hostile files must make `qm inspect` exit 1 with a "gguf: ..." message.
"""

import json
import math
import os
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType, GGUFWriter

QM = os.environ.get("QM_BIN", "qm")
VT = GGUFValueType

# type names as qm prints them
VTYPE_NAME = {
    VT.UINT8: "u8", VT.INT8: "i8", VT.UINT16: "u16", VT.INT16: "i16",
    VT.UINT32: "u32", VT.INT32: "i32", VT.FLOAT32: "f32", VT.BOOL: "bool",
    VT.STRING: "string", VT.ARRAY: "array", VT.UINT64: "u64", VT.INT64: "i64",
    VT.FLOAT64: "f64",
}

ALIGN = 64
N_TOKENS = 1000      # GGUFReader is slow on big string arrays: keep this one small
VOCAB = 151936       # a real vocabulary's size, for qm alone (test_vocabulary)

# (key, type, value, element type of arrays); written in this order after
# general.architecture and general.alignment
SCALARS = [
    ("s.u8", VT.UINT8, 255),
    ("s.i8", VT.INT8, -128),
    ("s.u16", VT.UINT16, 65535),
    ("s.i16", VT.INT16, -32768),
    ("s.u32", VT.UINT32, 2**32 - 1),
    ("s.i32", VT.INT32, -(2**31)),
    ("s.f32", VT.FLOAT32, 0.1),
    ("s.f32_max", VT.FLOAT32, -3.4028234663852886e38),
    ("s.f32_denormal", VT.FLOAT32, 1.401298464324817e-45),
    ("s.f32_third", VT.FLOAT32, 1 / 3),
    ("s.bool_true", VT.BOOL, True),
    ("s.bool_false", VT.BOOL, False),
    ("s.str", VT.STRING, "hello"),
    ("s.str_unicode", VT.STRING, "h\u00e9llo w\u00f6rld \u2713 \U0001f680 \u4e2d\u6587"),
    ("s.str_escapes", VT.STRING, 'quote" back\\ nl\n tab\t cr\r ctl\x01\x1f del\x7f'),
    ("s.str_empty", VT.STRING, ""),
    ("s.u64", VT.UINT64, 2**64 - 1),
    ("s.i64", VT.INT64, -(2**63)),
    ("s.f64", VT.FLOAT64, 0.1),
    ("s.f64_tiny", VT.FLOAT64, 5e-324),
    ("s.f64_big", VT.FLOAT64, 1.7976931348623157e308),
]

ARRAYS = [
    ("a.u8", VT.UINT8, [0, 1, 255]),
    ("a.i8", VT.INT8, [-128, 0, 127]),
    ("a.u16", VT.UINT16, [0, 65535]),
    ("a.i16", VT.INT16, [-32768, 32767]),
    ("a.u32", VT.UINT32, [0, 2**32 - 1, 7]),
    ("a.i32", VT.INT32, [-(2**31), 2**31 - 1]),
    ("a.f32", VT.FLOAT32, [0.1, -2.5, 1e-38, 3.0e38]),
    ("a.bool", VT.BOOL, [True, False, True]),
    ("a.u64", VT.UINT64, [0, 2**64 - 1]),
    ("a.i64", VT.INT64, [-(2**63), 2**63 - 1]),
    ("a.f64", VT.FLOAT64, [0.1, -1e-300, 2.0**-1074]),
    ("a.str", VT.STRING, ["a", "", "b c", "\u00fc\u00f1\u00ee", 'q"\\\n']),
]

NESTED = [
    ("n.i32", [[1, 2], [3, 4, 5]]),
    ("n.str", [["a", "b"], ["c"]]),
    ("n.deep", [[[1.5]], [[2.5, 3.5]]]),
]


def nested_json(v):
    """How qm's JSON renders a nested array written from Python lists."""
    def elem_type(x):
        return {int: "i32", float: "f32", str: "string", list: "array"}[type(x[0])]
    return [{"elem_type": elem_type(x), "value": nested_json(x)} if isinstance(x, list) else x
            for x in v]


def write_file(path):
    w = GGUFWriter(str(path), "testarch")
    w.add_custom_alignment(ALIGN)
    for key, t, v in SCALARS:
        w.add_key_value(key, v, t)
    for key, t, v in ARRAYS:
        w.add_key_value(key, v, VT.ARRAY, sub_type=t)
    for key, v in NESTED:
        w.add_array(key, v)
    w.add_array("tokenizer.ggml.tokens", [f"tok{i}" for i in range(N_TOKENS)])

    rng = np.random.default_rng(1234)
    tensors = {
        "token_embd.weight": rng.standard_normal((10, 64)).astype(np.float32),
        "blk.0.attn_norm.weight": rng.standard_normal(96).astype(np.float16),
        "blk.0.attn_q.weight": rng.integers(0, 256, (3, 2 * 34), dtype=np.uint8),
        "blk.0.ffn_down.weight": rng.integers(0, 256, (2, 144), dtype=np.uint8),
        "blk.0.pos": np.arange(24, dtype=np.int32).reshape(2, 3, 4),
        "blk.0.odd": rng.standard_normal((1, 2, 3, 5)).astype(np.float32),
    }
    raw = {"blk.0.attn_q.weight": GGMLQuantizationType.Q8_0,
           "blk.0.ffn_down.weight": GGMLQuantizationType.Q4_K}
    for name, arr in tensors.items():
        w.add_tensor(name, arr, raw_dtype=raw.get(name))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return tensors


def inspect(*args):
    return subprocess.run([QM, "inspect", *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("gguf") / "all.gguf"
    tensors = write_file(path)
    r = inspect("--json", path)
    assert r.returncode == 0, r.stderr
    return path, tensors, json.loads(r.stdout)


@pytest.fixture(scope="module")
def reader(model):
    return GGUFReader(model[0])


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def same_float(a, b, t):
    """a from qm's JSON, b from GGUFReader, both of GGUF type t: bit-exact."""
    if math.isnan(b):
        return a == "nan"
    if math.isinf(b):
        return a == ("inf" if b > 0 else "-inf")
    return (f32(a) == f32(b)) if t == VT.FLOAT32 else (float(a) == b)


def test_header(model, reader):
    path, tensors, doc = model
    rd = reader
    assert doc["version"] == 3
    assert doc["alignment"] == ALIGN
    assert doc["data_offset"] == rd.data_offset
    assert doc["data_offset"] % ALIGN == 0
    assert doc["file_size"] == os.path.getsize(path)
    assert doc["tensor_count"] == len(tensors) == len(doc["tensors"])
    assert doc["kv_count"] == len(doc["metadata"])


def test_metadata_as_written(model):
    _, _, doc = model
    md = doc["metadata"]
    keys = [m["key"] for m in md]
    want_keys = (["general.architecture", "general.alignment"] + [k for k, _, _ in SCALARS]
                 + [k for k, _, _ in ARRAYS] + [k for k, _ in NESTED] + ["tokenizer.ggml.tokens"])
    assert keys == want_keys
    by = {m["key"]: m for m in md}
    assert by["general.architecture"] == {"key": "general.architecture", "type": "string",
                                          "value": "testarch"}
    assert by["general.alignment"]["type"] == "u32"
    assert by["general.alignment"]["value"] == ALIGN

    for key, t, v in SCALARS:
        m = by[key]
        assert m["type"] == VTYPE_NAME[t], key
        if t == VT.FLOAT32:
            # %.9g round-trips: parsing it back gives the stored f32 exactly
            assert f32(m["value"]) == f32(v), key
        elif t == VT.FLOAT64:
            assert m["value"] == v, key
        else:
            assert m["value"] == v and type(m["value"]) is type(v), key

    for key, t, v in ARRAYS:
        m = by[key]
        assert m["type"] == "array" and m["elem_type"] == VTYPE_NAME[t], key
        if t == VT.FLOAT32:
            assert [f32(x) for x in m["value"]] == [f32(x) for x in v], key
        else:
            assert m["value"] == v, key

    for key, v in NESTED:
        m = by[key]
        assert m["type"] == "array" and m["elem_type"] == "array", key
        want = nested_json(v)
        if key == "n.deep":
            assert m["value"] == want  # 1.5, 2.5, 3.5 are exact in f32
        else:
            assert m["value"] == want, key

    toks = by["tokenizer.ggml.tokens"]
    assert toks["elem_type"] == "string"
    assert toks["value"] == [f"tok{i}" for i in range(N_TOKENS)]


def test_metadata_as_gguf_reader_reads_it(model, reader):
    _, _, doc = model
    rd = reader
    fields = [f for name, f in rd.fields.items() if not name.startswith("GGUF.")]
    assert [f.name for f in fields] == [m["key"] for m in doc["metadata"]]
    for f, m in zip(fields, doc["metadata"]):
        assert VTYPE_NAME[f.types[0]] == m["type"], f.name
        if f.types[0] == VT.ARRAY:
            if f.types[1] == VT.ARRAY:
                continue  # GGUFReader flattens nested arrays; checked above
            assert VTYPE_NAME[f.types[-1]] == m["elem_type"], f.name
            got = f.contents()
            if f.types[-1] in (VT.FLOAT32, VT.FLOAT64):
                assert all(same_float(a, b, f.types[-1]) for a, b in zip(m["value"], got)), f.name
                assert len(got) == len(m["value"])
            else:
                assert m["value"] == got, f.name
        elif f.types[0] in (VT.FLOAT32, VT.FLOAT64):
            assert same_float(m["value"], f.contents(), f.types[0]), f.name
        else:
            assert m["value"] == f.contents(), f.name


def test_tensors(model, reader):
    path, tensors, doc = model
    rd = reader
    assert [t["name"] for t in doc["tensors"]] == [t.name for t in rd.tensors] == list(tensors)
    total = 0
    for t, r in zip(doc["tensors"], rd.tensors):
        assert t["type"] == r.tensor_type.name, t["name"]
        assert t["type_id"] == int(r.tensor_type)
        assert t["shape"] == [int(x) for x in r.shape], t["name"]
        assert t["nbytes"] == r.n_bytes, t["name"]
        assert t["file_offset"] == r.data_offset
        assert t["offset"] == r.data_offset - rd.data_offset
        assert t["offset"] % ALIGN == 0
        total += t["nbytes"]
    assert doc["total_tensor_bytes"] == total

    by = {t["name"]: t for t in doc["tensors"]}
    assert by["token_embd.weight"]["shape"] == [64, 10]
    assert by["token_embd.weight"]["nbytes"] == 64 * 10 * 4
    assert by["blk.0.attn_norm.weight"]["type"] == "F16"
    assert by["blk.0.attn_q.weight"]["type"] == "Q8_0"
    assert by["blk.0.attn_q.weight"]["shape"] == [64, 3]
    assert by["blk.0.attn_q.weight"]["nbytes"] == 3 * 2 * 34
    assert by["blk.0.ffn_down.weight"]["type"] == "Q4_K"
    assert by["blk.0.ffn_down.weight"]["shape"] == [256, 2]
    assert by["blk.0.pos"]["type"] == "I32"       # a type qm does not compute: shown anyway
    assert by["blk.0.pos"]["shape"] == [4, 3, 2]
    assert by["blk.0.odd"]["shape"] == [5, 3, 2, 1]

    # the bytes at file_offset are the tensor's
    raw = path.read_bytes()
    for name, arr in tensors.items():
        t = by[name]
        assert raw[t["file_offset"]:t["file_offset"] + t["nbytes"]] == arr.tobytes(), name


def test_text_output(model):
    path, tensors, doc = model
    r = inspect(path)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    first = out.splitlines()[0]
    assert first == (f"GGUF v3: {len(tensors)} tensors, {doc['kv_count']} metadata keys, "
                     f"alignment {ALIGN}, data at byte {doc['data_offset']}, "
                     f"file {doc['file_size']} bytes")
    assert f'[{N_TOKENS} strings: "tok0", "tok1", "tok2", ... ]' in out
    assert "[3 u8: 0, 1, 255]" in out
    assert "[2 arrays: [2 i32: 1, 2], [3 i32: 3, 4, 5]]" in out
    assert '"quote\\" back\\\\ nl\\n tab\\t cr\\r ctl\\x01\\x1f del\\x7f"' in out
    assert "s.f32_third" in out and "0.333333343" in out
    for name in tensors:
        assert name in out
    assert f"Total tensor bytes: {doc['total_tensor_bytes']} " in out


def test_vocabulary(tmp_path):
    """A vocabulary of real size comes out whole, in order, with its scores."""
    path = tmp_path / "vocab.gguf"
    tokens = [f"\u0120tok{i}" for i in range(VOCAB)]
    scores = [float(-i) / 7 for i in range(VOCAB)]
    w = GGUFWriter(str(path), "x")
    w.add_array("tokenizer.ggml.tokens", tokens)
    w.add_key_value("tokenizer.ggml.scores", scores, VT.ARRAY, sub_type=VT.FLOAT32)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    r = inspect("--json", path)
    assert r.returncode == 0, r.stderr
    md = {m["key"]: m["value"] for m in json.loads(r.stdout)["metadata"]}
    assert md["tokenizer.ggml.tokens"] == tokens
    assert [f32(x) for x in md["tokenizer.ggml.scores"]] == [f32(x) for x in scores]
    r = inspect(path)
    assert f'[{VOCAB} strings: "\u0120tok0", "\u0120tok1", "\u0120tok2", ... ]' in r.stdout


def test_special_floats_and_bad_utf8(tmp_path):
    path = tmp_path / "f.gguf"
    w = GGUFWriter(str(path), "x")
    w.add_key_value("nan", float("nan"), VT.FLOAT32)
    w.add_key_value("inf", float("inf"), VT.FLOAT64)
    w.add_key_value("ninf", float("-inf"), VT.FLOAT32)
    w.add_key_value("bad", b"ok\xff\xc3(\xed\xa0\x80end", VT.STRING)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    r = inspect("--json", path)
    assert r.returncode == 0, r.stderr
    r.stdout.encode("utf-8")  # valid UTF-8 text
    md = {m["key"]: m["value"] for m in json.loads(r.stdout)["metadata"]}
    assert md["nan"] == "nan" and md["inf"] == "inf" and md["ninf"] == "-inf"
    assert md["bad"] == "ok\ufffd\ufffd(\ufffd\ufffd\ufffdend"
    assert json.loads(r.stdout)["tensors"] == []


# ---- hostile files ----------------------------------------------------------

def header(version=3, n_tensors=0, n_kv=0):
    return b"GGUF" + struct.pack("<IQQ", version, n_tensors, n_kv)


def gstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def tinfo(name, dims, type_id, offset):
    return gstr(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims) \
        + struct.pack("<IQ", type_id, offset)


def pad(b, a=32):
    return b + b"\0" * (-len(b) % a)


HOSTILE = {
    "magic": (b"GGML" + header()[4:], "bad magic"),
    "big_endian": (b"GGUF" + struct.pack(">IQQ", 3, 0, 0), "big-endian"),
    "version4": (header(4), "version 4 at byte 4"),
    "huge_kv_count": (header(3, 0, 10**9) + b"\0" * 32, "KV count 1000000000 at byte 16"),
    "string_past_end": (header(3, 0, 1) + struct.pack("<Q", 2**64 - 1) + b"x" * 40,
                        "string length 18446744073709551615 at byte 24 exceeds the 40 bytes left"),
    "duplicate_key": (header(3, 0, 2) + gstr("k") + struct.pack("<IB", 0, 1)
                      + gstr("k") + struct.pack("<IB", 0, 2), "duplicate key 'k'"),
    "alignment_zero": (header(3, 0, 1) + gstr("general.alignment") + struct.pack("<II", 4, 0),
                       "general.alignment at byte 53 is zero"),
    "past_end": (pad(header(3, 1, 0) + tinfo("w", [64], 0, 0)) + b"\0" * 100,
                 "tensor 'w' data [offset 0 + data start 64 = byte 64, 256 bytes] lies past "
                 "the end of the file (size 164)"),
    "retired_type": (pad(header(3, 1, 0) + tinfo("w", [64], 5, 0)) + b"\0" * 256,
                     "tensor 'w' has type id 5 at byte 45, which is a retired GGUF type id"),
    "misaligned": (pad(header(3, 1, 0) + tinfo("w", [64], 0, 8)) + b"\0" * 264,
                   "not a multiple of the alignment 32"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_file(tmp_path, case):
    data, want = HOSTILE[case]
    path = tmp_path / f"{case}.gguf"
    path.write_bytes(data)
    r = inspect("--json", path)
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr.startswith("gguf: ")
    assert want in r.stderr


def test_truncated_model(model, tmp_path):
    path, _, doc = model
    raw = path.read_bytes()
    # the writer pads after the last tensor too: cut into the tensor itself
    end = max(t["file_offset"] + t["nbytes"] for t in doc["tensors"])
    for n in (0, 3, 20, 100, 1000, len(raw) // 2, doc["data_offset"], end - 1):
        p = tmp_path / "cut.gguf"
        p.write_bytes(raw[:n])
        r = inspect(p)
        assert r.returncode == 1, n
        assert r.stderr.startswith("gguf: "), n
        assert ("unexpected end of file" in r.stderr or "past the end" in r.stderr
                or "exceeds the" in r.stderr or "impossible" in r.stderr), r.stderr


def test_unsupported_type_is_shown(tmp_path):
    # IQ2_XXS: qm cannot compute with it, but inspect shows it
    path = tmp_path / "iq.gguf"
    path.write_bytes(pad(header(3, 1, 0) + tinfo("blk.0.ffn_down.weight", [256, 2], 16, 0))
                     + b"\0" * 132)
    r = inspect("--json", path)
    assert r.returncode == 0, r.stderr
    t = json.loads(r.stdout)["tensors"][0]
    assert t["type"] == "IQ2_XXS" and t["nbytes"] == 132 and t["shape"] == [256, 2]


def test_usage_errors(tmp_path):
    assert inspect().returncode == 2
    assert inspect("--bogus", "x").returncode == 2
    r = inspect(tmp_path / "missing.gguf")
    assert r.returncode == 1
    assert r.stderr.startswith("gguf: cannot open")


SEEDS = sorted((Path(__file__).resolve().parent.parent / "fuzz" / "gguf").glob("*.gguf"))


@pytest.mark.parametrize("seed", SEEDS, ids=[p.name for p in SEEDS])
def test_fuzz_seeds_are_valid(seed):
    """The fuzzer's seed corpus must stay valid, and read as GGUFReader reads it."""
    r = inspect("--json", seed)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    rd = GGUFReader(seed)
    assert doc["tensor_count"] == len(rd.tensors)
    assert doc["data_offset"] == rd.data_offset
    assert [t["name"] for t in doc["tensors"]] == [t.name for t in rd.tensors]
