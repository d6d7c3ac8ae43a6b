"""servicelinker.clouds."""
