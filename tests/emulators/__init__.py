"""Emulators of hardware and remote ends that cannot exist on a test machine, faked at the wire."""
