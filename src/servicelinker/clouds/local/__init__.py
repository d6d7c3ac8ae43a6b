"""servicelinker.clouds.local."""
