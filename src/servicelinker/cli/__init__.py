"""servicelinker.cli."""
