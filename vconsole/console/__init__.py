"""Console endpoints: the host side of a guest console (pty master, Xen ring)."""
