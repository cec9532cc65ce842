"""make_test_model and `qm quantize` against the `gguf` package.

(a) make_test_model writes a tiny model of each architecture in F32; the
    gguf package's reader must find exactly the tensors (names, shapes,
    types) and hyper-parameter keys the architecture needs, with weights
    drawn as documented (N(0, 0.02) matrices, norms near 1, small biases);
    `qm inspect` accepts the file and `make_test_model --check` loads it
    into the engine, tokenizes, and runs a forward pass with finite logits.
(b) `qm quantize` turns those F32 models into Q4_K_M, Q2_K, Q8_0, Q4_0 and
    Q6_K files.  The expected type of every tensor is written out here from
    the rules of llama.cpp's quantizer (engine-reference.md 2.5), including
    which layers are "more_bits" layers and the fallbacks for rows that do
    not divide into 256-element blocks; dequantized by gguf.quants, every
    weight must be close to the F32 original (relative RMSE bound per type).
(c) Inputs that are already quantized are refused with a clear message and
    no output file.
"""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from gguf import GGMLQuantizationType as QT
from gguf import GGUFReader
from gguf.quants import dequantize

QM = os.environ.get("QM_BIN", "qm")
TOOLS = Path(os.environ.get("QM_TOOLS_DIR", "."))
MAKE = str(TOOLS / "make_test_model")
REAL_QWEN = Path(os.environ.get("QM_TEST_CACHE", Path.home() / ".cache/qm-test")) / \
    "models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"

# The tiny presets, restated independently of the tool's table.
PRESETS = {
    "tiny-llama": dict(arch="llama", E=256, L=4, H=4, KV=2, F=512, hd=64, V=512, tied=False),
    "tiny-qwen2": dict(arch="qwen2", E=256, L=4, H=4, KV=1, F=768, hd=64, V=512, tied=False),
    "tiny-qwen3": dict(arch="qwen3", E=256, L=8, H=4, KV=2, F=512, hd=128, V=512, tied=True),
    "tiny-gemma": dict(arch="gemma", E=256, L=4, H=4, KV=1, F=512, hd=64, V=512, tied=True),
    "tiny-gemma2": dict(arch="gemma2", E=256, L=4, H=4, KV=2, F=512, hd=64, V=512, tied=True, swa=64),
    "tiny-gemma3": dict(arch="gemma3", E=128, L=6, H=4, KV=1, F=384, hd=64, V=512, tied=True, swa=32),
}
QKV_BIAS = {"qwen2"}
QK_NORM = {"qwen3", "gemma3"}
POST_NORMS = {"gemma2", "gemma3"}


def run(*args, check=True):
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"{args} exited {p.returncode}: {p.stderr}")
    return p


def expected_tensors(c):
    """name -> shape (ne order) of every tensor the architecture has."""
    E, Q, KV, F, V, hd = c["E"], c["H"] * c["hd"], c["KV"] * c["hd"], c["F"], c["V"], c["hd"]
    t = {"token_embd.weight": [E, V], "output_norm.weight": [E]}
    if not c["tied"]:
        t["output.weight"] = [E, V]
    for i in range(c["L"]):
        b = f"blk.{i}."
        t.update({b + "attn_norm.weight": [E], b + "attn_q.weight": [E, Q], b + "attn_k.weight": [E, KV],
                  b + "attn_v.weight": [E, KV], b + "attn_output.weight": [Q, E], b + "ffn_norm.weight": [E],
                  b + "ffn_gate.weight": [E, F], b + "ffn_up.weight": [E, F], b + "ffn_down.weight": [F, E]})
        if c["arch"] in QKV_BIAS:
            t.update({b + "attn_q.bias": [Q], b + "attn_k.bias": [KV], b + "attn_v.bias": [KV]})
        if c["arch"] in QK_NORM:
            t.update({b + "attn_q_norm.weight": [hd], b + "attn_k_norm.weight": [hd]})
        if c["arch"] in POST_NORMS:
            t.update({b + "post_attention_norm.weight": [E], b + "post_ffw_norm.weight": [E]})
    return t


