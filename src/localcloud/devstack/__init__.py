"""localcloud.devstack."""
