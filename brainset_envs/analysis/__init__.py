"""Ground truth and behavioural analysis for every task (numpy/scipy only: usable without torch or `agents`)."""
