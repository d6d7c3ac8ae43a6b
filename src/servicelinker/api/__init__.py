"""servicelinker.api."""
