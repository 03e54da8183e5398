"""The built-in signatures on real-looking kernel lines, the ignore lists, user watches from config."""

from __future__ import annotations

import pytest

from vconsole.domain import Severity
from vconsole.watches.matcher import LineMatcher
from vconsole.watches.signatures import BUILTIN, parse_watches


def _names(line: bytes) -> list[str]:
    """The names of the built-in watches a complete line hits (its text checked too)."""
    hits = LineMatcher(BUILTIN).feed(line)
    assert all(h.text == line.decode().rstrip("\r\n") for h in hits)
    return [h.name for h in hits]


@pytest.mark.parametrize(
    ("line", "name"),
    [
        (b"[   12.345678] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\r\n", "panic"),
        (b"[   88.100001] Oops: 0002 [#1] SMP PTI\n", "oops"),
        (b"[   88.100000] BUG: unable to handle page fault for address: 0000000000001234\n", "oops"),
        (b"[    3.000000] kernel BUG at mm/slub.c:4006!\n", "oops"),
        (b"[  401.2] Out of memory: Killed process 2048 (stress) total-vm:1052160kB, anon-rss:1000000kB\n", "oom"),
        (b"[  401.1] stress invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0\n", "oom"),
        (b"[  245.7] INFO: task jbd2/sda1-8:210 blocked for more than 120 seconds.\n", "hung-task"),
        (b"[  300.0] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [kworker/1:2:123]\n", "lockup"),
        (b"[  300.0] NMI watchdog: Watchdog detected hard LOCKUP on cpu 3\n", "lockup"),
        (b"[  500.0] INFO: rcu_sched detected stalls on CPUs/tasks:\n", "rcu-stall"),
        (b"[  500.0] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:\n", "rcu-stall"),
        (b"[    9.9] init[1]: segfault at 0 ip 00007f sp 00007ffd error 4 in libc.so.6\n", "init-died"),
        (b"[   20.0] EXT4-fs (vda1): Remounting filesystem read-only\n", "read-only-remount"),
        (b"[   20.0] XFS (vdb): Filesystem has been remounted read-only\n", "read-only-remount"),
    ],
)
def test_each_builtin_signature_hits_its_kernel_line(line: bytes, name: str) -> None:
    assert _names(line) == [name]


def test_a_panic_for_killing_init_is_both_a_panic_and_init_dying() -> None:
    line = b"[ 1.0] Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b\n"
    assert _names(line) == ["panic", "init-died"]


def test_severities_are_ordered_and_the_panic_is_critical() -> None:
    assert Severity.INFO < Severity.WARNING < Severity.ERROR < Severity.CRITICAL
    assert max([Severity.WARNING, Severity.CRITICAL, Severity.INFO]) is Severity.CRITICAL
    assert {s.name: s.severity for s in BUILTIN}["panic"] is Severity.CRITICAL
    assert {s.name: s.severity for s in BUILTIN}["login"] is Severity.INFO


@pytest.mark.parametrize(
    "line",
    [
        b"[    0.1] NMI watchdog: Perf event create on CPU 0 failed with -2\n",
        b"[    0.1] NMI watchdog: Shutting down hard lockup detector on all cpus\n",
        b"[    0.0] Kernel command line: BOOT_IMAGE=/vmlinuz root=/dev/vda1 panic=10 oops=panic "
        b"test='Kernel panic - not syncing' init=/bin/sh\n",
        b"[  900.0] systemd-shutdown[1]: All filesystems remounted read-only.\n",
        b"web login: root\n",  # the prompt answered: not a prompt any more
        b"the word login: inside a sentence\n",
    ],
)
def test_the_ignore_lists_suppress_known_false_positives(line: bytes) -> None:
    assert _names(line) == []


def test_a_login_prompt_without_newline_hits_when_flushed() -> None:
    matcher = LineMatcher(BUILTIN, offset=100)
    assert matcher.feed(b"\r\nDebian GNU/Linux 12 web ttyS0\r\n\r\nweb login: ") == []
    hits = matcher.flush()
    assert [(h.name, h.severity, h.text, h.offset) for h in hits] == [
        ("login", Severity.INFO, "web login: ", 100 + len(b"\r\nDebian GNU/Linux 12 web ttyS0\r\n\r\n"))
    ]
    assert matcher.flush() == []


