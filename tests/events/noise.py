"""A megabyte of console noise that no built-in watch may take for an event, and a panic to put in it.

Lines as a busy Linux console prints them: kernel messages with timestamps,
systemd's coloured status lines, UTF-8 from applications, very long lines
(a base64 blob, a hex dump), and near-misses of every built-in signature
(``panic=10``, "Kernel panic" without "- not syncing", a lower-case "oops",
another process's segfault, ``errors=remount-ro``, the hung-task hint line,
the NMI watchdog's notices, "Last login:").
"""

from __future__ import annotations

import base64
import random

NEAR_MISSES = (
    "Kernel command line: BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=/dev/xvda1 ro console=hvc0 panic=10 oops=panic",
    "sysctl: setting key \"kernel.panic\": 10 (Kernel panic timeout)",
    "Kernel panic notifier registered for pstore",
    "systemd[1]: oops, the unit file changed on disk; run 'systemctl daemon-reload'",
    "nginx[812]: upstream timed out (oops: 110: Connection timed out) while reading response header",
    "app[2345]: segfault at 0 ip 00007f3a2c1d4e10 sp 00007ffd0c9b1f28 error 4 in libc.so.6[7f3a2c0a0000+155000]",
    "EXT4-fs (xvda1): re-mounted. Opts: errors=remount-ro. Quota mode: none.",
    "\"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.",
    "NMI watchdog: Enabled. Permanently consumes one hw-PMU counter.",
    "NMI watchdog: Perf event create on CPU 0 failed with -2",
    "NMI watchdog: Shutting down hard lockup detector on all cpus",
    "rcu: Hierarchical RCU implementation.",
    "rcu: \tRCU restricting CPUs from NR_CPUS=8192 to nr_cpu_ids=2.",
    "Last login: Sun Dec  6 07:12:44 2026 from 10.0.0.7",
    "sshd[1201]: pam_unix(sshd:session): session opened for user root(uid=0) by (uid=0)",
    "kernel: BUG fixes in this release: none",
    "oom_reaper: started",
    "watchdog: watchdog0: watchdog did not stop!",
)
KERNEL = (
    "xen_netfront: Initialising Xen virtual ethernet driver",
    "blkfront: xvda: flush diskcache: enabled; persistent grants: enabled; indirect descriptors: enabled;",
    "EXT4-fs (xvda1): mounted filesystem with ordered data mode. Quota mode: none.",
    "random: crng init done",
    "IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready",
    "audit: type=1400 audit(1733468400.123:42): apparmor=\"STATUS\" operation=\"profile_load\" name=\"nvidia_modprobe\"",
    "clocksource: Switched to clocksource xen",
    "TCP: request_sock_TCP: Possible SYN flooding on port 80. Sending cookies.",
)
SYSTEMD = ("Started Journal Service.", "Reached target Network.", "Mounted /boot/efi.", "Started OpenBSD Secure Shell server.")
UTF8 = (
    "Überwachung gestartet — température 42 °C, Lüfter 1200 U/min ✓",
    "ログローテーション完了: /var/log/アプリ.log (12 MB)",
    "Загрузка модулей ядра… готово",
    "🚀 deploy finished in 3.2 s — ünïcödé everywhere ✔",
)


def noise(size: int, seed: int) -> bytes:
    """About ``size`` bytes of noise (whole lines), the same for the same seed."""
    rng = random.Random(seed)
    lines: list[str] = []
    total = 0
    clock = 0.0
    while total < size:
        clock += rng.random() / 50
        pick = rng.random()
        if pick < 0.45:
            line = f"[{clock:12.6f}] {rng.choice(KERNEL)}"
        elif pick < 0.6:
            line = f"[{clock:12.6f}] {rng.choice(NEAR_MISSES)}"
        elif pick < 0.75:
            line = f"\x1b[0;32m[  OK  ]\x1b[0m {rng.choice(SYSTEMD)}"
        elif pick < 0.9:
            line = f"\x1b[1;33m{rng.choice(UTF8)}\x1b[0m"
        elif pick < 0.97:
            line = "payload=" + base64.b64encode(rng.randbytes(rng.randrange(1000, 6000))).decode()
        else:
            line = " ".join(f"{rng.getrandbits(32):08x}" for _ in range(rng.randrange(200, 900)))
        data = line + "\n"
        lines.append(data)
        total += len(data.encode())
    return "".join(lines).encode()


def panic_line(n: int) -> str:
    """Guest ``n``'s panic line (its own reason, so each event can be told apart)."""
    return f"[ 4711.{n:06d}] Kernel panic - not syncing: Fatal exception in interrupt (guest {n})"
