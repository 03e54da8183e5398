"""Command line entry point (placeholder until the CLI lands)."""


def main() -> int:
    """Run the vconsole command line."""
    return 0
