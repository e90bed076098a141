"""Ground truth and behavioural analysis of the tasks, usable without the ``agents`` package."""
