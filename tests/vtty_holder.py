"""A process outside the broker that holds a lab console's master, as ``vzctl console`` would.

``python tests/vtty_holder.py LAB_SOCKET GUEST INDEX``: opens the vtty master
through the lab (``open_tty``), prints ``holding`` and keeps it until killed.
With ``--ignore-term`` it ignores SIGTERM, so only SIGKILL ends it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from vconsole.framed_socket import FramedSocket


async def hold(socket_path: str, guest: str, index: int) -> None:
    conn = await FramedSocket.connect(socket_path)
    reply, fds = await conn.request({"op": "open_tty", "id": 1, "guest": guest, "index": index})
    if not reply.get("ok"):
        print(f"refused: {reply.get('error')}", flush=True)
        sys.exit(1)
    print("holding", flush=True)
    await asyncio.Event().wait()  # the lease and the fd go when the process does
    os.close(fds[0])


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--ignore-term"]
    if "--ignore-term" in sys.argv:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    asyncio.run(hold(args[0], args[1], int(args[2])))


if __name__ == "__main__":
    main()
