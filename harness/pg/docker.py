"""A throwaway PostgreSQL container, through the docker SDK.

The container uses host networking and listens on 127.0.0.1 and a free port
(engines here have no bridge network), with durability off. It is labelled
with the harness's pid and removed when the block ends -- also on Ctrl-C --
and containers of harness processes that died are removed at the next start.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import time
from typing import Any, Iterator

import psycopg
from psycopg.conninfo import make_conninfo

from ..errors import SetupError
from .server import ServerInfo, server_version

__all__ = ["docker_server"]

_LABEL = "harness"


def _client() -> Any:
    try:
        import docker
    except ImportError:
        raise SetupError("the docker backend needs the docker package: "
                         "pip install -e '.[docker]' (or pip install docker)") from None
    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as e:  # the SDK raises several unrelated types here
        reason = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        raise SetupError(
            f"Docker is unavailable ({reason}): start an engine "
            "(../shared/tools/docker-engine-up.sh on these machines), or use the local "
            "backend or --dsn") from None
    return client


def _image(client: Any, image: str) -> None:
    import docker.errors

    try:
        client.images.get(image)
        return
    except docker.errors.ImageNotFound:
        pass
    except docker.errors.APIError as e:
        raise SetupError(f"Docker could not look up image {image}: {e.explanation}") from None
    local = sorted({t for img in client.images.list() for t in img.tags if "postgres" in t})
    hint = f"; local images: {', '.join(local)} (pass --image NAME)" if local else ""
    raise SetupError(f"image {image} is not available locally and no registry is pulled "
                     f"from here{hint}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _remove_stale(client: Any) -> None:
    for c in client.containers.list(all=True, filters={"label": _LABEL}):
        try:
            os.kill(int(c.labels.get("harness.owner_pid", "0")), 0)
        except (ProcessLookupError, ValueError):
            with contextlib.suppress(Exception):
                c.remove(force=True)
        except PermissionError:
            pass


@contextlib.contextmanager
def docker_server(image: str = "postgres:15") -> Iterator[ServerInfo]:
    client = _client()
    _image(client, image)
    _remove_stale(client)
    port = _free_port()
    name = f"harness-pg-{os.getpid()}-{secrets.token_hex(3)}"
    container = None
    try:
        container = client.containers.run(
            image,
            command=["-c", f"port={port}", "-c", "listen_addresses=127.0.0.1",
                     "-c", "fsync=off", "-c", "synchronous_commit=off",
                     "-c", "full_page_writes=off", "-c", "max_connections=200",
                     "-c", "deadlock_timeout=100ms"],
            environment={"POSTGRES_HOST_AUTH_METHOD": "trust", "POSTGRES_PASSWORD": "harness"},
            network_mode="host", detach=True, name=name,
            labels={_LABEL: "1", "harness.owner_pid": str(os.getpid())},
        )
        conninfo = make_conninfo(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                                 client_encoding="utf8")
        _wait_ready(container, conninfo)
        yield ServerInfo(conninfo=conninfo, backend="docker", version=server_version(conninfo))
    finally:
        if container is not None:
            with contextlib.suppress(Exception):
                container.remove(force=True)


def _wait_ready(container: Any, conninfo: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            # The official image restarts the server once after initdb: wait
            # for a connection that survives a query.
            with psycopg.connect(conninfo, connect_timeout=2) as conn:
                conn.execute("select 1")
            return
        except psycopg.OperationalError:
            container.reload()
            if container.status in ("exited", "dead"):
                logs = container.logs(tail=5).decode(errors="replace").strip().splitlines()
                raise SetupError(f"the postgres container exited: {logs[-1] if logs else '?'}") from None
            if time.monotonic() > deadline:
                raise SetupError("the postgres container was not ready after 60 s") from None
            time.sleep(0.05)
