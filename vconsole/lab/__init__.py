"""The lab: an embedded simulated host playing the kernel and hypervisor."""
