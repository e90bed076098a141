"""BrainSet agents: architectures x objectives x learning rules, trained on Brain Set tasks, and probes
that measure the trained networks like brains."""

__version__ = "0.1.0"
