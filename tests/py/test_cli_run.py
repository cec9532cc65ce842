"""`qm run` end to end: the REPL driven through a pseudo-terminal (pexpect),
one-shot answers, and errors, against a `qm serve` on a free port.

The model is a tiny random-weight qwen2 whose Modelfile sets temperature 0
and num_predict 8, so an answer is a fixed function of the messages: every
text the REPL prints is compared with what /api/chat returns for the same
messages.  The texts are gibberish; only their equality matters."""
import json
import os
import re
import subprocess

import pexpect
import pytest

from daemon_util import QM, Daemon, make_model

NO_NET = "http://127.0.0.1:9"   # a proxy that refuses: no registry is reachable from the daemon


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    gguf = make_model(str(tmp / "tiny-qwen2.gguf"))
    d = Daemon(str(tmp), QM_NUM_PARALLEL=1, https_proxy=NO_NET, http_proxy=NO_NET, HTTPS_PROXY=NO_NET,
               HTTP_PROXY=NO_NET, ALL_PROXY=NO_NET)
    d.create("tiny", gguf, parameters={"temperature": 0, "num_predict": 8})
    yield d
    assert d.stop() == 0


@pytest.fixture(scope="module")
def env(daemon, tmp_path_factory):
    home = tmp_path_factory.mktemp("home")   # no ~/.editrc, no ~/.qm of the user's
    e = {k: v for k, v in os.environ.items() if not k.startswith(("QM_", "OLLAMA_"))}
    e.update({"QM_HOST": f"127.0.0.1:{daemon.port}", "HOME": str(home), "TERM": "xterm", "LANG": "C.UTF-8"})
    return e


def chat(daemon, messages, **options):
    """The answer /api/chat gives for these messages (the reference)."""
    status, body = daemon.post("/api/chat", {"model": "tiny", "messages": messages, "stream": False,
                                             "options": options})
    assert status == 200, body
    return json.loads(body)


def answer(daemon, messages, **options):
    return chat(daemon, messages, **options)["message"]["content"]


def user(text):
    return {"role": "user", "content": text}


def assistant(text):
    return {"role": "assistant", "content": text}


def tty(text):
    """Text as a terminal shows it (the pty turns \\n into \\r\\n)."""
    return text.replace("\n", "\r\n")


class Repl:
    def __init__(self, env, *args, cols=200):
        self.p = pexpect.spawn(QM, ["run", "tiny", *args], env=env, encoding="utf-8", codec_errors="replace",
                               timeout=60, dimensions=(24, cols))
        self.p.expect_exact(">>> ")

    def ask(self, line):
        """Send a line; what came before the next prompt, from the line's end on."""
        self.p.sendline(line)
        self.p.expect_exact(">>> ")
        out = self.p.before
        i = out.find("\r\n")   # the echo of the line itself ends here
        return out[i + 2:] if i >= 0 else out

    def expect_answer(self, line, text):
        out = self.ask(line)
        assert out.endswith(tty(text) + "\r\n\r\n"), (out, text)

    def command(self, line, reply):
        self.p.sendline(line)
        self.p.expect_exact(reply)
        self.p.expect_exact(">>> ")

    def bye(self):
        self.p.sendline("/bye")
        self.p.expect(pexpect.EOF)
        self.p.close()
        return self.p.exitstatus


def test_repl_answers_as_the_api_does_and_keeps_the_conversation(daemon, env):
    r = Repl(env, "--nowordwrap")
    a1 = answer(daemon, [user("hello there")])
    r.expect_answer("hello there", a1)
    # the second turn carries the first: its answer is the API's for both turns
    a2 = answer(daemon, [user("hello there"), assistant(a1), user("and then")])
    assert a2 != answer(daemon, [user("and then")]), "the prompts should tell the two cases apart"
    r.expect_answer("and then", a2)
    # /clear forgets it
    r.command("/clear", "Cleared session context")
    r.expect_answer("and then", answer(daemon, [user("and then")]))
    assert r.bye() == 0


def test_multiline_input(daemon, env):
    r = Repl(env, "--nowordwrap")
    r.p.sendline('"""')
    r.p.expect_exact("... ")
    r.p.sendline("first line")
    r.p.expect_exact("... ")
    r.expect_answer('second line"""', answer(daemon, [user("first line\nsecond line")]))
    # opening and closing on one line
    r.command("/clear", "Cleared session context")
    r.expect_answer('"""one line"""', answer(daemon, [user("one line")]))
    assert r.bye() == 0


def test_set_system_and_parameters(daemon, env):
    r = Repl(env, "--nowordwrap")
    r.command("/set system You answer in riddles.", "Set system message.")
    sys = {"role": "system", "content": "You answer in riddles."}
    with_system = answer(daemon, [sys, user("who are you")])
    assert with_system != answer(daemon, [user("who are you")])
    r.expect_answer("who are you", with_system)
    r.command("/clear", "Cleared session context")   # the system message stays
    r.command("/set parameter num_predict 3", "Set parameter 'num_predict' to '3'")
    r.command("/set parameter stop <|x|> <|y|>", "Set parameter 'stop' to '<|x|>, <|y|>'")
    r.expect_answer("who are you", answer(daemon, [sys, user("who are you")], num_predict=3,
                                          stop=["<|x|>", "<|y|>"]))
    r.p.sendline("/show parameters")
    r.p.expect_exact("User defined parameters:")
    r.p.expect(r"num_predict +3\r\n")
    r.p.expect(r"stop +<\|x\|>\r\nstop +<\|y\|>\r\n")
    r.p.expect_exact("Model defined parameters:")
    r.p.expect(r"num_predict +8\r\n")
    r.p.expect_exact(">>> ")
    r.command("/show system", "You answer in riddles.")
    r.command("/set parameter nonsense 1", "Couldn't set parameter: unknown parameter 'nonsense'")
    r.command("/set parameter top_k lots", "Couldn't set parameter:")
    assert r.bye() == 0