def field(r, key):
    f = r.fields[key]
    if f.types[0].name == "STRING":
        return bytes(f.parts[f.data[0]]).decode()
    if f.types[0].name == "ARRAY":
        return f.data
    return f.parts[f.data[0]][0]


def weights(path):
    """name -> (type, float32 array of shape [rows, ne0])"""
    r = GGUFReader(path)
    out = {}
    for t in r.tensors:
        if t.tensor_type == QT.F32:
            a = np.array(t.data, dtype=np.float32).reshape(-1, int(t.shape[0]))
        else:
            a = dequantize(t.data, t.tensor_type).reshape(-1, int(t.shape[0]))
        out[t.name] = (t.tensor_type, a)
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Each tiny preset in F32 (seed 7)."""
    d = tmp_path_factory.mktemp("models")
    paths = {}
    for name in PRESETS:
        p = d / f"{name}-f32.gguf"
        run(MAKE, "--preset", name, "--type", "f32", "--seed", "7", "--out", p)
        paths[name] = p
    return paths


# ---- (a) the F32 models ---------------------------------------------------

@pytest.mark.parametrize("preset", list(PRESETS))
def test_f32_model_layout(models, preset):
    c = PRESETS[preset]
    a = c["arch"]
    r = GGUFReader(models[preset])
    assert field(r, "general.architecture") == a
    assert field(r, "general.file_type") == 0
    assert field(r, f"{a}.embedding_length") == c["E"]
    assert field(r, f"{a}.block_count") == c["L"]
    assert field(r, f"{a}.feed_forward_length") == c["F"]
    assert field(r, f"{a}.attention.head_count") == c["H"]
    assert field(r, f"{a}.attention.head_count_kv") == c["KV"]
    assert field(r, f"{a}.context_length") > 0
    assert 0 < field(r, f"{a}.attention.layer_norm_rms_epsilon") < 1e-4
    assert field(r, f"{a}.rope.freq_base") >= 10000
    if a in ("qwen3", "gemma", "gemma2", "gemma3"):
        assert field(r, f"{a}.attention.key_length") == c["hd"]
        assert field(r, f"{a}.attention.value_length") == c["hd"]
    if a == "gemma2":
        assert field(r, "gemma2.attention.sliding_window") == c["swa"]
        assert field(r, "gemma2.attn_logit_softcapping") == 50.0
        assert field(r, "gemma2.final_logit_softcapping") == 30.0
    if a == "gemma3":
        assert field(r, "gemma3.attention.sliding_window") == c["swa"]
    # the GGUF types llama.cpp's loader insists on
    assert r.fields[f"{a}.block_count"].types[0].name == "UINT32"
    assert r.fields[f"{a}.attention.layer_norm_rms_epsilon"].types[0].name == "FLOAT32"

    # a complete tokenizer of n_vocab tokens
    model = field(r, "tokenizer.ggml.model")
    assert model == ("gpt2" if a in ("qwen2", "qwen3") else "llama")
    n_tok = len(r.fields["tokenizer.ggml.tokens"].data)
    assert n_tok == c["V"]
    assert len(r.fields["tokenizer.ggml.token_type"].data) == n_tok
    if model == "gpt2":
        assert len(r.fields["tokenizer.ggml.merges"].data) > 0
    else:
        assert len(r.fields["tokenizer.ggml.scores"].data) == n_tok

    want = expected_tensors(c)
    got = {t.name: [int(x) for x in t.shape] for t in r.tensors}
    assert got == want
    assert all(t.tensor_type == QT.F32 for t in r.tensors)

    w = weights(models[preset])
    for name, (_, x) in w.items():
        if name.endswith("_norm.weight"):
            assert abs(x.mean() - 1.0) < 0.01 and 0.01 < x.std() < 0.03, name
        elif name.endswith(".bias"):
            assert abs(x.mean()) < 0.005 and 0.005 < x.std() < 0.015, name
        else:
            assert abs(x.mean()) < 0.002 and abs(x.std() - 0.02) < 0.001, name
            assert np.abs(x).max() < 0.02 * 3.5, name     # Irwin-Hall: bounded tails


@pytest.mark.parametrize("preset", list(PRESETS))
def test_f32_model_loads(models, preset):
    c = PRESETS[preset]
    p = run(QM, "inspect", "--json", models[preset])
    j = json.loads(p.stdout)
    assert j["tensor_count"] == len(expected_tensors(c))
    p = run(MAKE, "--check", models[preset], "--threads", "2")
    facts = dict(kv.split("=", 1) for kv in p.stdout.split()[1:])
    assert p.stdout.startswith("ok ")
    assert facts["arch"] == c["arch"]
    assert int(facts["n_layer"]) == c["L"] and int(facts["n_embd"]) == c["E"]
    assert int(facts["head_dim"]) == c["hd"] and int(facts["n_vocab"]) == c["V"]
    assert int(facts["n_swa"]) == c.get("swa", 0)
    assert int(facts["n_tokens"]) > 3
    # llama's SentencePiece vocabulary adds a space prefix, which decodes back
    assert facts["roundtrip"] == ("no" if c["arch"] == "llama" else "yes")
    # activations stayed sane: logits finite (checked by the tool), neither
    # collapsed nor exploded
    assert 0.01 < float(facts["logits_std"]) < 10


def test_seed_determinism(tmp_path, models):
    a, b = tmp_path / "a.gguf", tmp_path / "b.gguf"
    run(MAKE, "--preset", "tiny-qwen2", "--type", "f32", "--seed", "7", "--threads", "1", "--out", a)
    assert a.read_bytes() == Path(models["tiny-qwen2"]).read_bytes()    # made with all threads
    run(MAKE, "--preset", "tiny-qwen2", "--type", "f32", "--seed", "8", "--out", b)
    wa, wb = weights(a), weights(b)
    assert not np.array_equal(wa["blk.0.attn_q.weight"][1], wb["blk.0.attn_q.weight"][1])
    # rows of one tensor are not copies of each other
    x = wa["blk.0.ffn_up.weight"][1]
    assert not np.array_equal(x[0], x[1])


def test_bad_options(tmp_path):
    p = run(MAKE, "--arch", "mamba", "--out", tmp_path / "x.gguf", check=False)
    assert p.returncode == 1 and "unknown architecture 'mamba'" in p.stderr
    p = run(MAKE, "--preset", "tiny-qwen2", "--type", "q9_k", "--out", tmp_path / "x.gguf", check=False)
    assert p.returncode == 1 and "unknown file type 'q9_k'" in p.stderr
    p = run(MAKE, "--preset", "nope", "--out", tmp_path / "x.gguf", check=False)
    assert p.returncode == 2 and "unknown preset" in p.stderr
    p = run(MAKE, "--arch", "llama", "--n-head", "3", "--n-head-kv", "2", "--out", tmp_path / "x.gguf",
            check=False)
    assert p.returncode == 1 and "multiple of n_head_kv" in p.stderr
    assert not (tmp_path / "x.gguf").exists()


@pytest.mark.skipif(not REAL_QWEN.exists(), reason="real Qwen2.5 GGUF not fetched (scripts/fetch-test-models.sh)")
def test_vocab_from_real_file(tmp_path):
    """The tokenizer of a real file, padded to a larger vocabulary."""
    out = tmp_path / "v.gguf"
    run(MAKE, "--preset", "tiny-qwen2", "--n-layer", "1", "--type", "q8_0", "--vocab-from", REAL_QWEN,
        "--n-vocab", "152064", "--out", out)
    meta = {m["key"]: m for m in json.loads(run(QM, "inspect", "--json", out).stdout)["metadata"]}
    real = {m["key"]: m for m in json.loads(run(QM, "inspect", "--json", REAL_QWEN).stdout)["metadata"]}
    toks = meta["tokenizer.ggml.tokens"]["value"]
    assert len(toks) == 152064
    assert toks[:151936] == real["tokenizer.ggml.tokens"]["value"]
    assert toks[151936] == "[PAD151936]" and toks[-1] == "[PAD152063]"
    assert meta["tokenizer.ggml.token_type"]["value"][-1] == 5
    for k in real:
        if k.startswith("tokenizer.") and k not in ("tokenizer.ggml.tokens", "tokenizer.ggml.token_type"):
            assert meta[k] == real[k], k
    p = run(MAKE, "--check", out, "--prompt", "def main():\n    print('hi')")
    assert "n_vocab=152064" in p.stdout and "roundtrip=yes" in p.stdout
    # a vocabulary smaller than the file's is refused
    p = run(MAKE, "--preset", "tiny-qwen2", "--vocab-from", REAL_QWEN, "--n-vocab", "1000",
            "--out", tmp_path / "w.gguf", check=False)
    assert p.returncode == 1 and "smaller than the 151936 tokens" in p.stderr


# ---- (b) quantization and the type mixes ----------------------------------

FTYPES = {  # name: (general.file_type, base type)
    "q4_k_m": (15, QT.Q4_K),
    "q2_k": (10, QT.Q2_K),
    "q8_0": (7, QT.Q8_0),
    "q4_0": (2, QT.Q4_0),
    "q6_k": (18, QT.Q6_K),
}
BLOCK = {QT.F32: 1, QT.F16: 1, QT.Q4_0: 32, QT.Q4_1: 32, QT.Q5_0: 32, QT.Q5_1: 32, QT.Q8_0: 32,
         QT.IQ4_NL: 32, QT.Q2_K: 256, QT.Q3_K: 256, QT.Q4_K: 256, QT.Q5_K: 256, QT.Q6_K: 256}

# Layers of an n-layer model that get more bits in Q4_K_M / Q5_K_M, spelled
# out: i < n/8, i >= 7n/8, or (i - n/8) % 3 == 2 (integer division).
MORE_BITS = {
    4: {2, 3},        # n/8 = 0: layer 2 by the modulo rule, 3 = 7*4//8 onwards
    6: {2, 5},        # 7*6//8 = 5
    8: {0, 3, 6, 7},  # n/8 = 1: layer 0; (3-1) % 3 == 2 and (6-1) % 3 == 2; 7 onwards
    42: set(range(0, 5)) | set(range(7, 35, 3)) | set(range(36, 42)),  # engine-reference 9.2
}


def test_more_bits_table():
    for n, layers in MORE_BITS.items():
        assert layers == {i for i in range(n) if i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2}
    assert len(MORE_BITS[42]) == 21


def fallback(t, ne0):
    """llama.cpp's replacement when ne0 is not a multiple of t's block."""
    if ne0 % BLOCK[t] == 0:
        return t
    t = {QT.Q2_K: QT.IQ4_NL, QT.Q3_K: QT.IQ4_NL, QT.Q4_K: QT.Q5_0, QT.Q5_K: QT.Q5_1,
         QT.Q6_K: QT.Q8_0}.get(t, QT.F16)
    return t if ne0 % BLOCK[t] == 0 else QT.F16


def expected_type(ft, name, ne0, n_dims, c):
    if not name.endswith("weight") or n_dims < 2 or name.endswith("_norm.weight"):
        return QT.F32
    base = FTYPES[ft][1]
    layer = int(name.split(".")[1]) if name.startswith("blk.") else -1
    n_gqa = c["H"] // c["KV"]
    t = base
    if name == "output.weight" or (c["tied"] and name == "token_embd.weight"):
        if ne0 % BLOCK[base]:
            t = QT.Q8_0
        elif base != QT.Q8_0:
            t = QT.Q6_K
    elif name.endswith("attn_v.weight"):
        if ft == "q2_k":
            t = QT.Q4_K if n_gqa >= 4 else QT.Q3_K
        elif ft == "q4_k_m" and layer in MORE_BITS[c["L"]]:
            t = QT.Q6_K
    elif name.endswith("ffn_down.weight"):
        if ft == "q2_k":
            t = QT.Q3_K
        elif ft == "q4_k_m" and layer in MORE_BITS[c["L"]]:
            t = QT.Q6_K
    elif name.endswith("attn_output.weight"):
        if ft == "q2_k":
            t = QT.Q3_K
    return fallback(t, ne0)


# bounds on the relative RMSE of Gaussian weights after a round trip, per
# type (the worst tensors of these models measure about 3/4 of them)
RMSE = {QT.F32: 0.0, QT.F16: 1e-3, QT.Q8_0: 0.008, QT.Q6_K: 0.025, QT.Q5_0: 0.055, QT.Q5_1: 0.05,
        QT.Q5_K: 0.045, QT.Q4_0: 0.11, QT.Q4_1: 0.10, QT.Q4_K: 0.09, QT.IQ4_NL: 0.095, QT.IQ4_XS: 0.095,
        QT.Q3_K: 0.19, QT.Q2_K: 0.35}


@pytest.mark.parametrize("preset", ["tiny-qwen2", "tiny-qwen3", "tiny-gemma3"])
@pytest.mark.parametrize("ft", list(FTYPES))
def test_quantize_mix(tmp_path, models, preset, ft):
    c = PRESETS[preset]
    out = tmp_path / f"{preset}-{ft}.gguf"
    p = run(QM, "quantize", models[preset], out, ft.upper() if ft == "q6_k" else ft, "--threads", "2")
    lines = p.stdout.splitlines()
    n = len(expected_tensors(c))
    assert sum(1 for x in lines if x.startswith("[") and f"/{n}] " in x) == n   # one progress line per tensor
    assert "bpw" in lines[-1] and out.name in lines[-1]
    r = GGUFReader(out)
    assert field(r, "general.file_type") == FTYPES[ft][0]
    assert field(r, "general.quantization_version") == 2
    src = GGUFReader(models[preset])
    # metadata other than the file type is carried over
    for k in src.fields:
        if k not in ("general.file_type", "general.quantization_version") and not k.startswith("GGUF."):
            assert k in r.fields, k
    assert len(r.fields["tokenizer.ggml.tokens"].data) == c["V"]

    orig, got = weights(models[preset]), weights(out)
    seen = set()
    for t in r.tensors:
        want = expected_type(ft, t.name, int(t.shape[0]), len(t.shape), c)
        assert t.tensor_type == want, f"{t.name}: {t.tensor_type.name}, expected {want.name}"
        assert [int(x) for x in t.shape] == expected_tensors(c)[t.name]
        seen.add(t.tensor_type)
        x, y = orig[t.name][1], got[t.name][1]
        assert y.shape == x.shape
        rel = float(np.sqrt(np.mean((y - x) ** 2)) / np.sqrt(np.mean(x ** 2)))
        assert rel <= RMSE[want], f"{t.name} ({want.name}): relative RMSE {rel:.4f} > {RMSE[want]}"
        if want == QT.F32:
            assert np.array_equal(x, y), t.name
    # what the mixes are about actually happened in these models
    if ft == "q4_k_m" and preset != "tiny-gemma3":
        assert QT.Q6_K in seen and QT.Q4_K in seen
    if preset == "tiny-gemma3" and ft in ("q4_k_m", "q2_k"):
        # n_embd 128 and n_ff 384 are no multiples of 256
        assert (QT.Q5_0 if ft == "q4_k_m" else QT.IQ4_NL) in seen
    run(MAKE, "--check", out)


def test_more_bits_layers_in_file(tmp_path, models):
    """Spelled out for the 4- and 8-layer models: which attn_v / ffn_down are Q6_K."""
    for preset, layers in (("tiny-qwen2", [2, 3]), ("tiny-qwen3", [0, 3, 6, 7])):
        out = tmp_path / f"{preset}.gguf"
        run(QM, "quantize", models[preset], out, "Q4_K_M")
        types = {t.name: t.tensor_type for t in GGUFReader(out).tensors}
        q6 = sorted(int(n.split(".")[1]) for n, ty in types.items() if n.endswith("attn_v.weight") and ty == QT.Q6_K)
        assert q6 == layers
        q6 = sorted(int(n.split(".")[1]) for n, ty in types.items() if n.endswith("ffn_down.weight") and ty == QT.Q6_K)
        assert q6 == layers
    # tiny-qwen2 has 4 query heads per key/value head: Q2_K gives attn_v Q4_K
    out = tmp_path / "q2.gguf"
    run(QM, "quantize", models["tiny-qwen2"], out, "q2_k")
    types = {t.name: t.tensor_type for t in GGUFReader(out).tensors}
    assert types["blk.0.attn_v.weight"] == QT.Q4_K and types["output.weight"] == QT.Q6_K
    assert types["token_embd.weight"] == QT.Q2_K and types["blk.0.ffn_down.weight"] == QT.Q3_K


@pytest.mark.parametrize("ft,base", [("iq4_nl", QT.IQ4_NL), ("iq4_xs", QT.IQ4_XS)])
def test_quantize_iq4(tmp_path, models, ft, base):
    """IQ4 types (no quantizer in the type table: quantize_model.c has its own),
    read back by the gguf package's independent dequantizer."""
    out = tmp_path / f"{ft}.gguf"
    run(QM, "quantize", models["tiny-qwen2"], out, ft)
    orig, got = weights(models["tiny-qwen2"]), weights(out)
    for name, (ty, y) in got.items():
        if name.endswith(("norm.weight", ".bias")):
            want = QT.F32
        elif name == "output.weight":
            want = QT.Q6_K
        elif name.endswith("attn_v.weight"):
            want = QT.Q5_K   # n_gqa = 4
        else:
            want = base      # ffn_down: no layer below 4 // 8 = 0
        assert ty == want, name
        x = orig[name][1]
        rel = float(np.sqrt(np.mean((y - x) ** 2)) / np.sqrt(np.mean(x ** 2)))
        assert rel <= RMSE[want], f"{name}: {rel:.4f}"
    run(MAKE, "--check", out)


