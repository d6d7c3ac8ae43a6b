"""servicelinker.engine."""