def test_a_coloured_panic_line_hits_on_its_reading_text() -> None:
    line = b"\x1b[1;31m[ 3.0] Kernel \x1b[0mpanic - not syncing: Fatal exception\x1b[0m\n"
    hits = LineMatcher(BUILTIN).feed(line)
    assert [(h.name, h.text) for h in hits] == [("panic", "[ 3.0] Kernel panic - not syncing: Fatal exception")]


def test_user_watches_parse_with_defaults_filters_and_severity() -> None:
    parsed = parse_watches([
        {"name": "sshd up", "regex": r"Started .*OpenSSH", "severity": "info", "guests": ["web", "lab:7"],
         "consoles": ["serial", 1]},
        {"name": "segv", "regex": r"segfault at", "ignore": [r"\bnoisyd\b"]},
    ])
    assert parsed.errors == ()
    sshd, segv = parsed.watches
    assert (sshd.severity, segv.severity) == (Severity.INFO, Severity.WARNING)
    assert sshd.applies_to("lab", "3", "web", "serial", 0)
    assert sshd.applies_to("lab", "7", "db", "hvc1", 1)
    assert not sshd.applies_to("lab", "3", "db", "serial", 0)
    assert not sshd.applies_to("lab", "3", "web", "hvc1", 2)
    assert segv.guests is None and segv.consoles is None and segv.applies_to("xen", "1", "x", "c", 9)
    matcher = LineMatcher([*BUILTIN, *parsed.watches])
    hits = matcher.feed(b"[ OK ] Started ssh.service - OpenSSH server.\n"
                        b"noisyd[77]: segfault at 0 ip 1\nworker[78]: segfault at 0 ip 1\n")
    assert [(h.name, h.severity, h.text) for h in hits] == [
        ("sshd up", Severity.INFO, "[ OK ] Started ssh.service - OpenSSH server."),
        ("segv", Severity.WARNING, "worker[78]: segfault at 0 ip 1"),
    ]


def test_an_invalid_regex_is_one_line_naming_its_key_and_the_other_watches_still_work() -> None:
    parsed = parse_watches([
        {"name": "ok", "regex": "alpha"},
        {"name": "bad", "regex": "[a-z"},
        {"name": "bad ignore", "regex": "beta", "ignore": ["ok", "(unclosed"]},
        {"name": "bad severity", "regex": "gamma", "severity": "fatal"},
        {"name": "typo", "regex": "delta", "sevrity": "info"},
        {"regex": "no name"},
        {"name": "kept", "regex": "omega", "severity": "critical"},
    ])
    assert parsed.errors == (
        "config.toml: watches[1].regex: unterminated character set at position 0",
        "config.toml: watches[2].ignore[1]: missing ), unterminated subpattern at position 0",
        "config.toml: watches[3].severity: must be one of info, warning, error, critical",
        "config.toml: watches[4].sevrity: is not a setting (known: name, regex, severity, guests, consoles, ignore, silence, activity)",
        "config.toml: watches[5].name: must be a non-empty string",
    )
    assert all("\n" not in e for e in parsed.errors)
    assert [w.name for w in parsed.watches] == ["ok", "kept"]
    hits = LineMatcher(parsed.watches).feed(b"alpha\nbeta\nomega\n")
    assert [(h.name, h.offset) for h in hits] == [("ok", 0), ("kept", 11)]


def test_watches_that_are_not_an_array_of_tables_are_one_error() -> None:
    assert parse_watches({"name": "x"}).errors == (
        "config.toml: watches: must be an array of tables ([[watches]])",
    )
    assert parse_watches(None).watches == ()
    assert parse_watches(["x"], "/etc/vc.toml").errors == ("/etc/vc.toml: watches[0]: must be a table",)
