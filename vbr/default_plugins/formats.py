"""Built-in formats (filled in by its own module's work)."""
