"""BrainSet agents: architectures x objectives x learning rules, trained on Brain Set tasks, and probes
that measure the trained networks like brains.

``agents.train(cfg)`` trains; ``agents.load_agent(run_dir)`` gives a trained agent back in one call.
"""

__version__ = "0.1.0"

from agents.build import load_agent  # noqa: E402
from agents.config import Config, resolve_config  # noqa: E402
from agents.trainer import NonFiniteError, train  # noqa: E402

__all__ = ["Config", "NonFiniteError", "load_agent", "resolve_config", "train", "__version__"]
