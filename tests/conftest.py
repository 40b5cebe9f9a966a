"""Shared fixtures: built-in hosts and their frameworks are cached per session (they are pure)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

from structures.framework import DefectFramework
from structures.hosts import load_host

def _shared() -> Path:
    """The shared reference data beside the project root ($LROX_SHARED, ../shared, or /work/shared)."""
    import os

    candidates = [os.environ.get("LROX_SHARED"), Path(__file__).resolve().parents[1].parent / "shared", "/work/shared"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "vasp-reference").is_dir():
            return Path(candidate)
    return Path(__file__).resolve().parents[1].parent / "shared"


SHARED = _shared()
MOCK_SPEC = Path(__file__).resolve().parents[1] / "examples" / "mock_quick.yaml"


def run_mock_screen(folder: Path) -> str:
    """The mock example run once through 'lrox run --db' inside ``folder``; returns the database URL."""
    import os

    from launch.cli import main

    db = f"sqlite:///{folder / 'lrox.db'}"
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        assert main(["run", str(MOCK_SPEC), "--db", db]) == 0
    finally:
        os.chdir(cwd)
    return db


@lru_cache(maxsize=None)
def framework(host: str, dims: tuple[int, int, int]) -> DefectFramework:
    return DefectFramework.from_host(load_host(host), dims)


@pytest.fixture(scope="session")
def li2mno3_cell() -> DefectFramework:
    """Conventional 24-atom Li2MnO3 cell: small enough for brute-force checks."""
    return framework("li2mno3", (1, 1, 1))


@pytest.fixture(scope="session")
def li2mno3_96() -> DefectFramework:
    return framework("li2mno3", (2, 1, 2))


@pytest.fixture(scope="session")
def licoo2_108() -> DefectFramework:
    return framework("licoo2", (3, 3, 1))


# ----- databases: SQLite always, PostgreSQL for real -----------------------------------------------
def _start_postgres(tmp: Path) -> tuple[str, callable]:
    """A throwaway PostgreSQL cluster on a free loopback port (initdb + pg_ctl as the postgres user)."""
    import os
    import shutil
    import socket
    import subprocess

    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not initdb or not pg_ctl:
        for version in ("17", "16", "15"):
            folder = Path(f"/usr/lib/postgresql/{version}/bin")
            if (folder / "initdb").exists():
                initdb, pg_ctl = str(folder / "initdb"), str(folder / "pg_ctl")
                break
    if not initdb:
        raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = tmp / "pgdata"
    run_as = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        tmp.chmod(0o777)
        run_as = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*run_as, initdb, "-D", str(data), "-U", "lrox", "--auth=trust", "-E", "UTF8"], check=True, capture_output=True)
    subprocess.run(
        [*run_as, pg_ctl, "-D", str(data), "-l", str(tmp / "pg.log"), "-w", "-o", f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1", "start"],
        check=True,
        capture_output=True,
    )

    def stop():
        subprocess.run([*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)

    return f"postgresql+psycopg://lrox@127.0.0.1:{port}/postgres", stop


@pytest.fixture(scope="session")
def postgres_url():
    """LROX_TEST_POSTGRES_URL if set, else a server started here; CI (LROX_REQUIRE_POSTGRES=1) never skips."""
    import os
    import shutil
    import tempfile

    if os.environ.get("LROX_TEST_POSTGRES_URL"):
        yield os.environ["LROX_TEST_POSTGRES_URL"]
        return
    folder = Path(tempfile.mkdtemp(prefix="lrox-pg-"))  # not under pytest's 0700 folder: postgres must reach it
    try:
        url, stop = _start_postgres(folder)
    except Exception as exc:  # noqa: BLE001
        if os.environ.get("LROX_REQUIRE_POSTGRES"):
            raise
        pytest.skip(f"no PostgreSQL here: {exc}")
    yield url
    stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty database of each engine."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'lrox.db'}"
    base = request.getfixturevalue("postgres_url")
    import uuid

    from sqlalchemy import create_engine, text

    name = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return base.rsplit("/", 1)[0] + f"/{name}"


# ----- cluster servers: secantusdb (MongoDB protocol) and a one-node SLURM --------------------------
def _cluster_fixture(start, what: str):
    import os

    from tests.cluster import Unavailable

    try:
        return start()
    except Unavailable as exc:
        if os.environ.get("LROX_REQUIRE_CLUSTER"):
            raise
        pytest.skip(f"no {what} here: {exc}")


@pytest.fixture(scope="session")
def mongo_server():
    """(host, port) of a secantusdb server started for the session."""
    import shutil

    from tests.cluster import start_mongo_server, temporary_folder

    folder = temporary_folder("lrox-mongo-")
    host, port, process = _cluster_fixture(lambda: start_mongo_server(folder), "MongoDB-protocol server")
    yield host, port
    process.terminate()
    process.wait(timeout=30)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def slurm_cluster():
    """Environment variables (SLURM_CONF) of a one-node SLURM started for the session."""
    import shutil

    from tests.cluster import start_slurm, temporary_folder

    folder = temporary_folder("lrox-slurm-")
    env, stop = _cluster_fixture(lambda: start_slurm(folder), "SLURM")
    yield env
    stop()
    shutil.rmtree(folder, ignore_errors=True)
