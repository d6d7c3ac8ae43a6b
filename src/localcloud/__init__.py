"""The embedded local cloud: Azure's wire protocols on loopback, backed by the real servers of the dev stack.

The product (`servicelinker`) never imports this package; it joins the `servicelinker` command and the cloud
adapters through entry points (see docs/architecture.md).
"""
