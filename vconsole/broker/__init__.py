"""The broker: holds every console open, keeps histories and fans output out to clients."""
