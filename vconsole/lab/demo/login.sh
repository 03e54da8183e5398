#!/bin/sh
# Demo login for vtty 1..N of a lab container: a getty banner, then a login shell.
name=${VC_GUEST:-guest}
printf '\r\nDemo Linux 12 %s %s\r\n\r\n%s login: root (automatic login)\r\n\r\n' "$name" "${VC_TTY:-tty1}" "$name"
export PS1="root@$name:~# " HISTFILE= TERM=${TERM:-linux}
if command -v bash >/dev/null 2>&1; then
    exec bash --noprofile --norc -i
fi
exec sh -i
