"""The Azure cloud adapter (`SL_CLOUD=azure`): the Cloud port on Azure Resource Manager through Microsoft's
management SDKs. See adapter.py for the face, profile.py for which cloud and credential."""

from servicelinker.clouds.azure.adapter import AzureCloud

__all__ = ["AzureCloud"]
