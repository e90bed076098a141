"""Ground truth and behavioural analysis for every task (no torch needed)."""
