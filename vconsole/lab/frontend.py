"""A lab domU's PV console frontend: the guest kernel's hvc_xen driver, as a process.

The lab starts one per domU::

    python -m vconsole.lab.frontend --page PAGE --evtchn FD --hvc FD \\
        --kind flag-aware|legacy [--name NAME] -- PROGRAM ARGS...

It runs the domU's program on an inner pty (the guest's ``hvc0``) and moves
bytes between that pty and the shared ``struct xencons_interface`` page:

* guest output -> ``out`` ring (notify the backend on the event channel);
* ``in`` ring -> guest input (notify the backend that space was freed).

Two kinds of guest, as in ``004_...`` of the seeds:

* ``flag-aware``: while ``connection`` is not XENCONSOLE_CONNECTED, output
  goes to the hypervisor console (records sent to the lab, which keeps the
  bounded log ``xl dmesg`` would show) and never blocks; once it sees
  CONNECTED (notified, or by its poll) it uses the ring;
* ``legacy``: always the ring; while the ring is full it yields (stops reading
  the pty, so the guest program blocks on its own writes) and counts the time
  it waited.

Either kind yields while the ring is full and CONNECTED (a backend that died
with SIGKILL leaves the flag CONNECTED: output waits in the ring for the next
backend, nothing is dropped).  A corrupt ring is never touched: the frontend
waits and retries, as the guest's driver would refuse to use it.

The lab pings over the ``--hvc`` socket (see ``hypervisor_log``); the answer
tells it that every hypervisor-console byte written before the answer has been
sent, and which ``connection`` value the frontend now acts on.  The broker
uses this as the barrier between the hypervisor log and the ring.
"""

from __future__ import annotations

import argparse
import errno
import os
import select
import selectors
import signal
import socket
import sys
import time
from types import FrameType

from ptyprocess import PtyProcess, PtyProcessError

from vconsole.console.eventchannel import EventChannel
from vconsole.console.xenring import XENCONSOLE_CONNECTED, RingCorrupt, XenConsoleRing
from vconsole.lab.hypervisor_log import ACK, DATA, PING, RESTORE, WAITED, RecordReader, record
from vconsole.lab.vtty import kill_session

KINDS = ("flag-aware", "legacy")
READ_CHUNK = 16 * 1024
IDLE_POLL = 0.5  # fallback poll of the flag and the in ring (events are the fast path)
FULL_POLL = 0.02  # while the ring is full: yield, then look again
EXIT_FLUSH = 3.0  # after the program exits, how long to wait for ring space
WAITED_REPORT = 0.25  # at most this often, tell the lab how long we waited


