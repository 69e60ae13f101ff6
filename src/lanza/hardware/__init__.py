"""What this machine has: cores, memory, GPUs; and where a model should run."""
