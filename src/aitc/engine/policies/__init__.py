"""The built-in scheduling policies; each module registers one policy by name."""
