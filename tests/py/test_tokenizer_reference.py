"""Our tokenizer against recorded reference ids, on real vocabularies.

The corpus (tests/data/tokenizer/corpus.jsonl, ~2,300 lines of prose in many
scripts, code, emoji, numbers, whitespace runs, special-token texts and odd
sequences; made by tests/ref/make_corpus.py) goes through tests/tools/tok_tool
with add_special and parse_special on, for each real model:

- the ids must equal, line for line, those recorded from Hugging Face
  (tests/ref/record_hf_tokens.py -> hf-<model>.jsonl) and, when the file
  exists, from llama.cpp (tests/ref/record_llamacpp_tokens.py ->
  llamacpp-<model>.jsonl): 100%, no tolerance;
- decoding the ids (leading BOS dropped, special tokens rendered) must give
  the line back byte for byte, and so must the streaming decoder, which must
  never have cut a UTF-8 character in two;
- where transformers is installed, the same comparison also runs live
  against it, so a reference file cannot go stale unnoticed.

The models come from scripts/fetch-test-models.sh into QM_TEST_MODELS
(default ~/.cache/qm-test/models); without them these tests skip.
"""
import json
import os
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ref"))
import tokref  # noqa: E402

TOOL = os.path.join(os.environ.get("QM_TOOLS_DIR", ""), "tok_tool")

# What each file must load as (engine-reference.md sections 5 and 6).
EXPECTED_INFO = {
    "gemma-3-270m": {"model": "llama", "n_vocab": 262144, "bos": 2, "eos": 1, "unk": 3, "pad": 0,
                     "add_bos": True, "add_eos": False, "add_space_prefix": False,
                     "eot": 106, "eog": [1, 106]},
    "qwen2.5-coder-1.5b": {"model": "gpt2", "pre": "qwen2", "n_vocab": 151936, "bos": 151643,
                           "eos": 151645, "add_bos": False, "add_eos": False,
                           # <|endoftext|>, <|im_end|>, <|fim_pad|>, <|repo_name|>, <|file_sep|>
                           "eog": [151643, 151645, 151662, 151663, 151664]},
}


def need_model(short):
    path = tokref.model_path(short)
    if not os.path.exists(path):
        pytest.skip(f"{path} not present (scripts/fetch-test-models.sh)")
    return path


def write_records(path, texts):
    with open(path, "wb") as f:
        for t in texts:
            b = t.encode("utf-8")
            f.write(b"%d\n" % len(b) + b + b"\n")


def read_records(path):
    data = open(path, "rb").read()
    out, at = [], 0
    while at < len(data):
        nl = data.index(b"\n", at)
        n = int(data[at:nl])
        out.append(data[nl + 1:nl + 1 + n])
        at = nl + 1 + n + 1
    return out


def run_tool(short, texts, *flags):
    """(ids per text, decoded bytes per text, streamed bytes per text, stats)."""
    path = need_model(short)
    with tempfile.TemporaryDirectory() as tmp:
        rec, ids, dec, stream = (os.path.join(tmp, n) for n in ("in", "ids", "dec", "stream"))
        write_records(rec, texts)
        r = subprocess.run([TOOL, "encode", path, rec, ids, dec, stream, *flags], check=True,
                           capture_output=True, text=True)
        stats = json.loads(r.stdout)
        with open(ids) as f:
            rows = [[int(x) for x in line.split()] for line in f.read().split("\n")[:len(texts)]]
        return rows, read_records(dec), read_records(stream), stats


@pytest.fixture(scope="module")
def corpus():
    return tokref.load_corpus()


_cache = {}


def ours(short, corpus):
    if short not in _cache:
        _cache[short] = run_tool(short, corpus)
    return _cache[short]


def describe_mismatch(corpus, got, want, limit=5):
    bad = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
    lines = [f"{len(bad)} of {len(want)} lines differ"]
    for i in bad[:limit]:
        lines.append(f"  line {i}: {corpus[i]!r}\n    ours: {got[i]}\n    ref:  {want[i]}")
    return "\n".join(lines)


