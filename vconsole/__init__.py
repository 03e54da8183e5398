"""vconsole: one console manager for containers and Xen domUs."""
__version__ = "0.1.0"
