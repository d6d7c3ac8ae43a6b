"""servicelinker.catalog."""
