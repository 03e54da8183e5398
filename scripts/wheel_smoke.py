"""The wheel is the product: build it, install it where the checkout cannot help, and use it.

Builds vconsole's wheel, installs it into a fresh virtualenv in a temporary
directory outside the checkout, and from there, in a private runtime
directory with only the lab as provider:

1. ``vconsole --version`` prints the wheel's version;
2. ``vconsole ls`` starts the broker and the lab and lists the demo fleet
   (so ``vconsole/lab/demo/`` is in the wheel);
3. in tmux, ``vconsole attach web 1`` prints red text, ``vconsole snapshot``
   saves the console, and ``vconsole show`` draws it: the red text must reach
   the pane in a red foreground (``capture-pane -e``), which needs the themes
   shipped in the wheel (``vconsole/themes/``);
4. ``vconsole shutdown --lab`` stops both daemons;
5. the service files: the package data (unit, themes, demo fleet) is inside
   the installed package, ``vconsole install-service --dry-run`` names the
   packaged unit and this virtualenv's command, ``--prefix`` writes it (and
   ``systemd-analyze verify`` accepts it, where installed), ``vconsole
   completion bash`` passes ``bash -n`` (and zsh's ``zsh -n``, where installed),
   ``vconsole help config`` prints the config keys.

Run by .ci/run after ``make test``; alone: ``python3 scripts/wheel_smoke.py``
(needs tmux, and the package index for the wheel's dependencies). Only the
standard library is used, so any python3 >= 3.11 runs it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO_GUESTS = ("web", "db", "cache", "alpine-pv", "legacy-hvm")
# Package data a user of the wheel needs, relative to the installed package.
PACKAGE_DATA = ("service/vconsole.service", "themes/vconsole-dark.toml", "lab/demo/fleet.toml")
SGR = re.compile(r"\x1b\[([0-9;:]*)m")


class SmokeFailed(Exception):
    """A step did not do what a user would expect; the message says which."""


def run(argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 300) -> str:
    """Run a command to completion; its stdout, or SmokeFailed with its output."""
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise SmokeFailed(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def build_and_install(work: Path) -> tuple[Path, Path]:
    """The built wheel and the ``vconsole`` script of a fresh virtualenv holding it."""
    dist = work / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dist), str(REPO)])
    wheels = sorted(dist.glob("vconsole-*.whl"))
    if len(wheels) != 1:
        raise SmokeFailed(f"expected one vconsole wheel in {dist}, found {wheels}")
    venv = work / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheels[0])], cwd=work)
    return wheels[0], venv / "bin" / "vconsole"


def private_env(work: Path) -> dict[str, str]:
    """The user's environment with private XDG directories, the lab only, nothing of the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "VCONSOLE_SOCKET", "TMUX")}
    for name in ("run", "state", "config"):
        (work / name).mkdir(mode=0o700)
    env.update(
        XDG_RUNTIME_DIR=str(work / "run"),
        XDG_STATE_HOME=str(work / "state"),
        XDG_CONFIG_HOME=str(work / "config"),
        VCONSOLE_PROVIDERS="lab",
        TERM="xterm-256color",
    )
    return env


class Pane:
    """One pane of a private tmux server, typed into and read like a person does."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.name = f"vcwheel-{uuid.uuid4().hex[:8]}"
        self.env = env
        self.tmux("new-session", "-d", "-x", "100", "-y", "30", "-c", str(cwd), "sh")

    def tmux(self, *args: str) -> str:
        """Run a tmux command on this server."""
        return run(["tmux", "-L", self.name, "-f", "/dev/null", *args], env=self.env, timeout=20)

    def type(self, *keys: str) -> None:
        """send-keys."""
        self.tmux("send-keys", "-t", "0", *keys)

    def wait_until(self, check: Callable[[str], bool], what: str, timeout: float = 30.0, escapes: bool = False) -> str:
        """The pane's text (with SGR sequences if ``escapes``) once ``check`` holds."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.tmux("capture-pane", "-p", *(["-e"] if escapes else []), "-t", "0")
            if check(screen):
                return screen
            if time.monotonic() > deadline:
                raise SmokeFailed(f"{what} never appeared; the pane shows:\n{screen}")
            time.sleep(0.2)

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        """The pane's text once ``text`` is on it."""
        return self.wait_until(lambda s: text in s, repr(text), timeout)

    def close(self) -> None:
        """Kill the tmux server and whatever runs in it."""
        subprocess.run(["tmux", "-L", self.name, "kill-server"], capture_output=True, env=self.env, timeout=20)


