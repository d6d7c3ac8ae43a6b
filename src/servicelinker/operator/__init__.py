"""servicelinker.operator."""
