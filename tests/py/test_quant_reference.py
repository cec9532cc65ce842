"""Our tensor-type conversions against the gguf Python package.

Dequantization: random blocks (random bytes, with the f16/f32 scale fields
replaced by finite random values of either sign and a wide spread of
magnitudes, subnormal halves included) go through quant_tool and through
gguf.quants.dequantize; the f32 results must be identical bit for bit.
gguf has no Q8_1 or Q8_K dequantizer (and its size table for Q8_1 is that
of an older layout), so those two are checked against a numpy evaluation of
engine-reference.md's formula, value = d * q.

Quantization: for every type the gguf package can quantize (F32, F16, BF16,
Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) our bytes must equal its bytes.  Q8_1 and Q8_K
(activation formats gguf does not implement) are checked against a numpy
statement of the convention documented in engine/quant_act.c.  The K-quants
have no reference quantizer to match: they are checked for decodability by
gguf and for error (the tight per-type bounds live in tests/unit/test_quant.c).
"""
import os
import subprocess
import tempfile

import numpy as np
import pytest
from gguf import GGMLQuantizationType as T
from gguf import quants

TOOL = os.path.join(os.environ.get("QM_TOOLS_DIR", ""), "quant_tool")

# type -> (elements per block, bytes per block, [(offset, kind)] of scale fields)
LAYOUT = {
    T.Q4_0: (32, 18, [(0, "f16")]),
    T.Q4_1: (32, 20, [(0, "f16"), (2, "f16")]),
    T.Q5_0: (32, 22, [(0, "f16")]),
    T.Q5_1: (32, 24, [(0, "f16"), (2, "f16")]),
    T.Q8_0: (32, 34, [(0, "f16")]),
    T.Q8_1: (32, 36, [(0, "f16"), (2, "f16")]),
    T.Q2_K: (256, 84, [(80, "f16"), (82, "f16")]),
    T.Q3_K: (256, 110, [(108, "f16")]),
    T.Q4_K: (256, 144, [(0, "f16"), (2, "f16")]),
    T.Q5_K: (256, 176, [(0, "f16"), (2, "f16")]),
    T.Q6_K: (256, 210, [(208, "f16")]),
    T.Q8_K: (256, 292, [(0, "f32")]),
    T.IQ4_NL: (32, 18, [(0, "f16")]),
    T.IQ4_XS: (256, 136, [(0, "f16")]),
}


def run_tool(cmd, qtype, data: bytes) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "in"), os.path.join(tmp, "out")
        with open(src, "wb") as f:
            f.write(data)
        subprocess.run([TOOL, cmd, str(int(qtype)), src, dst], check=True)
        with open(dst, "rb") as f:
            return f.read()


def our_dequant(qtype, blocks: np.ndarray) -> np.ndarray:
    return np.frombuffer(run_tool("dequant", qtype, blocks.tobytes()), dtype=np.float32)


def our_quant(qtype, x: np.ndarray) -> np.ndarray:
    return np.frombuffer(run_tool("quant", qtype, x.astype(np.float32).tobytes()), dtype=np.uint8)


def scale_values(rng, n, dtype):
    """Finite scales of both signs spread over many binades, with some zeros
    and, for halves, subnormals."""
    mag = np.exp2(rng.uniform(-26 if dtype == np.float16 else -30, 8, n))
    v = (mag * rng.choice([-1.0, 1.0], n)).astype(dtype)
    v[rng.random(n) < 0.03] = 0
    return v


def random_blocks(qtype, nblocks, seed):
    blck, size, fields = LAYOUT[qtype]
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, size=(nblocks, size), dtype=np.uint8)
    for off, kind in fields:
        dt = np.float16 if kind == "f16" else np.float32
        w = np.dtype(dt).itemsize
        raw[:, off:off + w] = scale_values(rng, nblocks, dt).view(np.uint8).reshape(nblocks, w)
    return raw


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    b = np.ascontiguousarray(b, dtype=np.float32).view(np.uint32)
    return a.shape == b.shape and np.array_equal(a, b)


GGUF_DEQUANT = [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q2_K, T.Q3_K,
                T.Q4_K, T.Q5_K, T.Q6_K, T.IQ4_NL, T.IQ4_XS]


@pytest.mark.parametrize("qtype", GGUF_DEQUANT, ids=lambda t: t.name)
def test_dequant_matches_gguf(qtype):
    blocks = random_blocks(qtype, 600, seed=int(qtype) * 7919)
    ours = our_dequant(qtype, blocks)
    ref = quants.dequantize(blocks.reshape(-1), qtype).reshape(-1)
    assert ours.size == blocks.shape[0] * LAYOUT[qtype][0]
    assert np.isfinite(ref).all()
    bad = np.flatnonzero(ours.view(np.uint32) != ref.astype(np.float32).view(np.uint32))
    assert same_bits(ours, ref), f"{bad.size} values differ, first at {bad[:5]}: {ours[bad[:5]]} vs {ref[bad[:5]]}"


def test_dequant_q8_1_formula():
    blocks = random_blocks(T.Q8_1, 600, seed=91)
    d = blocks[:, 0:2].copy().view(np.float16).astype(np.float32)
    q = blocks[:, 4:].copy().view(np.int8).astype(np.float32)
    assert same_bits(our_dequant(T.Q8_1, blocks), (q * d).reshape(-1))


def test_dequant_q8_k_formula():
    blocks = random_blocks(T.Q8_K, 300, seed=15)
    d = blocks[:, 0:4].copy().view(np.float32)
    q = blocks[:, 4:260].copy().view(np.int8).astype(np.float32)
    assert same_bits(our_dequant(T.Q8_K, blocks), (q * d).reshape(-1))


