"""What the tokenizer reference scripts and tests share.

- MODELS: the real GGUF files the tokenizer is checked on, by short name.
- the corpus (tests/data/tokenizer/corpus.jsonl, one JSON string a line)
  and its sha256, which every reference file records so a stale reference
  is noticed;
- the reference file format: the first line is a JSON object describing how
  the ids were made, then one JSON array of ids per corpus line;
- hf_tokenizer(): Hugging Face's tokenizer for a GGUF file, as
  AutoTokenizer.from_pretrained(dir, gguf_file=name) builds it.
"""
import hashlib
import json
import os
import sys
import types

REF_DIR = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(REF_DIR, "..", "data", "tokenizer")
CORPUS = os.path.join(DATA_DIR, "corpus.jsonl")

# short name -> GGUF file name under QM_TEST_MODELS
MODELS = {
    "gemma-3-270m": "gemma-3-270m-q4_k_m.gguf",
    "qwen2.5-coder-1.5b": "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
}


def models_dir() -> str:
    return os.environ.get("QM_TEST_MODELS") or os.path.expanduser("~/.cache/qm-test/models")


def model_path(short: str) -> str:
    return os.path.join(models_dir(), MODELS[short])


def corpus_bytes() -> bytes:
    with open(CORPUS, "rb") as f:
        return f.read()


def corpus_sha256() -> str:
    return hashlib.sha256(corpus_bytes()).hexdigest()


def load_corpus() -> list:
    # split on "\n" only: the strings hold U+2028 and U+0085, which
    # str.splitlines would also cut at
    text = corpus_bytes().decode("utf-8")
    return [json.loads(line) for line in text.split("\n") if line]


def ref_path(source: str, short: str) -> str:
    return os.path.join(DATA_DIR, f"{source}-{short}.jsonl")


def write_ref(path: str, meta: dict, ids: list) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(meta, sort_keys=True) + "\n")
        for row in ids:
            f.write(json.dumps(row, separators=(",", ":")) + "\n")


def read_ref(path: str):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    meta = json.loads(lines[0])
    ids = [json.loads(line) for line in lines[1:] if line]
    return meta, ids


def hf_tokenizer(short: str):
    """Hugging Face's tokenizer built from the GGUF file, or raise ImportError.

    transformers' GGUF reader module imports torch at the top for its tensor
    path, which building a tokenizer never uses.  We do not install torch
    (it is huge): a stand-in module named torch satisfies that import, and
    only when torch is really absent.  The loader is the one
    AutoTokenizer.from_pretrained(dir, gguf_file=name) uses
    (PreTrainedTokenizerFast.from_pretrained with gguf_file); going through
    AutoTokenizer itself would also build a model config, which does need
    torch.  BOS/EOS come from the file's add_bos_token/add_eos_token, as in
    AutoTokenizer.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import importlib.util

    # transformers first, so that it records torch as absent (it then never
    # touches torch itself); the stand-in is only for the reader's import.
    import transformers  # noqa: F401

    if "torch" not in sys.modules and importlib.util.find_spec("torch") is None:
        stub = types.ModuleType("torch")
        stub.__getattr__ = lambda name: type(name, (), {})
        sys.modules["torch"] = stub
    from transformers import PreTrainedTokenizerFast

    path = model_path(short)
    tok = PreTrainedTokenizerFast.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path))
    hf_fix_space_runs(tok, path)
    return tok


# The one correction applied to transformers' GGUF tokenizer, recorded in
# every reference file made with it.
HF_FIXUPS = [
    "SentencePiece vocabularies: user-defined tokens made only of spaces (Gemma's runs of 2 to 31 "
    "spaces) are added as normalized AddedTokens. transformers' GGUF builder respells them with "
    "U+2581 for its BPE vocabulary but then does not add them, because it checks the unrespelled "
    "text; SentencePiece (longest user-defined symbol first) and llama.cpp cut them out before "
    "merging. It only shows on runs longer than 31 spaces (50 spaces: 31+19, not 16+16+18)."
]


def hf_fix_space_runs(tok, path: str) -> None:
    from tokenizers import AddedToken
    from transformers.integrations.gguf import get_gguf_tokenizer

    _, td, _ = get_gguf_tokenizer(path)
    if td.get("tokenizer_type") != "llama":
        return
    runs = [t for t, ty in zip(td["tokens"], td.get("token_type") or ()) if ty == 4 and t and not t.strip(" ")]
    if runs:
        tok.add_tokens([AddedToken("\u2581" * len(t), normalized=True, special=False) for t in runs])


def hf_encode(tok, text: str) -> list:
    # add_special_tokens: BOS as the file asks (Gemma yes, Qwen no), which is
    # our add_special=true; special tokens written in the text are always
    # matched by Hugging Face, which is our parse_special=true.
    return tok(text, add_special_tokens=True)["input_ids"]
