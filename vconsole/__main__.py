"""``python -m vconsole``."""

import sys

from vconsole.detached import daemonize_if_asked

daemonize_if_asked()  # first, when a client started us as a daemon (see start_detached)

from vconsole.cli import main  # noqa: E402 - after the fork: the daemon pays for the imports

sys.exit(main())
