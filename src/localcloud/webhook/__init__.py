"""Azure Workload Identity's mutating admission webhook, reimplemented: labelled Pods get AZURE_CLIENT_ID,
AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE, AZURE_AUTHORITY_HOST and the projected token volume, as on AKS.

`mutate` is the pure decision (AdmissionReview request -> JSONPatch); `server` serves it over HTTPS.
"""
