"""servicelinker.clouds.azure."""
