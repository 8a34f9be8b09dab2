"""Avatar studio models (added by their issues)."""
