"""BrainSet agents: architectures x objectives x learning rules, trained on Brain Set tasks, and probes
that measure the trained networks like brains.

``agents.train(cfg)`` trains; ``agents.load_agent(run_dir)`` gives a trained agent back in one call.
"""

__version__ = "0.1.0"

# The component packages register their built-ins in agents.registry on import; every `agents.x` import
# runs this file first, so the registries are full wherever the config layer reads them.
import agents.objectives  # noqa: E402, F401
import agents.rules  # noqa: E402, F401
from agents.build import load_agent  # noqa: E402
from agents.config import Config, resolve_config  # noqa: E402
from agents.trainer import NonFiniteError, train  # noqa: E402

__all__ = ["Config", "NonFiniteError", "load_agent", "resolve_config", "train", "__version__"]