# engine-reference.md 9.1 and 9.2: tensor bytes of the real models' mixes
REFERENCE = {
    ("qwen1.5-14b", "q8_0"): 15_055_769_600,
    ("qwen1.5-14b", "q4_k_m"): 9_185_075_200,
    ("qwen1.5-14b", "q2_k"): 5_906_022_400,
    ("gemma2-9b", "q8_0"): 9_821_091_840,
    ("gemma2-9b", "q4_k_m"): 5_755_000_832,
    ("gemma2-9b", "q2_k"): 3_799_341_056,
}
PARAMS = {"qwen1.5-14b": 14_167_290_880, "gemma2-9b": 9_241_705_984}


@pytest.mark.parametrize("preset,ft", list(REFERENCE))
def test_reference_figures(preset, ft):
    """The mix rules give the documented sizes of the big models (--plan
    computes the types and sizes without making the weights)."""
    lines = run(MAKE, "--preset", preset, "--type", ft, "--plan").stdout.split("\n")
    total = lines[-2].split()
    assert total[0] == "total" and int(total[1]) == REFERENCE[(preset, ft)] and int(total[2]) == PARAMS[preset]
    types = {x.split()[0]: x.split()[1] for x in lines[:-2]}
    if (preset, ft) == ("qwen1.5-14b", "q4_k_m"):
        n = 40
        more = {i for i in range(n) if i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2}
        assert len(more) == 20
        for i in range(n):
            # n_ff 13696 is no multiple of 256: Q6_K -> Q8_0, Q4_K -> Q5_0
            assert types[f"blk.{i}.ffn_down.weight"] == ("Q8_0" if i in more else "Q5_0")
            assert types[f"blk.{i}.attn_v.weight"] == ("Q6_K" if i in more else "Q4_K")
        assert types["output.weight"] == "Q6_K" and types["token_embd.weight"] == "Q4_K"
    if (preset, ft) == ("qwen1.5-14b", "q2_k"):
        assert types["blk.0.ffn_down.weight"] == "IQ4_NL" and types["blk.0.attn_v.weight"] == "Q3_K"
    if (preset, ft) == ("gemma2-9b", "q4_k_m"):
        assert types["token_embd.weight"] == "Q6_K" and "output.weight" not in types
        assert sum(types[f"blk.{i}.attn_v.weight"] == "Q6_K" for i in range(42)) == 21


