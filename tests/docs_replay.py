"""The documentation replay: every console block of README.md and docs/*.md, run as printed.

A page is followed as a reader follows it, in one terminal: its `$ ` commands run in order
through bash, in a pseudo-terminal 100 columns wide (so tables print as the pages show them,
and `| cat` prints plain columns), standard input empty, the working directory a fresh
directory that holds `examples/` and `tests/` of the checkout and the files the page names;
what a command exports or a `cd` changes holds for the next ones. Each command must exit 0, or,
when the page shows it failing (an `aitc: ` line, unless the command prints `$?` itself), exit
non-zero; and print what the page shows, up to what varies from run to run (``MASKS``). A line
`…` in the output stands for lines left out; `…` inside a line, for text left out.

HTML comments before a block tell the replay what the page's reader has around them
(``<!-- replay: serve --lab examples/joint-lab.yaml --port 8600; token aitc_2TKU… bklein -->``),
as directives separated by `;`:

- ``serve ARGS``: a fresh `aitc serve ARGS` (with a state directory of its own unless ARGS name
  one, a free port for the one `--port` names, passes every 0.1 s, learners' labs on a Python
  any account may run) for this block and the page's next ones. The page's port stands for the
  real one in commands. A block whose first command is `./scripts/up` or
  `aitc serve` is that server: its output is compared with the server's from `aitc serving`.
- ``token PAGE-TOKEN MEMBER``: the page's (elided) token is a token of MEMBER (``admin``: the
  server's admin token).
- ``users NAME…``: Unix accounts the page's members run jobs as (created when missing).
- ``files NAME[:SECONDS]…``: Python scripts the page's commands run: each prints its arguments
  (then takes SECONDS).
- ``columns N``: the block's commands run in a terminal N columns wide (default 100).
- ``measured``: the block's figures are measured on the wall clock: compared without them.
- ``skip REASON``: the block is not run (the parse test still checks its `aitc` commands).
- ``slow REASON``: the block runs only with ``-m slow``, alone, without a server.

A command whose comment says ``# as MEMBER`` runs in MEMBER's own terminal (a copy of the
page's at its first command, then its own), with a token of MEMBER. Tokens, credential
ids and the like that a page can only show as some earlier output printed them stand for what
that output really printed. After each command the replay waits until the server has caught
up (no job starting or stopping, every pending job judged by a pass, none started in the last
1 s, two passes since), as a person typing would; at the end of a page it cancels what still
runs and stops the server.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import sysconfig
import tempfile
import termios
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COLUMNS = 100
COMMAND_TIMEOUT = 300.0

sys.path.insert(0, str(ROOT / "tests" / "control"))
sys.path.insert(0, str(ROOT / "tests" / "security"))
from security_lab import ensure_user  # noqa: E402
from server_proc import ServerProcess  # noqa: E402

# --- reading a page ---------------------------------------------------------------------------

FENCE = re.compile(r"^```console\n(.*?)^```", re.S | re.M)
COMMENT = re.compile(r"<!--\s*replay:((?:(?!-->).)*)-->\s*\Z", re.S)
AS_MEMBER = re.compile(r"#\s*as ([a-z][\w-]*)")


@dataclass
class Command:
    where: str  # page:line
    text: str  # as printed, continuation lines included
    shown: list[str] = field(default_factory=list)
    measured: bool = False  # its figures vary from run to run
    columns: int = COLUMNS  # the terminal's width

    @property
    def member(self) -> str | None:
        """The member whose terminal this is, when the command's comment says `# as NAME`."""
        last = self.text.splitlines()[-1]
        found = AS_MEMBER.search(last)
        return found[1] if found else None

    @property
    def fails(self) -> bool:
        """Whether the page shows it failing (and the command does not print `$?` itself)."""
        return any(line.startswith("aitc: ") for line in self.shown) and "$?" not in self.text


@dataclass
class Block:
    where: str
    directives: list[tuple[str, str]]
    commands: list[Command]

    def directive(self, kind: str) -> str | None:
        return next((rest for k, rest in self.directives if k == kind), None)


