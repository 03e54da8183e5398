"""Fixtures for the terminal engine tests: a private tmux server as the reference."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.term.tmuxref import TMUX, Tmux


@pytest.fixture(scope="session")
def tmux_ref(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tmux]:
    """An 80x24 tmux server on its own socket, shared by the session."""
    if TMUX is None:
        pytest.skip("tmux is not installed (apt-get install tmux); differential tests need it")
    ref = Tmux(tmp_path_factory.mktemp("tmux"), 80, 24)
    try:
        yield ref
    finally:
        ref.close()