def test_quantize_matches_direct_generation(tmp_path, models):
    """make_test_model --type q4_k_m quantizes the same rows the same way."""
    direct = tmp_path / "direct.gguf"
    via = tmp_path / "via.gguf"
    run(MAKE, "--preset", "tiny-qwen3", "--type", "q4_k_m", "--seed", "7", "--out", direct)
    run(QM, "quantize", models["tiny-qwen3"], via, "q4_k_m", "--threads", "1")
    a = {t.name: (t.tensor_type, bytes(t.data)) for t in GGUFReader(direct).tensors}
    b = {t.name: (t.tensor_type, bytes(t.data)) for t in GGUFReader(via).tensors}
    assert a == b


def test_threads_do_not_change_bytes(tmp_path, models):
    one, two = tmp_path / "1.gguf", tmp_path / "2.gguf"
    run(QM, "quantize", models["tiny-gemma3"], one, "q2_k", "--threads", "1", "--quiet")
    run(QM, "quantize", models["tiny-gemma3"], two, "q2_k", "--threads", "2", "--quiet")
    assert one.read_bytes() == two.read_bytes()


def test_quantize_from_f16(tmp_path):
    f16, q8 = tmp_path / "f16.gguf", tmp_path / "q8.gguf"
    run(MAKE, "--preset", "tiny-gemma2", "--type", "f16", "--seed", "3", "--out", f16)
    assert all(t.tensor_type == (QT.F16 if len(t.shape) == 2 else QT.F32) for t in GGUFReader(f16).tensors)
    p = run(QM, "quantize", f16, q8, "q8_0")
    assert "F16" in p.stdout
    a, b = weights(f16), weights(q8)
    for name, (ty, x) in b.items():
        assert ty == (QT.Q8_0 if x.shape[0] > 1 else QT.F32)
        rel = float(np.sqrt(np.mean((x - a[name][1]) ** 2)) / np.sqrt(np.mean(a[name][1] ** 2)))
        assert rel < 0.01, name


