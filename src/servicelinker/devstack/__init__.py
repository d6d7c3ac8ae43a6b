"""servicelinker.devstack."""
