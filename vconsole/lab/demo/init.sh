#!/bin/sh
# Demo init for a lab guest: a plausible boot log on the console, then a shell.
# VC_GUEST names the guest; VC_HEARTBEAT (seconds) makes a service log now and then.
name=${VC_GUEST:-guest}
step() { printf '[  OK  ] %s\r\n' "$1"; sleep 0.02; }
printf '\r\nvconsole lab: booting %s\r\n\r\n' "$name"
printf 'Welcome to Demo Linux 12 (%s)!\r\n\r\n' "$name"
step "Created slice system-getty.slice."
step "Reached target Local File Systems."
step "Started Journal Service."
step "Started Network Name Resolution."
step "Reached target Network."
step "Started OpenSSH server daemon."
step "Started Regular background program processing daemon."
step "Reached target Multi-User System."
printf '\r\nDemo Linux 12 %s console\r\n\r\n' "$name"
if [ -n "${VC_HEARTBEAT:-}" ]; then
    (n=0; while sleep "$VC_HEARTBEAT"; do n=$((n + 1)); printf '[%s] heartbeat %d: service healthy\r\n' "$name" "$n"; done) &
fi
export PS1="root@$name:~# " HISTFILE= TERM=${TERM:-linux}
if command -v bash >/dev/null 2>&1; then
    exec bash --noprofile --norc -i
fi
exec sh -i
