"""The docker backend: a container that comes and goes with the block.

Skipped, with the reason, where there is no docker SDK, no engine, or no
PostgreSQL image to run (no registry is reachable on these machines:
../shared/tools/docker-engine-up.sh builds a local one).
"""

from __future__ import annotations

import os

import psycopg
import pytest

from harness.errors import SetupError

docker = pytest.importorskip("docker", reason="the docker SDK is not installed")
pytestmark = pytest.mark.docker


def _client():
    try:
        client = docker.from_env(timeout=5)
        client.ping()
        return client
    except Exception as e:
        pytest.skip(f"no Docker engine answers: {str(e)[:80]}")


def _image(client) -> str:
    for name in (os.environ.get("HARNESS_DOCKER_IMAGE"), "postgres:15", "localpg/postgres:15"):
        if not name:
            continue
        try:
            client.images.get(name)
            return name
        except docker.errors.ImageNotFound:
            continue
    pytest.skip("no PostgreSQL image available locally (set HARNESS_DOCKER_IMAGE)")


@pytest.fixture(scope="module")
def image() -> str:
    return _image(_client())


def ours(client) -> list:
    return client.containers.list(all=True, filters={"label": f"harness.owner_pid={os.getpid()}"})


def test_container_serves_and_is_removed(image: str) -> None:
    from harness.pg.docker import docker_server

    client = _client()
    with docker_server(image=image) as info:
        assert info.backend == "docker" and info.version.startswith("15")
        with psycopg.connect(info.dsn(), autocommit=True) as conn:
            conn.execute("create table t (x int)")
            assert conn.execute("select 1").fetchone() == (1,)
        assert len(ours(client)) == 1
    assert ours(client) == []


def test_exception_inside_still_removes_the_container(image: str) -> None:
    from harness.pg.docker import docker_server

    client = _client()
    with pytest.raises(RuntimeError):
        with docker_server(image=image):
            raise RuntimeError("boom")
    assert ours(client) == []


def test_missing_image_is_a_clear_setup_error() -> None:
    from harness.pg.docker import docker_server

    _client()
    with pytest.raises(SetupError, match="no-such/postgres:0"):
        with docker_server(image="no-such/postgres:0"):
            pass
