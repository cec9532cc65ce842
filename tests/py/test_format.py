"""Constrained output ("format") end to end: a tiny random-weight model
writes garbage, so whatever valid JSON comes back is the constraint's work.
The runner keeps the value completable within num_predict, so even a
generation cut by the token limit must parse."""
import json

import openai
import pytest

from daemon_util import Daemon, make_model

PERSON = {"type": "object",
          "properties": {"name": {"type": "string", "maxLength": 12}, "age": {"type": "integer"}},
          "required": ["name", "age"]}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("format")
    gguf = make_model(str(tmp / "tiny-qwen2.gguf"))
    d = Daemon(str(tmp), QM_NUM_PARALLEL=2)
    d.create("tiny", gguf)
    yield d
    assert d.stop() == 0


def generate(daemon, fmt, seed, num_predict=256, **kw):
    status, body = daemon.post("/api/generate", {
        "model": "tiny", "prompt": "Describe a person as JSON.", "format": fmt, "stream": False,
        "options": {"temperature": 0.7, "seed": seed, "num_predict": num_predict}, **kw})
    assert status == 200, body
    r = json.loads(body)
    assert r["done"] and r["done_reason"] in ("stop", "length")
    return r


def check_person(v):
    assert isinstance(v, dict) and list(v) == ["name", "age"], v
    assert isinstance(v["name"], str) and len(v["name"]) <= 12
    assert isinstance(v["age"], int) and not isinstance(v["age"], bool)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generate_json_mode(daemon, seed):
    r = generate(daemon, "json", seed)
    assert isinstance(json.loads(r["response"]), dict), r["response"]


@pytest.mark.parametrize("num_predict", [3, 8, 20])
def test_json_mode_closes_within_num_predict(daemon, num_predict):
    r = generate(daemon, "json", 5, num_predict=num_predict)
    assert r["eval_count"] <= num_predict
    assert isinstance(json.loads(r["response"]), dict), r["response"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generate_schema(daemon, seed):
    r = generate(daemon, PERSON, seed)
    check_person(json.loads(r["response"]))


def test_schema_streamed_and_short_budget(daemon):
    status, body = daemon.post("/api/generate", {
        "model": "tiny", "prompt": "x", "format": PERSON,
        "options": {"temperature": 0.7, "seed": 9, "num_predict": 40}})
    assert status == 200
    lines = [json.loads(x) for x in body.decode().splitlines() if x.strip()]
    assert lines[-1]["done"]
    check_person(json.loads("".join(x.get("response", "") for x in lines)))


def test_chat_schema_and_json(daemon):
    for fmt in (PERSON, "json"):
        status, body = daemon.post("/api/chat", {
            "model": "tiny", "messages": [{"role": "user", "content": "who?"}], "format": fmt, "stream": False,
            "options": {"temperature": 0.7, "seed": 4, "num_predict": 256}})
        assert status == 200, body
        v = json.loads(json.loads(body)["message"]["content"])
        if fmt == "json":
            assert isinstance(v, dict)
        else:
            check_person(v)


def test_enum_array_schema(daemon):
    schema = {"type": "object", "properties": {
        "tags": {"type": "array", "items": {"enum": ["red", "green", "blue"]}, "minItems": 1, "maxItems": 3},
        "ok": {"type": "boolean"}, "note": {"type": ["string", "null"], "maxLength": 5}},
        "required": ["tags", "ok"]}
    for seed in (1, 2):
        v = json.loads(generate(daemon, schema, seed)["response"])
        assert 1 <= len(v["tags"]) <= 3 and set(v["tags"]) <= {"red", "green", "blue"}
        assert isinstance(v["ok"], bool)
        assert v.get("note") is None or len(v["note"]) <= 5


def test_openai_response_format(daemon):
    ai = openai.OpenAI(base_url=daemon.url + "/v1", api_key="unused")
    r = ai.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}], max_tokens=200,
                                   temperature=0.7, seed=2, response_format={"type": "json_object"})
    assert isinstance(json.loads(r.choices[0].message.content), dict)
    r = ai.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}], max_tokens=200,
                                   temperature=0.7, seed=2,
                                   response_format={"type": "json_schema",
                                                    "json_schema": {"name": "person", "schema": PERSON}})
    check_person(json.loads(r.choices[0].message.content))


def test_unsupported_schema_is_400(daemon):
    status, body = daemon.post("/api/generate", {
        "model": "tiny", "prompt": "x", "stream": False,
        "format": {"type": "string", "pattern": "^[a-z]+$"}})
    assert status == 400 and "pattern" in json.loads(body)["error"]
    # the runner still serves
    r = generate(daemon, "json", 1, num_predict=16)
    assert isinstance(json.loads(r["response"]), dict)