def test_dequant_f16_every_half():
    h = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    h = h[~np.isnan(h.view(np.float16))]          # NaN payloads: checked below
    ours = our_dequant(T.F16, h)
    assert same_bits(ours, quants.dequantize(h.view(np.uint8), T.F16))
    nan = np.array([0x7e00, 0xfc01, 0x7c01], dtype=np.uint16)
    assert np.isnan(our_dequant(T.F16, nan)).all()


def test_dequant_bf16_every_pattern():
    h = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    ours = our_dequant(T.BF16, h)
    assert same_bits(ours, quants.dequantize(h.view(np.uint8), T.BF16))


def test_dequant_f32_is_identity():
    x = np.random.default_rng(3).standard_normal(1000).astype(np.float32)
    assert same_bits(our_dequant(T.F32, x.view(np.uint8)), x)


# ---- quantization -----------------------------------------------------

def make_data(n, seed):
    """Normal data at several scales, plus blocks that are all zero, constant,
    or hold one outlier, and values on exact code boundaries."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n).astype(np.float32)
    x *= np.repeat(np.exp2(rng.uniform(-12, 8, n // 256)), 256).astype(np.float32)
    x[0:32] = 0
    x[32:64] = 1.5
    x[64:96] = -0.25
    x[100] = 1000.0
    x[128:160] = np.arange(-16, 16, dtype=np.float32) / 4   # exact multiples
    x[160:192] = np.arange(32, dtype=np.float32) - 7.5      # ties
    return x


GGUF_QUANT = [T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0]


@pytest.mark.parametrize("qtype", GGUF_QUANT, ids=lambda t: t.name)
def test_quant_matches_gguf(qtype):
    x = make_data(256 * 400, seed=int(qtype) + 100)
    ours = our_quant(qtype, x)
    ref = np.ascontiguousarray(quants.quantize(x.reshape(-1, 256), qtype)).view(np.uint8).reshape(-1)
    assert ours.size == ref.size
    bad = np.flatnonzero(ours != ref)
    assert bad.size == 0, f"{bad.size} bytes differ, first at {bad[:8]}"


def test_quant_bf16_nan_and_inf():
    x = np.array([np.nan, -np.nan, np.inf, -np.inf, 3.4e38, -3.4e38, 1e-40, 0.0], dtype=np.float32)
    ours = our_quant(T.BF16, x)
    ref = np.ascontiguousarray(quants.quantize(x, T.BF16)).view(np.uint8).reshape(-1)
    assert np.array_equal(ours, ref)


def np_round_away(v):
    return np.sign(v) * np.floor(np.abs(v) + np.float32(0.5))


def test_quant_q8_1_convention():
    x = make_data(256 * 100, seed=9)
    ours = our_quant(T.Q8_1, x).reshape(-1, 36)
    ref = np.ascontiguousarray(quants.quantize(x.reshape(-1, 256), T.Q8_0)).view(np.uint8).reshape(-1, 34)
    # d and qs exactly as Q8_0 (gguf's), s = f16(d_f32 * sum(q))
    assert np.array_equal(ours[:, 0:2], ref[:, 0:2])
    assert np.array_equal(ours[:, 4:], ref[:, 2:])
    d32 = np.abs(x.reshape(-1, 32)).max(axis=1) / np.float32(127)
    qsum = ours[:, 4:].view(np.int8).astype(np.int32).sum(axis=1)
    s = (d32 * qsum.astype(np.float32)).astype(np.float16)
    assert np.array_equal(ours[:, 2:4].copy().view(np.float16).reshape(-1).view(np.uint16), s.view(np.uint16))


def test_quant_q8_k_convention():
    x = make_data(256 * 100, seed=10)
    ours = our_quant(T.Q8_K, x).reshape(-1, 292)
    xb = x.reshape(-1, 256)
    d = np.abs(xb).max(axis=1, keepdims=True) / np.float32(127)
    with np.errstate(divide="ignore"):
        idv = np.where(d == 0, np.float32(0), np.float32(1) / d).astype(np.float32)
    prod = (xb * idv).astype(np.float32)
    # round half away from zero: a - floor(a) >= 0.5 rounds up
    a = np.abs(prod)
    q = np.floor(a) + (a - np.floor(a) >= 0.5)
    q = np.clip(np.sign(prod) * q, -127, 127).astype(np.int8)
    assert np.array_equal(ours[:, 0:4].copy().view(np.float32), d)
    assert np.array_equal(ours[:, 4:260].view(np.int8), q)
    bsums = ours[:, 260:].copy().view(np.int16)
    assert np.array_equal(bsums, q.astype(np.int16).reshape(-1, 16, 16).sum(axis=2))


K_BOUNDS = {T.Q2_K: 0.28, T.Q3_K: 0.152, T.Q4_K: 0.074, T.Q5_K: 0.037, T.Q6_K: 0.0185}


@pytest.mark.parametrize("qtype", list(K_BOUNDS), ids=lambda t: t.name)
def test_k_quant_decodes_with_gguf(qtype):
    rng = np.random.default_rng(int(qtype))
    x = rng.standard_normal(256 * 64).astype(np.float32)
    ours = our_quant(qtype, x)
    assert ours.size == 64 * LAYOUT[qtype][1]
    back = quants.dequantize(ours, qtype).reshape(-1)
    assert same_bits(back, our_dequant(qtype, ours))
    rel = np.sqrt(np.sum((x - back) ** 2) / np.sum(x ** 2))
    assert rel < K_BOUNDS[qtype]
