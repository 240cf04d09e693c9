"""Runs every shell block of README.md and docs/*.md against a local stack, as a reader would
paste them, and checks the answers the docs show. Run by scripts/docs-test (and so by
scripts/test); the conventions are in CONTRIBUTING.md ("Docs whose blocks run").

Per page, in order:
- a fenced block whose info string starts with `sh` is a shell block; the words after `sh` are
  its tags: `stack` (it starts the local stack: run in the background, waited for on
  /auth/health, stopped at the end of the page or by the next `stack` block), `aws` (needs an
  AWS account: not run), `skip` (not run: the test command itself or part of it, a command that
  destroys the reader's data, a tool the test peers do not install, a second build of the tree);
- every other shell block runs in one bash session per page (variables carry over from block to
  block, as in a terminal), in a sandbox folder that looks like the repository (every top-level
  entry linked) with a fresh `.data`, so files a block writes and the stack's store stay out of
  the work tree; a page with no `stack` block before its first block gets a plain
  `cargo run -p rampart-local` started for it;
- the only substitutions are the ports: every `127.0.0.1:<port>` (and the Stripe stub's port
  argument) is moved to a free port, and `BIND_ADDR` is set to the stack's, so the stack,
  `curl` and `rampart-local send` agree; `cargo` runs against this repository (`--manifest-path`)
  and `cargo run` quietly;
- a command's shown answer is the run of `# ` lines right after it (a line starting `#  ` with
  two spaces continues the previous one); its output must have as many lines and each must match,
  `…` standing for any text. A command with no shown answer must exit 0. A comment that is not
  an answer goes before its command, or after a blank line.

Usage: python3 scripts/docs_test.py [FILE ...]   (default: README.md, CONTRIBUTING.md, docs/*.md)
DOCS_TEST_SHOW=1 prints every command with its output (to write a block's answers).
"""

import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TAGS = {"stack", "aws", "skip"}
BLOCK_TIMEOUT = 180  # seconds for one block
STACK_TIMEOUT = 300  # seconds for a stack to answer /auth/health (it may have to build first)
LOOPBACK_PORT = re.compile(r"(?<=127\.0\.0\.1:)(\d{2,5})\b")
STUB_PORT = re.compile(r"(?<=stripe_stub\.py )(\d{2,5})\b")


class Block:
    def __init__(self, page, line, tags, lines):
        self.page, self.line, self.tags, self.lines = page, line, tags, lines

    @property
    def where(self):
        return f"{self.page}:{self.line}"


class DocsError(Exception):
    pass


def blocks_of(page):
    """The shell blocks of a page, with their tags and the line of their first command."""
    text = (REPO / page).read_text().split("\n")
    out, i = [], 0
    while i < len(text):
        m = re.match(r"^(\s*)(```+)\s*(.*)$", text[i])
        if not m:
            i += 1
            continue
        fence, info = m.group(2), m.group(3).split()
        body, j = [], i + 1
        while j < len(text) and not text[j].strip().startswith(fence):
            body.append(text[j])
            j += 1
        if info and info[0] in ("sh", "bash", "shell"):
            tags = set(info[1:])
            unknown = tags - TAGS
            if unknown:
                raise DocsError(
                    f"{page}:{i + 1}: unknown tag(s) {sorted(unknown)} on a shell block; "
                    f"known: {sorted(TAGS)} (CONTRIBUTING.md)"
                )
            out.append(Block(page, i + 2, tags, body))
        i = j + 1
    return out


def is_complete(text):
    """Whether `text` is a complete shell command (bash parses it on its own)."""
    if text.rstrip().endswith("\\"):
        return False
    return subprocess.run(["bash", "-n"], input=text, text=True, capture_output=True).returncode == 0


def commands_of(block):
    """[(first line number, command text, [shown answer lines])] of a block."""
    cmds, lines, k = [], block.lines, 0
    while k < len(lines):
        line = lines[k]
        if not line.strip() or line.lstrip().startswith("#"):
            k += 1
            continue
        start, text = k, line
        while not is_complete(text):
            k += 1
            if k >= len(lines):
                why = subprocess.run(["bash", "-n"], input=line, text=True, capture_output=True).stderr
                raise DocsError(
                    f"{block.page}:{block.line + start}: not a complete shell command: {line!r}\n"
                    f"  bash -n: {why.strip() or 'it never ends (a quote or a trailing backslash)'}"
                )
            text += "\n" + lines[k]
        k += 1
        answer = []
        while k < len(lines) and lines[k].startswith("#"):
            shown = lines[k]
            if shown.startswith("#  ") and answer:
                answer[-1] += shown[3:]
            else:
                answer.append(shown[2:] if shown.startswith("# ") else shown[1:])
            k += 1
        cmds.append((block.line + start, text, answer))
    return cmds


