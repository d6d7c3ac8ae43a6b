"""The local cloud as an Azure Resource Manager endpoint: the REST calls the management SDKs make, answered in
ARM's wire format and backed by the dev stack's real servers (see `docs/architecture.md`)."""