def test_show_help_verbose_and_unknown_commands(daemon, env):
    r = Repl(env, "--nowordwrap")
    r.p.sendline("/show info")
    r.p.expect(r"architecture +qwen2")
    r.p.expect_exact(">>> ")
    r.command("/show modelfile", "FROM ")
    r.command("/show license", "No license was specified for this model.")
    r.command("/?", "/bye")
    r.command("/show", "/show modelfile")
    r.command("/nonsense", "Unknown command '/nonsense'. Type /? for help")
    r.command("/set verbose", "Set 'verbose' mode.")
    r.p.sendline("hi")
    r.p.expect(r"eval count: +\d+ token\(s\)")
    r.p.expect(r"eval rate: +[\d.]+ tokens/s")
    r.p.expect_exact(">>> ")
    assert r.bye() == 0


def test_ctrl_c_stops_an_answer_and_the_repl_goes_on(daemon, env):
    r = Repl(env, "--nowordwrap")
    # a long context, so that the answer below could go on for many seconds
    first = chat(daemon, [user("count forever")], num_ctx=16384)
    assert first["done_reason"] == "length"   # it does not end by itself early
    r.command("/set parameter num_ctx 16384", "Set parameter 'num_ctx' to '16384'")
    r.command("/set parameter num_predict 100000", "Set parameter 'num_predict' to '100000'")
    r.p.sendline("count forever")
    r.p.expect_exact(tty(first["message"]["content"]))   # it is streaming
    r.p.sendintr()
    r.p.expect_exact(">>> ")
    # Ctrl-C at the prompt does not exit
    r.p.sendintr()
    r.p.expect_exact("Use Ctrl + d or /bye to exit.")
    r.p.expect_exact(">>> ")
    # the stopped turn is forgotten: the next answer is that of a fresh conversation
    r.command("/set parameter num_predict 8", "Set parameter 'num_predict' to '8'")
    r.expect_answer("hello", answer(daemon, [user("hello")], num_ctx=16384))
    # one runner slot: that answer came after the cancelled request was over
    assert re.search(r"request \d+ done: cancel", daemon.read_log())
    assert r.bye() == 0


def test_ctrl_d_exits(env):
    r = Repl(env)
    r.p.sendeof()
    r.p.expect(pexpect.EOF)
    r.p.close()
    assert r.p.exitstatus == 0


def test_word_wrap(daemon, env):
    r = Repl(env, cols=24)
    # sampled (with a seed): this model then writes words with spaces between them
    opts = {"num_predict": 60, "temperature": 1.5, "seed": 7}
    for k, v in opts.items():
        r.command(f"/set parameter {k} {v}", f"Set parameter '{k}' to '{v}'")
    want = answer(daemon, [user("tell me a story")], **opts)
    assert " " in want.strip()
    out = r.ask("tell me a story")
    lines = out.split("\r\n")
    assert len(lines) > 3 and all(len(line) <= 24 for line in lines), lines
    assert "".join(out.split()) == "".join(want.split())   # the same text, broken elsewhere
    assert r.bye() == 0


def run(env, *args, stdin=""):
    return subprocess.run([QM, "run", *args], env=env, input=stdin, capture_output=True, text=True,
                          timeout=120)


def test_one_shot_with_an_argument(daemon, env):
    p = run(env, "tiny", "hello", "there")
    assert p.returncode == 0, p.stderr
    assert p.stdout == answer(daemon, [user("hello there")]) + "\n"
    assert ">>>" not in p.stdout


def test_one_shot_from_stdin(daemon, env):
    p = run(env, "tiny", stdin="what is this")
    assert p.returncode == 0, p.stderr
    assert p.stdout == answer(daemon, [user("what is this")]) + "\n"
    # an argument and stdin: stdin is appended to it
    p = run(env, "tiny", "summarise:", stdin="what is this")
    assert p.returncode == 0, p.stderr
    assert p.stdout == answer(daemon, [user("summarise: what is this")]) + "\n"


def test_one_shot_verbose_and_format(daemon, env):
    p = run(env, "tiny", "--verbose", "--format", "json", "--keepalive", "10m", "hello")
    assert p.returncode == 0, p.stderr
    assert re.search(r"prompt eval count: +\d+ token\(s\)", p.stderr)
    assert re.search(r"eval rate: +[\d.]+ tokens/s", p.stderr)
    p = run(env, "tiny", "--format", "yaml", "hello")
    assert p.returncode == 1 and p.stderr.startswith("Error: ")


def test_unknown_model_is_an_error(env):
    p = run(env, "no-such-model", "hello")
    assert p.returncode == 1
    assert re.search(r"^Error: .+", p.stderr, re.M), p.stderr
    assert p.stdout == ""
