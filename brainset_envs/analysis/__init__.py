"""Ground truth and behavioural analysis for the BrainSet tasks, usable without the ``agents`` package."""
