"""qm's built-in chat formats against the models' own Jinja templates.

The chat_template strings of Qwen2.5, Qwen2, Gemma 3, Llama 3 and Mistral
(v1, v3, v3-tekken, v7), kept byte for byte in tests/data/templates/, are run
with jinja2 set up the way Hugging Face's apply_chat_template sets it up
(sandboxed, trim_blocks, lstrip_blocks, loop controls, raise_exception).  For
each, template_tool detects the format from the same text and renders the
same conversation with qm's renderer; the two prompts must be identical byte
for byte, with and without the generation prompt.

Conventions on our side, which these tests pin down:
  * BOS is not part of the prompt (the tokenizer adds it), so Jinja runs with
    bos_token = "".
  * Qwen's default system prompt is applied by reading it out of the template
    (template_tool render ... TEMPLATE_FILE -> qm_chat_default_system).
  * Mistral v3 / v3-tekken templates put the system prompt into the last
    message when that is a user turn (and drop it otherwise), llama.cpp's
    renderer (and qm) into the first user turn: the comparison runs on
    conversations where the two coincide, and the divergence is asserted
    separately so that it stays a known, deliberate one.

The Go templates (chatml.gotmpl, llama3.gotmpl) rendered as Ollama renders a
chat must give the same prompts too.
"""
import os
import subprocess

import pytest
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

TOOL = os.path.join(os.environ.get("QM_TOOLS_DIR", ""), "template_tool")
DATA = os.path.join(os.path.dirname(__file__), "..", "data", "templates")

# file -> (format qm must detect, eos_token the template writes, has a default system prompt)
TEMPLATES = {
    "qwen2.5-instruct.jinja": ("chatml", "<|im_end|>", True),
    "qwen2-instruct.jinja": ("chatml", "<|im_end|>", True),
    "gemma-3-it.jinja": ("gemma", "<eos>", False),
    "llama-3-instruct.jinja": ("llama3", "<|eot_id|>", False),
    "mistral-v1.jinja": ("mistral-v1", "</s>", False),
    "mistral-v3.jinja": ("mistral-v3", "</s>", False),
    "mistral-v3-tekken.jinja": ("mistral-v3-tekken", "</s>", False),
    "mistral-v7.jinja": ("mistral-v7", "</s>", False),
}

DEFAULT_SYSTEM = {
    "qwen2.5-instruct.jinja": "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
    "qwen2-instruct.jinja": "You are a helpful assistant.",
}

S, U, A = "system", "user", "assistant"
CONVERSATIONS = {
    "sys-user-asst-user": [(S, "You are a helpful assistant."), (U, "Hello"),
                           (A, "Hi there, how can I help?"), (U, "Tell me a joke.")],
    "one-user": [(U, "Hello")],
    "padded": [(U, "  What is 2+2?\n"), (A, " 4 \n"), (U, "And 3+3?\t")],
    "sys-unicode-multiline": [(S, "Be brief."), (U, "H\u00e9llo w\u00f6rld \u2713\nsecond line")],
    "long-no-sys": [(U, "a"), (A, "b"), (U, "c"), (A, "d"), (U, "e")],
    "ends-with-answer": [(S, "Answer in French."), (U, "Hi"), (A, "Bonjour !")],
    "backslash-tab": [(U, "C:\\path\\n is not a newline\tbut this tab is real")],
}


def jinja_render(template_file, messages, add_generation_prompt, eos_token):
    def raise_exception(msg):
        raise RuntimeError(msg)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[loopcontrols])
    env.globals["raise_exception"] = raise_exception
    with open(os.path.join(DATA, template_file), encoding="utf-8") as f:
        tmpl = env.from_string(f.read())
    return tmpl.render(messages=[{"role": r, "content": c} for r, c in messages],
                       add_generation_prompt=add_generation_prompt,
                       bos_token="", eos_token=eos_token)


def write_messages(tmp_path, messages):
    path = tmp_path / "msgs.txt"
    lines = []
    for role, content in messages:
        esc = content.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")
        lines.append(f"{role}\t{esc}\n")
    path.write_bytes("".join(lines).encode("utf-8"))
    return str(path)


def tool(*args):
    r = subprocess.run([TOOL, *args], capture_output=True)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r.stdout.decode("utf-8")


def qm_render(tmp_path, fmt, messages, gen, default_system_from=None):
    args = ["render", fmt, write_messages(tmp_path, messages), "gen" if gen else "nogen"]
    if default_system_from:
        args.append(os.path.join(DATA, default_system_from))
    return tool(*args)