def foreground_at(line: str, text: str) -> str | None:
    """The foreground colour in effect where ``text`` starts in a ``capture-pane -e`` line.

    ``"31"`` style for the 16 colours, ``"5;N"`` for 256 colours, ``"2;R;G;B"``
    for truecolor; None for the terminal's default.
    """
    end = line.find(text)
    if end < 0:
        raise SmokeFailed(f"{text!r} is not on the line {line!r}")
    fg: str | None = None
    for match in SGR.finditer(line, 0, end):
        params = re.split("[;:]", match.group(1))
        i = 0
        while i < len(params):
            code = int(params[i] or 0)
            if code == 0 or code == 39:
                fg = None
            elif 30 <= code <= 37 or 90 <= code <= 97:
                fg = str(code)
            elif code == 38 and i + 1 < len(params):
                width = 3 if params[i + 1] == "5" else 5
                fg = ";".join(params[i + 1 : i + width])
                i += width - 1
            elif code == 48 and i + 1 < len(params):
                i += 2 if params[i + 1] == "5" else 4  # a background colour: skip its arguments
            i += 1
    return fg


def rgb(fg: str) -> tuple[int, int, int]:
    """An SGR foreground (as foreground_at gives it) as approximate RGB."""
    basic = [(0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229)]
    bright = [(127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255)]
    parts = [int(p) for p in fg.split(";")]
    if len(parts) == 1:
        code = parts[0]
        return basic[code - 30] if code < 90 else bright[code - 90]
    if parts[0] == 2:
        return parts[1], parts[2], parts[3]
    n = parts[1]
    if n < 16:
        return (basic + bright)[n]
    if n >= 232:
        grey = 8 + (n - 232) * 10
        return grey, grey, grey
    n -= 16
    steps = [0, 95, 135, 175, 215, 255]
    return steps[n // 36], steps[n // 6 % 6], steps[n % 6]


def check_colours(pane: Pane, vconsole: Path, snap: Path) -> None:
    """``vconsole show`` draws the snapshot's red text red, its plain text otherwise."""
    pane.type(f"{vconsole} show {snap}; echo SHOW-EXIT=$?", "Enter")
    screen = pane.wait_until(lambda s: "RED-42" in s and "plain-42" in s, "the red line in vconsole show", escapes=True)
    line = next(ln for ln in screen.splitlines() if "RED-42" in ln and "plain-42" in ln)
    red, plain = foreground_at(line, "RED-42"), foreground_at(line, "plain-42")
    if red is None or red == plain:
        raise SmokeFailed(f"RED-42 is not coloured apart from plain-42 (fg {red} vs {plain}): {line!r}")
    r, g, b = rgb(red)
    if not (r >= 128 and r - g >= 60 and r - b >= 60):
        raise SmokeFailed(f"RED-42 is drawn in {red} (rgb {r},{g},{b}), not red: {line!r}")
    print(f"wheel smoke: vconsole show draws RED-42 in SGR {red}, plain-42 in {plain}")
    pane.type("q")
    pane.wait_for("SHOW-EXIT=0")


def check_service_files(vconsole: Path, env: dict[str, str], work: Path) -> None:
    """The unit, themes and demo fleet come from the installed package; completion and help work."""
    package = Path(run([str(vconsole.with_name("python")), "-c", "import vconsole; print(vconsole.__file__)"], env=env, cwd=work).strip()).parent
    missing = [name for name in PACKAGE_DATA if not (package / name).is_file()]
    if missing:
        raise SmokeFailed(f"the installed package {package} lacks {missing}")
    unit = package / "service" / "vconsole.service"
    plan = run([str(vconsole), "install-service", "--dry-run"], env=env, cwd=work)
    if f"from {unit} (ExecStart={vconsole} serve --system)" not in plan:
        raise SmokeFailed(f"install-service --dry-run does not install {unit} running {vconsole}:\n{plan}")
    stage = work / "stage"
    stage.mkdir()
    run([str(vconsole), "install-service", "--prefix", str(stage)], env=env, cwd=work)
    installed = stage / "etc" / "systemd" / "system" / "vconsole.service"
    if f"ExecStart={vconsole} serve --system" not in installed.read_text():
        raise SmokeFailed(f"{installed} does not run {vconsole}")
    if shutil.which("systemd-analyze"):
        verdict = subprocess.run(["systemd-analyze", "verify", str(installed)], capture_output=True, text=True, timeout=60)
        said = (verdict.stdout + verdict.stderr).strip()
        if verdict.returncode != 0 or "vconsole.service" in said:
            raise SmokeFailed(f"systemd-analyze verify {installed}: {said}")
    print(f"wheel smoke: install-service installs {unit} (ExecStart={vconsole} serve --system)")
    for shell in ("bash", "zsh"):
        if shutil.which(shell) is None:
            continue
        script = work / f"completion.{shell}"
        script.write_text(run([str(vconsole), "completion", shell], env=env, cwd=work))
        run([shell, "-n", str(script)], env=env, cwd=work)
        print(f"wheel smoke: vconsole completion {shell} passes {shell} -n")
    if "[broker]" not in run([str(vconsole), "help", "config"], env=env, cwd=work):
        raise SmokeFailed("vconsole help config does not list [broker]")


def smoke(work: Path) -> None:
    """Every step; SmokeFailed at the first that fails."""
    if shutil.which("tmux") is None:
        raise SmokeFailed("tmux is required (apt-get install tmux)")
    wheel, vconsole = build_and_install(work)
    env = private_env(work)
    version = run([str(vconsole), "--version"], env=env, cwd=work).strip()
    if version != f"vconsole {wheel.name.split('-')[1]}":
        raise SmokeFailed(f"vconsole --version says {version!r} for {wheel.name}")
    where = run([str(vconsole.with_name("python")), "-c", "import vconsole; print(vconsole.__file__)"], env=env, cwd=work)
    if not where.startswith(str(work / "venv")):
        raise SmokeFailed(f"the installed vconsole is not the wheel's: {where}")
    print(f"wheel smoke: {wheel.name} installed in {work / 'venv'}; {version}")
    check_service_files(vconsole, env, work)

    listing = run([str(vconsole), "ls"], env=env, cwd=work, timeout=120)
    missing = [g for g in DEMO_GUESTS if g not in listing]
    if missing:
        raise SmokeFailed(f"vconsole ls lacks the demo fleet's {missing}:\n{listing}")
    print(f"wheel smoke: vconsole ls lists the demo fleet ({', '.join(DEMO_GUESTS)})")

    pane = Pane(env, work)
    try:
        pane.type(f"{vconsole} attach web 1", "Enter")
        pane.wait_for("root@web:~#")
        # The output differs from the typed line ("$((40+2))"), so seeing it proves the shell ran it.
        pane.type("printf '\\033[31m%s\\033[0m %s\\n' RED-$((40+2)) plain-$((40+2))", "Enter")
        pane.wait_for("RED-42 plain-42")
        pane.type("C-]", ".")
        pane.wait_for("detached")
        snap = work / "colour.vcsnap"
        run([str(vconsole), "snapshot", "web:1", "-o", str(snap)], env=env, cwd=work, timeout=60)
        check_colours(pane, vconsole, snap)
    finally:
        pane.close()
    run([str(vconsole), "shutdown", "--lab"], env=env, cwd=work, timeout=60)
    print("wheel smoke: passed")


def kill_leftovers(work: Path) -> None:
    """Daemons a failed run left behind, found by their pid files."""
    for pidfile in (work / "run").rglob("*.pid"):
        with contextlib.suppress(ValueError, OSError):
            os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)


def main() -> int:
    """Run the smoke test in a fresh temporary directory; 0 when every step passed."""
    # Short and outside the checkout: Unix socket paths must stay under 108 bytes.
    work = Path(tempfile.mkdtemp(prefix="vcwheel", dir="/tmp"))
    try:
        smoke(work)
    except (SmokeFailed, subprocess.TimeoutExpired) as exc:
        sys.stderr.write(f"wheel smoke: FAILED: {exc}\n")
        return 1
    finally:
        kill_leftovers(work)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