def page_blocks(page: Path) -> list[Block]:
    text = page.read_text()
    name = page.relative_to(ROOT).as_posix() if page.is_relative_to(ROOT) else page.name
    out = []
    for fence in FENCE.finditer(text):
        first = text[: fence.start()].count("\n") + 2
        comment = COMMENT.search(text[: fence.start()])
        directives = parse_directives(comment[1]) if comment else []
        block = Block(f"{name}:{first - 1}", directives, commands(fence[1], name, first))
        for command in block.commands:
            command.measured = block.directive("measured") is not None
            command.columns = int(block.directive("columns") or COLUMNS)
        out.append(block)
    return out


def parse_directives(text: str) -> list[tuple[str, str]]:
    """The directives of a comment; `skip` and `slow` take the rest as their reason."""
    out = []
    parts = text.split(";")
    while parts:
        kind, _, rest = parts.pop(0).strip().partition(" ")
        if kind not in {"serve", "token", "users", "files", "columns", "measured", "skip", "slow"}:
            raise ValueError(f"unknown replay directive {kind!r} in {text!r}")
        if kind in {"skip", "slow"}:
            rest, parts = ";".join([rest, *parts]), []
        out.append((kind, rest.strip()))
    return out


def commands(block: str, page: str, first: int) -> list[Command]:
    lines = block.splitlines()
    out: list[Command] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.startswith("$ "):
            if out:
                out[-1].shown.append(line)
            i += 1
            continue
        command = Command(f"{page}:{first + i}", line[2:])
        i += 1
        while i < len(lines) and continues(command.text, lines[i]):
            command.text += "\n" + lines[i]
            i += 1
        out.append(command)
    return out


def continues(text: str, line: str) -> bool:
    """Whether ``line`` is more of the command ``text`` (a `\\` at the end, an open quote or
    an unfinished compound command), as bash reads it."""
    if text.endswith("\\"):
        return True
    if not line.startswith(" "):
        return False
    check = subprocess.run(["bash", "-n", "-c", text], capture_output=True, text=True)
    return "unexpected end of file" in check.stderr or "unexpected EOF" in check.stderr


# --- what varies from run to run -------------------------------------------------------------

TOKEN = re.compile(r"aitc_[A-Za-z0-9_-]{4,}…?")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MASKS = [
    (TOKEN, "aitc_<token>"),
    (re.compile(r"(token=)[A-Za-z0-9_-]+…?"), r"\1<token>"),
    (UUID, "<uuid>"),
    (re.compile(r"(?<![\w-])[0-9a-f]{4,}…"), "<uuid>"),  # the start of one, as a page elides it
    (re.compile(r"did:key:z[1-9A-HJ-NP-Za-km-z]+(#z[1-9A-HJ-NP-Za-km-z]+)?"), "did:key:<key>"),
    (re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)?"), "<time>"),
    # a date alone (a table cell wraps a time onto the next line; an expiry a month ahead)
    (re.compile(r"(?<![\w-])\d{4}-\d\d-\d\d(?![\w-])"), "<date>"),
    (re.compile(r"\b\d+:\d\d:\d\d\b"), "<duration>"),
    (re.compile(r"\b(127\.0\.0\.1|localhost):\d+"), r"\1:<port>"),
    (re.compile(r"/tmp/[^\s│┃'\"]*"), "<tmp>"),
    (re.compile(r"\b(res|course-[a-z0-9-]+?)-[0-9a-f]{8}\b"), r"\1-<id>"),
    (re.compile(r"\(uid \d+\)"), "(uid <n>)"),
    (re.compile(r"[\d,]+ events/s"), "<rate> events/s"),  # aitc sim's speed, and wall time:
    (re.compile(r"(\d\.\d\dx[\s│]+)[\d.,]+([\s│]+)[\d,]+(\s*│)?$"), r"\1<wall>\2<rate>\3"),
    (re.compile(r"^(Unix accounts: )\d+"), r"\1<n>"),  # those of this machine
    (re.compile(r"^(\s*… and )\d+( more)$"), r"\1<n>\2"),
]
BOX_RUNS = re.compile(r"([━─═])\1+")


def normal(line: str, measured: bool = False) -> str:
    """A line as compared: what varies masked, runs of spaces and of box lines as one."""
    for pattern, replacement in MASKS:
        line = pattern.sub(replacement, line)
    if measured:
        line = re.sub(r"-?\d[\d,]*(\.\d+)?", "#", line)
    return BOX_RUNS.sub(r"\1", re.sub(r"\s+", " ", line)).strip()