def comparable(template_file, messages):
    """Whether the model's template and llama.cpp's renderer agree by design."""
    if template_file.startswith("mistral-v3"):
        # the model's template writes the system prompt into the last message
        # if that is a user turn (else nowhere); llama.cpp into the first one
        has_system = any(r == S for r, _ in messages)
        users = sum(1 for r, _ in messages if r == U)
        return not has_system or (users == 1 and messages[-1][0] == U)
    return True


CASES = [(t, c, g) for t in TEMPLATES for c in CONVERSATIONS for g in (True, False)
         if comparable(t, CONVERSATIONS[c])]


@pytest.mark.parametrize("template_file", sorted(TEMPLATES))
def test_detects_format(template_file):
    assert tool("detect", os.path.join(DATA, template_file)) == TEMPLATES[template_file][0]


def test_detects_llama2_chat_as_strip_variant():
    assert tool("detect", os.path.join(DATA, "llama-2-chat.jinja")) == "llama2-sys-strip"


@pytest.mark.parametrize("template_file", sorted(TEMPLATES))
def test_default_system_prompt(template_file):
    got = tool("defsys", os.path.join(DATA, template_file))
    assert got == DEFAULT_SYSTEM.get(template_file, "")


@pytest.mark.parametrize("template_file,conv,gen", CASES)
def test_render_matches_jinja(tmp_path, template_file, conv, gen):
    fmt, eos, has_default = TEMPLATES[template_file]
    messages = CONVERSATIONS[conv]
    want = jinja_render(template_file, messages, gen, eos)
    got = qm_render(tmp_path, fmt, messages, gen, template_file if has_default else None)
    assert got == want


@pytest.mark.parametrize("template_file", ["qwen2.5-instruct.jinja", "qwen2-instruct.jinja"])
def test_qwen_default_system_is_what_the_template_adds(tmp_path, template_file):
    # without the default, qm's ChatML is llama.cpp's: no system turn at all
    messages = CONVERSATIONS["one-user"]
    jinja = jinja_render(template_file, messages, True, "<|im_end|>")
    plain = qm_render(tmp_path, "chatml", messages, True)
    sys_turn = "<|im_start|>system\n" + DEFAULT_SYSTEM[template_file] + "<|im_end|>\n"
    assert jinja == sys_turn + plain
    # and a conversation that brings its own system prompt gets no default
    with_sys = CONVERSATIONS["sys-user-asst-user"]
    assert qm_render(tmp_path, "chatml", with_sys, True, template_file) == \
        qm_render(tmp_path, "chatml", with_sys, True)


@pytest.mark.parametrize("template_file", ["mistral-v3.jinja", "mistral-v3-tekken.jinja"])
def test_mistral_v3_system_placement_is_llama_cpps(tmp_path, template_file):
    fmt = TEMPLATES[template_file][0]
    messages = CONVERSATIONS["sys-user-asst-user"]
    system = messages[0][1] + "\n\n"
    jinja = jinja_render(template_file, messages, True, "</s>")
    ours = qm_render(tmp_path, fmt, messages, True)
    # the model's template: system in the last [INST]; ours: in the first
    assert jinja.rindex(system) > jinja.index("</s>")
    assert ours.index(system) < ours.index("</s>")
    assert ours.replace(system, "") == jinja.replace(system, "")


def test_stop_strings():
    assert tool("stops", "chatml").split("\n")[:2] == ["<|im_end|>", "<|endoftext|>"]
    assert "<end_of_turn>" in tool("stops", "gemma").split("\n")
    assert "<|eot_id|>" in tool("stops", "llama3").split("\n")
    assert tool("stops", "mistral-v7") == "</s>\n"


@pytest.mark.parametrize("gotmpl,template_file,conv", [
    ("chatml.gotmpl", "qwen2.5-instruct.jinja", "sys-user-asst-user"),
    ("chatml.gotmpl", "qwen2.5-instruct.jinja", "sys-unicode-multiline"),
    ("llama3.gotmpl", "llama-3-instruct.jinja", "sys-user-asst-user"),
    ("llama3.gotmpl", "llama-3-instruct.jinja", "long-no-sys"),
    ("llama3.gotmpl", "llama-3-instruct.jinja", "sys-unicode-multiline"),
])
def test_go_template_matches_jinja(tmp_path, gotmpl, template_file, conv):
    messages = CONVERSATIONS[conv]
    want = jinja_render(template_file, messages, True, TEMPLATES[template_file][1])
    got = tool("gotmpl", os.path.join(DATA, gotmpl), write_messages(tmp_path, messages))
    assert got == want