@pytest.mark.parametrize("short", list(tokref.MODELS))
def test_info(short):
    path = need_model(short)
    r = subprocess.run([TOOL, "info", path], check=True, capture_output=True, text=True)
    info = json.loads(r.stdout)
    for key, want in EXPECTED_INFO[short].items():
        assert info[key] == want, key


@pytest.mark.parametrize("source", ["hf", "llamacpp"])
@pytest.mark.parametrize("short", list(tokref.MODELS))
def test_ids_match_reference(short, source, corpus):
    ref = tokref.ref_path(source, short)
    if not os.path.exists(ref):
        if source == "hf":
            pytest.fail(f"{ref} is missing: run tests/ref/record_hf_tokens.py")
        pytest.skip(f"{ref} not recorded yet (tests/ref/record_llamacpp_tokens.py)")
    meta, want = tokref.read_ref(ref)
    assert meta["corpus_sha256"] == tokref.corpus_sha256(), \
        f"{ref} was recorded from another corpus: record it again"
    assert len(want) == len(corpus)
    got, _, _, stats = ours(short, corpus)
    same = sum(g == w for g, w in zip(got, want))
    print(f"{short} vs {source}: {same}/{len(want)} lines identical "
          f"({100.0 * same / len(want):.2f}%), {stats['tokens']} tokens, "
          f"{stats['tokens_per_s']:.0f} tokens/s, load {stats['load_ms']:.1f} ms")
    assert got == want, describe_mismatch(corpus, got, want)


@pytest.mark.parametrize("short", list(tokref.MODELS))
def test_roundtrip(short, corpus):
    got, dec, stream, stats = ours(short, corpus)
    want = [t.encode("utf-8") for t in corpus]
    bad = [i for i in range(len(corpus)) if dec[i] != want[i]]
    assert not bad, f"{len(bad)} lines do not decode back, first: {corpus[bad[0]]!r} -> {dec[bad[0]]!r}"
    bad = [i for i in range(len(corpus)) if stream[i] != want[i]]
    assert not bad, f"{len(bad)} lines do not stream back, first: {corpus[bad[0]]!r} -> {stream[bad[0]]!r}"
    assert stats["half_chars"] == 0


def test_parse_special_off_keeps_control_text():
    """Raw user text: control-token texts are ordinary text, so no control id
    appears, and the text still decodes back."""
    texts = ["<|im_start|>user\nhi<|im_end|>", "<|endoftext|>", "a<|im_end|>b"]
    ids, dec, _, _ = run_tool("qwen2.5-coder-1.5b", texts, "--raw")
    for row, d, t in zip(ids, dec, texts):
        assert not any(i >= 151643 for i in row), row
        assert d == t.encode()
    ids, _, _, _ = run_tool("qwen2.5-coder-1.5b", texts)
    assert ids[0][0] == 151644 and ids[0][-1] == 151645
    assert ids[1] == [151643]


def test_gemma_bos_and_user_defined_tokens():
    """Gemma adds BOS; its user-defined tokens (newline and space runs, HTML
    tags) are cut out even from raw text, its control tokens only with
    parse_special."""
    texts = ["a  b", "x\n\n\ny", "<b>hi</b>", "<start_of_turn>"]
    raw, _, _, _ = run_tool("gemma-3-270m", texts, "--raw")
    assert all(row[0] == 2 for row in raw)
    assert 138 in raw[0]            # "  "
    assert 109 in raw[1]            # "\n\n\n"
    assert raw[2][1] == 200         # "<b>"
    assert 105 not in raw[3]        # <start_of_turn> is control: text here
    special, _, _, _ = run_tool("gemma-3-270m", texts)
    assert special[3] == [2, 105]
    nobos, _, _, _ = run_tool("gemma-3-270m", texts, "--no-special")
    assert nobos[2][0] == 200


@pytest.mark.parametrize("short", list(tokref.MODELS))
def test_live_hugging_face(short, corpus):
    pytest.importorskip("transformers")
    need_model(short)
    tok = tokref.hf_tokenizer(short)
    want = [tokref.hf_encode(tok, t) for t in corpus]
    got = ours(short, corpus)[0]
    assert got == want, describe_mismatch(corpus, got, want)
