"""servicelinker.model."""