def matches(shown: str, real: str, measured: bool = False) -> bool:
    pattern = normal(shown, measured)
    if "…" not in pattern:
        return pattern == normal(real, measured)
    parts = [re.escape(p) for p in pattern.split("…")]
    return re.fullmatch(".*".join(parts), normal(real, measured)) is not None


def compare(
    shown: list[str], real: list[str], measured: bool = False
) -> list[tuple[str, str]] | None:
    """The (shown, real) line pairs when ``real`` prints what ``shown`` shows, else None.

    ``shown`` is read as segments between lines `…`: the first matches where ``real`` starts,
    the last where it ends, the others in order in between.
    """
    shown = trim(shown)
    real = trim(real)
    if shown and (shown[0].lstrip().startswith(("{", "[")) or shown[0].startswith('{"')):
        return compare_json(shown, real)
    segments: list[list[str]] = [[]]
    for line in shown:
        if line.strip() == "…":
            segments.append([])
        else:
            segments[-1].append(line)
    pairs: list[tuple[str, str]] = []
    at = 0
    for n, segment in enumerate(segments):
        last = n == len(segments) - 1
        if n == 0:
            starts = [0]
        elif last and segment:
            starts = [len(real) - len(segment)]
        else:
            starts = list(range(at, len(real) - len(segment) + 1))
        found = next(
            (
                s
                for s in starts
                if s >= at
                and all(matches(a, b, measured) for a, b in zip(segment, real[s:], strict=False))
                and s + len(segment) <= len(real)
            ),
            None,
        )
        if found is None:
            return None
        pairs.extend(zip(segment, real[found:], strict=False))
        at = found + len(segment)
    if len(segments) == 1 and at != len(real):
        return None
    return pairs


def compare_json(shown: list[str], real: list[str]) -> list[tuple[str, str]] | None:
    """JSON as the page wraps it: compared without white space, `…` standing for any text."""
    page = re.sub(r"\s+", "", "".join(normal(line) for line in shown))
    text = re.sub(r"\s+", "", "".join(normal(line) for line in real))
    parts = [re.escape(p) for p in page.split("…")]
    if re.fullmatch(".*".join(parts), text, flags=re.S) is None:
        return None
    return [("\n".join(shown), "\n".join(real))]


