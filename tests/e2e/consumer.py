"""A workload: it knows nothing but its environment, filled from the connection's Secret as `envFrom:
secretRef` would fill it, and writes then reads its target with the official client. Prints one JSON line."""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Callable

MARK = uuid.uuid4().hex


def postgres() -> str:
    import psycopg

    with psycopg.connect(os.environ["AZURE_POSTGRESQL_CONNECTIONSTRING"]) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS orders (id text primary key)")
        conn.execute("INSERT INTO orders VALUES (%s)", (MARK,))
        row = conn.execute("SELECT id FROM orders WHERE id = %s", (MARK,)).fetchone()
    return str(row[0]) if row else ""


def mysql() -> str:
    import pymysql

    conn = pymysql.connect(
        host=os.environ["AZURE_MYSQL_HOST"],
        port=int(os.environ.get("AZURE_MYSQL_PORT", "3306")),
        user=os.environ["AZURE_MYSQL_USER"],
        password=os.environ["AZURE_MYSQL_PASSWORD"],
        database=os.environ["AZURE_MYSQL_NAME"],
        autocommit=True,
    )
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS orders (id varchar(64) primary key)")
        cur.execute("INSERT INTO orders VALUES (%s)", (MARK,))
        cur.execute("SELECT id FROM orders WHERE id = %s", (MARK,))
        row = cur.fetchone()
    conn.close()
    return str(row[0]) if row else ""


def redis_cache() -> str:
    import redis

    client = redis.Redis.from_url(os.environ["AZURE_REDIS_CONNECTIONSTRING"])
    client.set("mark", MARK)
    value = client.get("mark")
    return value.decode() if value else ""


def storage_blob() -> str:
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(os.environ["AZURE_STORAGEBLOB_CONNECTIONSTRING"])
    container = service.get_container_client(f"c{MARK[:12]}")
    container.create_container()
    container.upload_blob("mark.txt", MARK.encode())
    return container.download_blob("mark.txt").readall().decode()


def storage_queue() -> str:
    from azure.storage.queue import QueueClient

    queue = QueueClient.from_connection_string(os.environ["AZURE_STORAGEQUEUE_CONNECTIONSTRING"], f"q{MARK[:12]}")
    queue.create_queue()
    queue.send_message(MARK)
    return str(next(iter(queue.receive_messages())).content)


def storage_table() -> str:
    from azure.data.tables import TableServiceClient

    service = TableServiceClient.from_connection_string(os.environ["AZURE_STORAGETABLE_CONNECTIONSTRING"])
    table = service.create_table(f"t{MARK[:12]}")
    table.create_entity({"PartitionKey": "p", "RowKey": MARK, "v": MARK})
    return str(table.get_entity("p", MARK)["v"])


def _token_credential() -> object:  # a refused token must fail the workload at once, not after SDK retries
    """What DefaultAzureCredential would pick from the environment: workload identity (the webhook's variables)
    or a service principal (client id + secret + tenant, as the Secret of a service-principal connection has)."""
    from azure.identity import ClientSecretCredential, WorkloadIdentityCredential

    if "AZURE_FEDERATED_TOKEN_FILE" in os.environ:
        return WorkloadIdentityCredential()
    prefix = os.environ["SP_PREFIX"]
    return ClientSecretCredential(
        os.environ[f"{prefix}_TENANTID"],
        os.environ[f"{prefix}_CLIENTID"],
        os.environ[f"{prefix}_CLIENTSECRET"],
        authority=os.environ["AZURE_AUTHORITY_HOST"],
        # MSAL would otherwise validate our authority host against login.microsoftonline.com.
        disable_instance_discovery=True,
    )


def blob_with_token() -> str:
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient(
        os.environ["AZURE_STORAGEBLOB_RESOURCEENDPOINT"], credential=_token_credential(), retry_total=0
    )
    container = service.get_container_client(f"w{MARK[:12]}")
    container.create_container()
    container.upload_blob("mark.txt", MARK.encode())
    return container.download_blob("mark.txt").readall().decode()


def queue_with_token() -> str:
    from azure.storage.queue import QueueClient

    queue = QueueClient(
        os.environ["AZURE_STORAGEQUEUE_RESOURCEENDPOINT"], f"s{MARK[:12]}", credential=_token_credential()
    )
    queue.create_queue()
    queue.send_message(MARK)
    return str(next(iter(queue.receive_messages())).content)


def keyvault_with_token() -> str:
    """Reads the secret named in READ_SECRET (Key Vault Secrets User may read, not write)."""
    from azure.keyvault.secrets import SecretClient

    client = SecretClient(
        os.environ["AZURE_KEYVAULT_RESOURCEENDPOINT"],
        _token_credential(),
        verify_challenge_resource=False,
        retry_total=0,
    )
    value = client.get_secret(os.environ["READ_SECRET"]).value
    return MARK if value == os.environ["EXPECTED_VALUE"] else f"unexpected value for {os.environ['READ_SECRET']}"


WORKLOADS: dict[str, Callable[[], str]] = {
    "wi-storage-blob": blob_with_token,
    "sp-storage-queue": queue_with_token,
    "wi-keyvault": keyvault_with_token,
    "postgres-flexible": postgres,
    "mysql-flexible": mysql,
    "redis": redis_cache,
    "storage-blob": storage_blob,
    "storage-queue": storage_queue,
    "storage-table": storage_table,
}

if __name__ == "__main__":
    read_back = WORKLOADS[sys.argv[1]]()
    print(json.dumps({"wrote": MARK, "read": read_back}))