# ---- (c) refusals ---------------------------------------------------------

def test_refuses_quantized_input(tmp_path):
    q8, out = tmp_path / "q8.gguf", tmp_path / "out.gguf"
    run(MAKE, "--preset", "tiny-llama", "--type", "q8_0", "--out", q8)
    p = run(QM, "quantize", q8, out, "q4_k_m", check=False)
    assert p.returncode == 1
    assert "quantize: tensor 'token_embd.weight' is Q8_0, not F32, F16 or BF16" in p.stderr
    assert not out.exists()
    assert sorted(x.name for x in tmp_path.iterdir()) == ["q8.gguf"]   # no temporary left behind
    # the same file type again is a copy, which is allowed
    run(QM, "quantize", q8, out, "q8_0")
    assert [t.tensor_type for t in GGUFReader(out).tensors] == [t.tensor_type for t in GGUFReader(q8).tensors]


def test_cli_errors(tmp_path, models):
    p = run(QM, "quantize", models["tiny-qwen2"], tmp_path / "o.gguf", "q4_k_x", check=False)
    assert p.returncode == 2 and "unknown file type 'q4_k_x'" in p.stderr and "Q4_K_M" in p.stderr
    p = run(QM, "quantize", tmp_path / "missing.gguf", tmp_path / "o.gguf", "q8_0", check=False)
    assert p.returncode == 1 and "missing.gguf" in p.stderr
    p = run(QM, "quantize", models["tiny-qwen2"], tmp_path / "no/such/dir/o.gguf", "q8_0", check=False)
    assert p.returncode == 1 and "cannot create" in p.stderr
    p = run(QM, "quantize", models["tiny-qwen2"], check=False)
    assert p.returncode == 2 and "Usage" in p.stderr
    assert not (tmp_path / "o.gguf").exists()
