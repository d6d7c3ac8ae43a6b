"""servicelinker: Azure Service Connector for Kubernetes."""

__version__ = "0.1.0"
