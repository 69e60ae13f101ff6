"""API keys with roles, hashed at rest."""
