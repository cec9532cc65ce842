"""The official `ollama` and `openai` Python clients against `qm serve`.

A tiny random-weight qwen2 model (a ChatML vocabulary built by
make_test_model) is uploaded and created through the API; every call below
is a real round trip through the daemon, a runner process and the engine."""
import json

import ollama
import openai
import pytest

from daemon_util import Daemon, make_model


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("clients")
    gguf = make_model(str(tmp / "tiny-qwen2.gguf"))
    d = Daemon(str(tmp), QM_NUM_PARALLEL=2)
    d.create("tiny", gguf, parameters={"temperature": 0, "num_predict": 12})
    yield d
    assert d.stop() == 0


@pytest.fixture
def oc(daemon):
    return ollama.Client(host=daemon.url)


@pytest.fixture
def ai(daemon):
    return openai.OpenAI(base_url=daemon.url + "/v1", api_key="unused")


def test_version_and_list(oc, daemon):
    assert "version" in daemon.get("/api/version")
    names = [m.model for m in oc.list().models]
    assert "tiny:latest" in names


def test_generate_stream_and_not(oc):
    whole = oc.generate(model="tiny", prompt="hello there", options={"seed": 1})
    assert whole.done and whole.done_reason in ("stop", "length")
    assert whole.eval_count and whole.eval_count <= 12
    assert whole.prompt_eval_count > 0 and whole.total_duration > 0
    parts = list(oc.generate(model="tiny", prompt="hello there", stream=True, options={"seed": 1}))
    assert parts[-1].done and not any(p.done for p in parts[:-1])
    # temperature 0 from the Modelfile parameters: the same text both ways
    assert "".join(p.response for p in parts) == whole.response


def test_generate_context_round_trip(oc):
    first = oc.generate(model="tiny", prompt="one two", options={"num_predict": 4})
    assert first.context and len(first.context) >= first.prompt_eval_count
    second = oc.generate(model="tiny", prompt=" three", context=first.context, options={"num_predict": 4})
    assert second.done


def test_chat(oc):
    r = oc.chat(model="tiny", messages=[{"role": "system", "content": "be brief"},
                                       {"role": "user", "content": "hi"}])
    assert r.message.role == "assistant" and r.done
    chunks = list(oc.chat(model="tiny", messages=[{"role": "user", "content": "hi"}], stream=True))
    assert chunks[-1].done and chunks[-1].eval_count > 0


def test_embed(oc):
    r = oc.embed(model="tiny", input=["alpha", "beta gamma"])
    assert len(r.embeddings) == 2
    for v in r.embeddings:
        assert abs(sum(x * x for x in v) - 1.0) < 1e-3   # normalized, as Ollama's are
    legacy = oc.embeddings(model="tiny", prompt="alpha")
    assert len(legacy.embedding) == len(r.embeddings[0])


def test_show_copy_delete(oc):
    info = oc.show("tiny")
    assert info.details.family == "qwen2"
    assert "temperature" in (info.parameters or "")
    oc.copy("tiny", "tiny2:copy")
    assert "tiny2:copy" in [m.model for m in oc.list().models]
    oc.delete("tiny2:copy")
    assert "tiny2:copy" not in [m.model for m in oc.list().models]
    assert "tiny:latest" in [m.model for m in oc.list().models]


def test_unknown_model_is_404(oc, ai):
    with pytest.raises(ollama.ResponseError) as e:
        oc.generate(model="nope", prompt="x")
    assert e.value.status_code == 404
    with pytest.raises(openai.NotFoundError):
        ai.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])


def test_ps_shows_loaded(oc):
    oc.generate(model="tiny", prompt="x", options={"num_predict": 1})
    models = oc.ps().models
    assert any(m.model == "tiny:latest" for m in models)


def test_openai_chat(ai):
    r = ai.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}],
                                   max_tokens=5, temperature=0, seed=3)
    assert r.choices[0].message.role == "assistant"
    assert r.usage.completion_tokens <= 5 and r.usage.prompt_tokens > 0
    stream = ai.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}],
                                        max_tokens=5, temperature=0, seed=3, stream=True,
                                        stream_options={"include_usage": True})
    text, usage, finish = "", None, None
    for c in stream:
        if c.usage:
            usage = c.usage
        for ch in c.choices:
            text += ch.delta.content or ""
            finish = ch.finish_reason or finish
    assert text == r.choices[0].message.content
    assert usage and usage.completion_tokens == r.usage.completion_tokens
    assert finish in ("stop", "length")


def test_openai_logprobs(ai):
    r = ai.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}],
                                   max_tokens=4, temperature=0, logprobs=True, top_logprobs=3)
    content = r.choices[0].logprobs.content
    assert content and all(len(t.top_logprobs) == 3 for t in content)
    assert all(t.logprob <= 0 for t in content)


def test_openai_completion_and_tokens(ai):
    r = ai.completions.create(model="tiny", prompt="the", max_tokens=4, temperature=0)
    assert r.choices[0].finish_reason in ("stop", "length")
    r2 = ai.completions.create(model="tiny", prompt=[1, 2, 3], max_tokens=2, temperature=0)
    assert r2.usage.prompt_tokens == 3


def test_openai_embeddings_and_models(ai):
    e = ai.embeddings.create(model="tiny", input=["a", "b"])
    assert len(e.data) == 2 and e.data[1].index == 1
    ids = [m.id for m in ai.models.list().data]
    assert "tiny:latest" in ids
    assert ai.models.retrieve("tiny:latest").id == "tiny:latest"


def test_bad_requests(daemon):
    status, body = daemon.post("/api/generate", b"{not json")
    assert status == 400 and "error" in json.loads(body)
    status, body = daemon.post("/api/generate", {"model": "tiny", "prompt": "x", "options": {"temperature": "hot"}})
    assert status == 400 and "temperature" in json.loads(body)["error"]
    status, body = daemon.post("/api/chat", {"model": "../../etc/passwd", "messages": []})
    assert status in (400, 404)
    status, _ = daemon.post("/api/generate", {"model": "tiny", "prompt": "x", "options": {"num_ctx": -5}})
    assert status == 400
    # the daemon still serves
    status, body = daemon.post("/api/generate", {"model": "tiny", "prompt": "x", "stream": False,
                                                 "options": {"num_predict": 1}})
    assert status == 200 and json.loads(body)["done"]
