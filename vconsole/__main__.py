"""``python -m vconsole``."""

import sys

from vconsole.daemon_fork import fork_away_if_asked

fork_away_if_asked()  # first, when a client started us as a daemon (see detached.start_detached)

from vconsole.cli import main  # noqa: E402 - after the fork: the daemon pays for the imports

sys.exit(main())