class Frontend:
    """One domU's console frontend."""

    def __init__(
        self,
        ring: XenConsoleRing,
        evtchn: EventChannel,
        hvc: socket.socket,
        kind: str,
        name: str,
    ) -> None:
        self.ring = ring
        self.evtchn = evtchn
        self.hvc = hvc
        self.kind = kind
        self.name = name
        self.out = bytearray()  # read from the pty, not yet placed
        self.inp = bytearray()  # taken from the in ring, not yet written to the pty
        self.waited = 0.0
        self._wait_since: float | None = None
        self._waited_sent = 0.0
        self._corrupt_logged = False
        self._hvc_reader = RecordReader()
        self._stop = False

    # --- helpers -----------------------------------------------------------

    def _log(self, message: str) -> None:
        print(f"frontend {self.name}: {message}", file=sys.stderr, flush=True)

    def _use_hypervisor_console(self) -> bool:
        return self.kind == "flag-aware" and self.ring.connection != XENCONSOLE_CONNECTED

    def _corrupt(self, exc: RingCorrupt) -> None:
        if not self._corrupt_logged:
            self._log(f"{exc}; waiting for a sane ring")
            self._corrupt_logged = True

    def _send_hvc(self, kind: bytes, payload: bytes = b"") -> None:
        self.hvc.sendall(record(kind, payload))

    # --- the two directions --------------------------------------------------

    def flush_out(self) -> bool:
        """Place pending guest output; True if some is still waiting for ring space."""
        if not self.out:
            return False
        if self._use_hypervisor_console():
            self._send_hvc(DATA, bytes(self.out))
            self.out.clear()
            return False
        try:
            n = self.ring.write_out(self.out)
        except RingCorrupt as exc:
            self._corrupt(exc)
            n = 0
        else:
            self._corrupt_logged = False
        if n:
            del self.out[:n]
            self.evtchn.notify()
        return bool(self.out)

    def room(self) -> int:
        """How much guest output we may take from the pty now.

        Like hvc_xen, only what fits in the ring: the rest stays in the guest's
        tty, whose writer blocks once that fills.  The hypervisor console
        takes anything (a flag-aware guest never blocks before connect).
        """
        if self._use_hypervisor_console():
            return READ_CHUNK
        try:
            return min(READ_CHUNK, self.ring.out_space)
        except RingCorrupt as exc:
            self._corrupt(exc)
            return 0

    def account_wait(self, waiting: bool) -> None:
        """Count the time the guest had output and the ring had no room."""
        if waiting:
            if self._wait_since is None:
                self._wait_since = time.monotonic()
            return
        if self._wait_since is not None:
            now = time.monotonic()
            self.waited += now - self._wait_since
            self._wait_since = None
            if now - self._waited_sent >= WAITED_REPORT:  # a flood ends waits often
                self._waited_sent = now
                self._send_hvc(WAITED, f"{self.waited:.6f}".encode())

    def take_input(self, master: int) -> None:
        """Move the in ring to the guest's pty as far as the pty takes it."""
        if not self.inp:
            try:
                data = self.ring.read_in()
            except RingCorrupt as exc:
                self._corrupt(exc)
                data = b""
            if data:
                self.inp += data
                self.evtchn.notify()  # space in "in": the backend may send more
        if self.inp:
            try:
                n = os.write(master, self.inp)
            except BlockingIOError:
                n = 0
            except OSError:
                n = len(self.inp)  # the guest is gone; its input with it
            del self.inp[:n]

    def on_hvc(self) -> bool:
        """Answer the lab's pings; False when the lab has gone."""
        try:
            data = self.hvc.recv(4096, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return True
        except OSError:
            return False
        if not data:
            return False
        for kind, payload in self._hvc_reader.feed(data):
            if kind == PING:
                # Everything sent to the hypervisor console so far precedes this
                # answer on the stream; from now on we act on `connection`.
                self.flush_out()
                conn = self.ring.connection
                self._send_hvc(ACK, payload[:8] + bytes([conn & 0xFF]))
            elif kind == RESTORE:
                # Output restored from a snapshot: it was written before
                # anything still waiting here, so it goes first.
                self.out[:0] = payload[8:]
                self.flush_out()
                self._send_hvc(ACK, payload[:8] + bytes([self.ring.connection & 0xFF]))
        return True

    # --- main loop -------------------------------------------------------------

    def run(self, argv: list[str], env: dict[str, str]) -> int:
        """Run the program and service its console until it exits."""
        proc = PtyProcess.spawn(argv, env=env, dimensions=(24, 80))
        master = proc.fd
        os.set_blocking(master, False)
        self.hvc.setblocking(True)

        def terminate(signum: int, frame: FrameType | None) -> None:
            self._stop = True

        signal.signal(signal.SIGTERM, terminate)
        signal.signal(signal.SIGINT, terminate)
        sel = selectors.DefaultSelector()
        sel.register(self.evtchn.fileno(), selectors.EVENT_READ, "evtchn")
        sel.register(self.hvc.fileno(), selectors.EVENT_READ, "hvc")
        master_events = 0
        pty_eof = False
        eof_at = 0.0
        try:
            while not self._stop:
                full = self.flush_out()
                self.take_input(master)
                if pty_eof and (not full or time.monotonic() - eof_at > EXIT_FLUSH):
                    break
                room = 0 if full or pty_eof else self.room()
                if not full and not room and not pty_eof:
                    # The ring is full: is the guest waiting to write?
                    full = bool(select.select([master], [], [], 0)[0])
                self.account_wait(full)
                want = 0
                if room:
                    want |= selectors.EVENT_READ
                if self.inp and not pty_eof:
                    want |= selectors.EVENT_WRITE
                if want != master_events:
                    if master_events:
                        sel.unregister(master)
                    if want:
                        sel.register(master, want, "pty")
                    master_events = want
                timeout = FULL_POLL if (full or self.inp) else IDLE_POLL
                for key, mask in sel.select(timeout):
                    if key.data == "evtchn":
                        self.evtchn.consume()
                        if self.evtchn.peer_closed:
                            sel.unregister(self.evtchn.fileno())
                    elif key.data == "hvc":
                        if not self.on_hvc():
                            self._log("the lab has gone; shutting down")
                            self._stop = True
                    elif mask & selectors.EVENT_READ:
                        try:
                            data = os.read(master, room)
                        except BlockingIOError:
                            data = None
                        except OSError as exc:  # EIO: the program and its children exited
                            if exc.errno != errno.EIO:
                                self._log(f"pty read: {exc}")
                            data = b""
                        if data == b"":
                            pty_eof = True
                            eof_at = time.monotonic()
                        elif data:
                            self.out += data
        finally:
            kill_session(proc.pid, signal.SIGHUP)
            kill_session(proc.pid, signal.SIGKILL)
            try:
                _pid, status = os.waitpid(proc.pid, 0)
                code = os.waitstatus_to_exitcode(status)
            except ChildProcessError:
                code = 0
            proc.terminated = True
            proc.closed = True
            try:
                os.close(master)
            except OSError:
                pass
        return code if code >= 0 else 128 - code


def main(args: list[str] | None = None) -> int:
    """Entry point of ``python -m vconsole.lab.frontend``."""
    parser = argparse.ArgumentParser(prog="vconsole.lab.frontend")
    parser.add_argument("--page", required=True)
    parser.add_argument("--evtchn", type=int, required=True)
    parser.add_argument("--hvc", type=int, required=True)
    parser.add_argument("--kind", choices=KINDS, default="flag-aware")
    parser.add_argument("--name", default="domU")
    parser.add_argument("program", nargs=argparse.REMAINDER)
    ns = parser.parse_args(args)
    argv = ns.program[1:] if ns.program[:1] == ["--"] else ns.program
    if not argv:
        parser.error("no program to run")
    ring = XenConsoleRing.open(ns.page)
    evtchn = EventChannel(ns.evtchn)
    hvc = socket.socket(fileno=ns.hvc)
    frontend = Frontend(ring, evtchn, hvc, ns.kind, ns.name)
    try:
        return frontend.run(argv, dict(os.environ))
    except (OSError, PtyProcessError) as exc:
        # The program cannot run: one line in the lab's log, the shell's "cannot run" status.
        sys.stderr.write(f"vconsole.lab.frontend: {ns.name}: {argv[0]}: {exc}\n")
        return 127
    finally:
        evtchn.close()
        hvc.close()
        ring.close()


if __name__ == "__main__":
    sys.exit(main())
