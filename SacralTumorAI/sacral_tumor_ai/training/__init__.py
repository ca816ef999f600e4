"""Training commands: data lists, checkpoints, multi-process training and the per-model trainers."""
