"""servicelinker.store."""
