"""servicelinker.kube."""