def matches(shown, got):
    pattern = "".join(".*" if part == "…" else re.escape(part) for part in re.split("(…)", shown))
    return re.fullmatch(pattern, got, re.S) is not None


def group_alive(pgid):
    """Whether any process of the group is left (zombies of our own children aside)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if not Path("/proc/self/stat").exists():
        return True  # no /proc: a zombie counts as alive until the deadline's SIGKILL
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Page:
    """One page's sandbox, port map, stack and bash session."""

    def __init__(self, page, base_env, work):
        self.page = page
        self.dir = Path(tempfile.mkdtemp(prefix="page-", dir=work))
        for entry in REPO.iterdir():
            if entry.name not in (".data", ".git"):
                (self.dir / entry.name).symlink_to(entry)
        (self.dir / ".data").mkdir()
        self.ports = {}
        self.env = dict(base_env)
        self.env["BIND_ADDR"] = f"127.0.0.1:{self.port('3000')}"
        self.stack = None
        self.stack_log = self.dir / "stack.log"
        self.shell = None
        self.out = queue.Queue()
        self.seq = 0

    def port(self, reader_port):
        if reader_port not in self.ports:
            self.ports[reader_port] = str(free_port())
        return self.ports[reader_port]

    def substitute(self, text):
        text = LOOPBACK_PORT.sub(lambda m: self.port(m.group(1)), text)
        return STUB_PORT.sub(lambda m: self.port(m.group(1)), text)

    def prelude(self):
        return (
            f'cargo() {{ local sub="$1"; shift; case "$sub" in\n'
            f'  run) command cargo run --quiet --manifest-path "{REPO}/Cargo.toml" "$@" ;;\n'
            f'  build|test) command cargo "$sub" --manifest-path "{REPO}/Cargo.toml" "$@" ;;\n'
            f'  *) command cargo "$sub" "$@" ;;\n'
            f"esac; }}\n"
        )

    # The stack ---------------------------------------------------------------------------

    def start_stack(self, script, where):
        self.stop_stack()
        path = self.dir / f"stack-{self.seq}.sh"
        self.seq += 1
        path.write_text(self.prelude() + self.substitute(script) + "\n")
        log = open(self.stack_log, "a")
        self.stack = subprocess.Popen(
            ["bash", str(path)], cwd=self.dir, env=self.env, stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        url = f"http://127.0.0.1:{self.port('3000')}/auth/health"
        deadline = time.monotonic() + STACK_TIMEOUT
        while time.monotonic() < deadline:
            if self.stack.poll() is not None:
                raise DocsError(f"{where}: the stack exited ({self.stack.returncode}) before it "
                                f"answered {url}; its output:\n{self.stack_log.read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise DocsError(f"{where}: no answer from {url} within {STACK_TIMEOUT} s; "
                        f"the stack's output:\n{self.stack_log.read_text()}")

    def stop_stack(self):
        """SIGTERM to the stack's whole process group (bash, cargo, rampart-local, a stub), then
        waits until every member is gone, so the next stack finds its port free."""
        if self.stack is None:
            return
        pgid = self.stack.pid
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 15
        while group_alive(pgid):
            self.stack.poll()
            if time.monotonic() > deadline:
                os.killpg(pgid, signal.SIGKILL)
                deadline = time.monotonic() + 5
            time.sleep(0.05)
        self.stack.wait()
        self.stack = None

    # The bash session --------------------------------------------------------------------

    def start_shell(self):
        self.shell = subprocess.Popen(
            ["bash", "--noprofile", "--norc"], cwd=self.dir, env=self.env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True, bufsize=1,
        )

        def pump(stream, q):
            for line in stream:
                q.put(line)
            q.put(None)

        threading.Thread(target=pump, args=(self.shell.stdout, self.out), daemon=True).start()
        self.shell.stdin.write(self.prelude() + "set -o pipefail\n")
        self.shell.stdin.flush()

    def run(self, block):
        """Runs a block in the page's session; returns [(line, command, answer, output, rc)]."""
        if self.shell is None:
            self.start_shell()
        cmds = commands_of(block)
        n = self.seq
        self.seq += 1
        script = []
        for i, (_, text, _) in enumerate(cmds):
            script.append(f"printf '@@BEGIN {n}.{i}@@\\n'")
            script.append(self.substitute(text))
            script.append(f"printf '\\n@@END {n}.{i} %s@@\\n' \"$?\"")
        path = self.dir / f"block-{n}.sh"
        path.write_text("\n".join(script) + "\n")
        self.shell.stdin.write(f"source {path} </dev/null\nprintf '\\n@@DONE {n}@@\\n'\n")
        self.shell.stdin.flush()
        outputs, current, buf, rc = {}, None, [], {}
        deadline = time.monotonic() + BLOCK_TIMEOUT
        while True:
            try:
                line = self.out.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise DocsError(f"{block.where}: the block did not finish within {BLOCK_TIMEOUT} s")
            if line is None:
                raise DocsError(f"{block.where}: the shell exited; output so far:\n{''.join(buf)}")
            if line.startswith(f"@@BEGIN {n}."):
                current, buf = int(line.split(".")[1].rstrip("@\n")), []
                continue
            m = re.match(rf"@@END {n}\.(\d+) (\d+)@@", line)
            if m:
                text = "".join(buf)
                if text.endswith("\n"):
                    text = text[:-1]  # the newline printed before the marker
                outputs[int(m.group(1))] = text
                rc[int(m.group(1))] = int(m.group(2))
                current, buf = None, []
                continue
            if line.startswith(f"@@DONE {n}@@"):
                break
            if line.strip() == "" and current is None:
                continue
            buf.append(line)
        return [
            (ln, text, [self.substitute(a) for a in answer], outputs.get(i), rc.get(i))
            for i, (ln, text, answer) in enumerate(cmds)
        ]

    def close(self):
        if self.shell is not None:
            try:
                self.shell.stdin.close()
            except OSError:
                pass
            try:
                os.killpg(self.shell.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self.shell.wait()
        self.stop_stack()


def check(results):
    """Failure messages for the commands of one block."""
    problems = []
    for line, text, answer, output, rc in results:
        if os.environ.get("DOCS_TEST_SHOW") == "1":
            print(f"--- line {line} (exit {rc}): {text}\n{output}", flush=True)
        shown_cmd = text.split("\n")[0] + (" …" if "\n" in text else "")
        if output is None:
            problems.append(f"line {line}: `{shown_cmd}` did not run (an earlier command ended the block)")
            continue
        got = [l.rstrip() for l in output.rstrip("\n").split("\n")] if output.strip() else []
        if answer:
            ok = len(got) == len(answer) and all(matches(a.rstrip(), g) for a, g in zip(answer, got))
            if not ok:
                problems.append(
                    f"line {line}: `{shown_cmd}` answered differently from what the page shows\n"
                    + "".join(f"    shown: {a}\n" for a in answer)
                    + "".join(f"    got:   {g}\n" for g in got or ["(nothing)"])
                    + f"    (exit status {rc})"
                )
        elif rc != 0:
            problems.append(
                f"line {line}: `{shown_cmd}` exited {rc}\n"
                + "".join(f"    {g}\n" for g in got[-20:])
            )
    return problems


def base_env():
    """The caller's environment without any Rampart setting or secret, so every page starts
    from the defaults a reader has (the names come from docs/configuration.md's tables)."""
    names = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", (REPO / "docs/configuration.md").read_text(), re.M))
    env = {k: v for k, v in os.environ.items() if k not in names and not k.startswith("AWS_")}
    env["RUST_LOG"] = "warn"
    return env


def main(argv):
    pages = argv or ["README.md", "CONTRIBUTING.md"] + sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md"))
    work = Path(tempfile.mkdtemp(prefix="rampart-docs-"))
    env = base_env()
    started = time.monotonic()
    ran, skipped, failures = 0, [], []
    try:
        for page in pages:
            t0 = time.monotonic()
            blocks = blocks_of(page)
            runnable = [b for b in blocks if not b.tags & {"aws", "skip"}]
            for b in blocks:
                if b.tags & {"aws", "skip"}:
                    tag = "aws" if "aws" in b.tags else "skip"
                    first = next((l for l in b.lines if l.strip() and not l.startswith("#")), "")
                    skipped.append(f"{b.where} ({tag}): {first.strip()}")
            if not runnable:
                continue
            p = Page(page, env, work)
            page_ran = 0
            try:
                for b in runnable:
                    if "stack" in b.tags:
                        p.start_stack("\n".join(b.lines), b.where)
                        page_ran += 1
                        continue
                    if p.stack is None:
                        p.start_stack("cargo run -p rampart-local", f"{page} (implicit stack)")
                    problems = check(p.run(b))
                    page_ran += 1
                    if problems:
                        failures.append(f"{b.where}: the block failed\n  " + "\n  ".join(problems))
                        break
            except DocsError as e:
                failures.append(str(e))
            finally:
                p.close()
            ran += page_ran
            print(f"docs: {page}: {page_ran} block(s) run in {time.monotonic() - t0:.1f} s", flush=True)
    except DocsError as e:
        failures.append(str(e))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for s in skipped:
        print(f"docs: not run: {s}")
    for f in failures:
        print(f"\nFAILED {f}", file=sys.stderr)
    print(f"docs: {ran} passed, {len(failures)} failed, {len(skipped)} skipped "
          f"in {time.monotonic() - started:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