def trim(lines: list[str]) -> list[str]:
    lines = [line.rstrip() for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return lines


# --- running a page ---------------------------------------------------------------------------


def in_terminal(
    argv: list[str], env: dict[str, str], cwd: Path, columns: int = COLUMNS
) -> tuple[int, str]:
    """Run ``argv`` with its output on a new pseudo-terminal ``columns`` wide; its exit status
    and what the terminal then shows (``screen``)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {**env, "COLUMNS": str(columns)}
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + COMMAND_TIMEOUT
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError as e:
                    if e.errno != errno.EIO:
                        raise
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break  # done, though something it started keeps the terminal open
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                raise AssertionError(f"{argv[-1]!r} did not end within {COMMAND_TIMEOUT} s")
    finally:
        os.close(master)
    code = proc.wait(30)
    return code, screen(b"".join(chunks).decode("utf-8", "replace"))


CONTROL = re.compile(
    r"(\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Z0-9]|\r|\n)"
)


def screen(raw: str) -> str:
    """The lines a terminal shows after ``raw``: a line a progress bar redraws (carriage
    return, cursor up, erase) once, as it was last drawn; colours and other controls dropped."""
    lines: list[list[str]] = [[]]
    row = col = 0
    for part in CONTROL.split(raw):
        if part == "\n":
            row, col = row + 1, 0
        elif part == "\r":
            col = 0
        elif part.startswith("\x1b["):
            count = int(part[2:-1]) if part[2:-1].isdigit() else 1
            if part[-1] == "A":
                row = max(0, row - count)
            elif part[-1] == "K":
                lines[row][col if part[2:-1] in ("", "0") else 0 :] = []
            elif part[-1] == "G":
                col = count - 1
        elif part and not part.startswith("\x1b"):
            while len(lines) <= row:
                lines.append([])
            line = lines[row]
            line.extend(" " * (col - len(line)))
            line[col : col + len(part)] = part
            col += len(part)
        while len(lines) <= row:
            lines.append([])
    return "\n".join("".join(line).rstrip() for line in lines)


@dataclass
class Learned:
    """Values a page shows that only an earlier output can give: page value -> real value."""

    values: dict[str, str] = field(default_factory=dict)

    def learn(self, pairs: list[tuple[str, str]]) -> None:
        """Learn from an output's (shown, real) lines: each value the page shows that is not
        known yet stands for the first real value of its kind not yet taken, in order."""
        for pattern in (TOKEN, UUID):
            page = [v.rstrip("…") for s, _ in pairs for v in pattern.findall(s)]
            found = [v for _, r in pairs for v in pattern.findall(r)]
            new = [v for v in dict.fromkeys(page) if v not in self.values]
            taken = set(self.values.values())
            free = [v for v in dict.fromkeys(found) if v not in taken]
            self.values.update(zip(new, free, strict=False))

    def put(self, text: str) -> str:
        """``text`` with every learned value (or an elided start of one, `fd10…`) replaced."""
        for page, real in sorted(self.values.items(), key=lambda kv: -len(kv[0])):
            for shown in re.findall(r"[\w-]{4,}…|" + re.escape(page), text):
                if page.startswith(shown.rstrip("…")):
                    text = text.replace(shown, real)
        return text


class PageRun:
    """One page followed in one terminal, with the servers its directives start."""

    def __init__(self, page: Path, record: Path | None = None) -> None:
        self.page = page
        self.record = record
        self.base = Path(tempfile.mkdtemp(prefix="aitc-docs-"))
        self.base.chmod(0o755)  # members' jobs start in the working directory
        self.cwd = self.base / "work"
        self.cwd.mkdir(mode=0o755)
        for name in ("examples", "tests"):
            (self.cwd / name).symlink_to(ROOT / name)
        self.bin = self.base / "bin"
        self.bin.mkdir(mode=0o755)
        (self.bin / "aitc").symlink_to(Path(sys.executable).with_name("aitc"))
        python = self.bin / "python"  # any account may run it; it has the server's packages
        site = sysconfig.get_paths()["purelib"]
        python.write_text(f'#!/bin/sh\nPYTHONPATH={site} exec /usr/bin/python3 "$@"\n')
        python.chmod(0o755)
        self.private = self.base / "private"
        self.private.mkdir(mode=0o700)
        self.env = self._environment()
        self.server: ServerProcess | None = None
        self.ports: dict[str, str] = {}
        self.tokens: dict[str, str] = {}  # member -> a token of theirs
        self.learned = Learned()
        self.ran = 0
        self.mismatches: list[str] = []

    def _environment(self) -> dict[str, str]:
        return {  # what a job's --export ALL takes: PATH, LANG and XDG_CONFIG_HOME
            "PATH": f"{self.bin}:/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "XDG_CONFIG_HOME": str(self.private / "xdg"),
            "TERM": "xterm",
            "COLUMNS": str(COLUMNS),
            "LINES": "50",
        }

    # the page's blocks

    def run(self, blocks: list[Block], *, slow: bool = False) -> None:
        for block in blocks:
            if block.directive("skip") is not None:
                continue
            if (block.directive("slow") is not None) != slow:
                continue
            self.prepare(block)
            todo = block.commands
            if todo and self.server_command(todo[0]):
                shown = todo[0].shown
                at = next((i for i, line in enumerate(shown) if line.startswith("aitc serving")), 0)
                banner = Command(todo[0].where, todo[0].text, shown[at:])
                self.check(banner, 0, "".join(self.server_output()))
                todo = todo[1:]
            for command in todo:
                self.execute(command)
        if self.mismatches:
            raise AssertionError("\n\n".join(self.mismatches))

    @staticmethod
    def server_command(command: Command) -> bool:
        return command.text.startswith(("./scripts/up", "aitc serve"))

    def server_output(self) -> list[str]:
        assert self.server is not None
        lines = self.server.output
        first = next(i for i, line in enumerate(lines) if line.startswith("aitc serving"))
        return lines[first:]

    def prepare(self, block: Block) -> None:
        for kind, rest in block.directives:
            if kind == "users":
                with ACCOUNTS:  # pages replayed side by side may need the same account
                    for name in rest.split():
                        ensure_user(name)
            elif kind == "files":
                for spec in rest.split():
                    name, _, seconds = spec.partition(":")
                    script = self.cwd / name
                    script.write_text(stub(float(seconds or 0)))
                    script.chmod(0o644)
            elif kind == "serve":
                self.serve(rest)
            elif kind == "token":
                shown, member = rest.split()
                self.learned.values[shown.rstrip("…")] = self.token(member)

    def serve(self, args: str) -> None:
        self.stop()
        words = args.split()
        if "--port" in words:
            at = words.index("--port") + 1
            page_port = words.pop(at)
            words.pop(at - 1)
        else:
            page_port = "8600"
        state = self.private / f"state{len(self.ports)}"
        if "--state-dir" in words:  # the page's own, in the working directory
            state = self.cwd / words[words.index("--state-dir") + 1]
        if "--lab-python" not in words:  # learners' labs: a Python their accounts may run
            words += ["--lab-python", str(self.bin / "python")]
        server = PageServer(
            state, words, self.cwd, {"XDG_CONFIG_HOME": self.env["XDG_CONFIG_HOME"]}
        )
        server.start()
        self.ports[page_port] = str(server.port)
        self.server = server
        self.tokens = {"admin": server.token or ""}

    def token(self, member: str) -> str:
        if member not in self.tokens:
            with self.admin() as api:
                made = api.post("/tokens", json={"member": member, "name": "docs"})
                made.raise_for_status()
                self.tokens[member] = made.json()["token"]
        return self.tokens[member]

    @contextlib.contextmanager
    def admin(self) -> Iterator[httpx.Client]:
        assert self.server is not None, "the page needs a server: add a `serve` directive"
        with self.server.client() as api:
            yield api

    # one command

    def execute(self, command: Command) -> None:
        text = self.learned.put(command.text)
        for page_port, port in self.ports.items():
            text = re.sub(rf"\b(127\.0\.0\.1|localhost):{page_port}\b", rf"\1:{port}", text)
        env = dict(self.env)
        member = command.member
        if member is not None:
            env["AITC_REPLAY_TOKEN"] = self.token(member)
        script = self.script(text, member)
        code, output = in_terminal(["bash", "-c", script], env, self.cwd, command.columns)
        self.ran += 1
        if (code != 0) != command.fails:
            expected = "to fail" if command.fails else "to exit 0"
            self.mismatches.append(
                f"{command.where}: `{command.text}` exited {code}, expected "
                f"{expected}; it printed:\n{output}"
            )
        self.check(command, code, output)
        if self.server is not None:
            self.settle()

    def script(self, text: str, member: str | None) -> str:
        """``text`` in bash, after what earlier commands of this terminal set (exported or
        not) in their working directory; what it sets is kept for the next. A member's terminal
        (`# as NAME`) starts as a copy of the page's, with the member's token."""
        state, cwd = self.private / f"env-{member}.sh", self.private / f"cwd-{member}"
        if member is not None and not state.exists():
            for mine, main in (
                (state, self.private / "env-None.sh"),
                (cwd, self.private / "cwd-None"),
            ):
                if main.exists():
                    shutil.copy(main, mine)
        lines = [
            "__base=\" $(compgen -v | tr '\\n' ' ') \"",
            f"[ -f {state} ] && . {state}",
            f'cd "$(cat {cwd} 2>/dev/null || pwd)"',
        ]
        if member is not None:
            lines.append('export AITC_TOKEN="$AITC_REPLAY_TOKEN"')
        lines += [
            "unset AITC_REPLAY_TOKEN",
            text,
            "__status=$?",
            "{ export -p; for __v in $(compgen -v); do",
            '  case "$__base" in *" $__v "*) ;;',
            '    *) [[ $__v == __* ]] || declare -p "$__v";; esac',
            f"done; }} > {state}",
            f"pwd > {cwd}",
        ]
        return "\n".join([*lines, "exit $__status"])

    def check(self, command: Command, code: int, output: str) -> None:
        real = output.splitlines()
        if self.record is not None:
            with self.record.open("a") as f:
                f.write(f"### {command.where} (exit {code})\n$ {command.text}\n{output}\n")
        pairs = compare(command.shown, real, command.measured)
        if pairs is None:
            shown = [line for line in trim(command.shown) if line.strip() != "…"]
            self.learned.learn(list(zip(shown, trim(real), strict=False)))  # for what follows
            self.mismatches.append(
                f"{command.where}: `{command.text}` printed what the page does not show.\n"
                "page:\n  " + "\n  ".join(trim(command.shown)) + "\n"
                "real:\n  " + "\n  ".join(trim(real))
            )
            return
        self.learned.learn(pairs)

    # the server catching up

    def settle(self, timeout: float = 60.0) -> None:
        """Wait until no job is starting or stopping, every pending job has been judged by a
        pass, no learner's lab is starting, and two passes began after the command ended."""
        deadline = time.monotonic() + timeout
        assert self.server is not None
        metrics = self.server.url + "/metrics"
        with self.admin() as api:
            first = passes(api, metrics)
            while True:
                jobs = api.get(
                    "/jobs", params={"state": ["pending", "starting", "running"], "limit": 1000}
                ).json()["data"]
                busy = [f"job {j['id']}" for j in jobs if moving(j)] or starting_labs(api)
                if not busy and passes(api, metrics) >= first + 2:
                    return
                if time.monotonic() > deadline:
                    raise AssertionError(f"the server did not settle: {busy} keep moving")
                time.sleep(0.1)

    def stop(self) -> None:
        """Cancel what still runs, then stop the server (SIGTERM, as Ctrl-C does)."""
        if self.server is None:
            return
        with contextlib.suppress(httpx.HTTPError), self.admin() as api:
            for job in api.get("/jobs", params={"state": ACTIVE, "limit": 1000}).json()["data"]:
                api.post(f"/jobs/{job['id']}/cancel")
            deadline = time.monotonic() + 60
            while api.get("/jobs", params={"state": ACTIVE}).json()["count"]:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        self.server.kill(signal.SIGTERM)
        self.server = None

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


ACTIVE = ["pending", "starting", "running"]
ACCOUNTS = threading.Lock()
JUST_STARTED = 1.0


def stub(seconds: float) -> str:
    """A script a page runs: it prints its arguments, then takes ``seconds``."""
    return f"import sys\nimport time\n\nprint(*sys.argv)\ntime.sleep({seconds})\n"


def instant(text: str) -> datetime:
    """A time of the API (ISO 8601, UTC when it names no offset)."""
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def moving(job: dict[str, Any]) -> bool:
    """Whether the job is about to change: starting, stopping, not judged by a pass yet, or
    running for less than ``JUST_STARTED`` seconds (a job that ends at once ends first)."""
    if job["state"] == "starting" or job["cancel_requested"]:
        return True
    if job["state"] == "running" and job["started_at"]:
        return (datetime.now(UTC) - instant(job["started_at"])).total_seconds() < JUST_STARTED
    return job["state"] == "pending" and not job["pending_reasons"]


def starting_labs(api: httpx.Client) -> list[str]:
    """The labs of sessions under way that are still starting (their server not answering)."""
    now = datetime.now(UTC)
    out = []
    for session in api.get("/course-sessions").json()["data"]:
        if session["start"] and session["end"] and instant(session["start"]) <= now:
            labs = api.get(f"/course-sessions/{session['id']}/labs").json()["data"]
            out += [f"lab of {lab['member']}" for lab in labs if lab["state"] == "starting"]
    return out


def passes(api: httpx.Client, metrics: str) -> int:
    """How many scheduling passes the server has made (its pass-duration histogram's count)."""
    text = api.get(metrics).text
    found = re.search(r"^aitc_scheduler_pass_duration_seconds_count (\S+)", text, flags=re.M)
    return int(float(found[1])) if found else 0


class PageServer(ServerProcess):
    """`aitc serve` with a page's arguments, on a state directory and a port of its own."""

    def __init__(self, state_dir: Path, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        super().__init__(state_dir, env=env, cwd=cwd)
        self.args = args

    def command(self) -> list[str]:
        aitc = str(Path(sys.executable).with_name("aitc"))
        where = ["--port", str(self.port), "--tick", "0.1"]
        if "--state-dir" not in self.args:
            where += ["--state-dir", str(self.state_dir)]
        return [aitc, "serve", *self.args, *where]
