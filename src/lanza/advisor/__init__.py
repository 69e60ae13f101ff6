"""Real-time or batch, CPU or GPU, and what it costs on Google Cloud, from measurements."""
