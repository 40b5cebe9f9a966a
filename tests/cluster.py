"""Real servers for the cluster tests: a MongoDB-protocol server (secantusdb) and a one-node SLURM.

Both start on this machine in a temporary folder and stop afterwards. Without them the tests
skip, unless ``LROX_REQUIRE_CLUSTER=1`` (CI), where a missing piece is an error.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class Unavailable(RuntimeError):
    """What a cluster test needs is not installed or cannot start here."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


# ----- secantusdb ---------------------------------------------------------------------------------
def secantusd_executable() -> str:
    """secantusd-py from $LROX_SECANTUSD, the Makefile's own venv (.venv-secantus), or PATH."""
    for candidate in (os.environ.get("LROX_SECANTUSD"), ROOT / ".venv-secantus" / "bin" / "secantusd-py", shutil.which("secantusd-py")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    raise Unavailable("secantusd-py not found (make creates .venv-secantus; or set LROX_SECANTUSD)")


def start_mongo_server(folder: Path) -> tuple[str, int, subprocess.Popen]:
    """secantusdb on a free loopback port, its data in ``folder``; waits until it answers a ping."""
    import pymongo

    port = free_port()
    storage = folder / "secantus-data"
    storage.mkdir(parents=True)
    log = open(folder / "secantus.log", "w")
    process = subprocess.Popen(
        [secantusd_executable(), "--host", "127.0.0.1", "--port", str(port), "--storage-path", str(storage), "--standalone"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        if process.poll() is not None:
            raise Unavailable(f"secantusd-py exited with {process.returncode}; see {folder / 'secantus.log'}")
        try:
            pymongo.MongoClient("127.0.0.1", port, serverSelectionTimeoutMS=500).admin.command("ping")
            return "127.0.0.1", port, process
        except pymongo.errors.PyMongoError:
            time.sleep(0.3)
    process.kill()
    raise Unavailable("secantusd-py did not answer within 60 s")


# ----- SLURM --------------------------------------------------------------------------------------
SLURM_CONF = """\
ClusterName=lroxtest
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MailProg=/bin/true
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ReturnToService=2
{node} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def start_slurm(folder: Path) -> tuple[dict, callable]:
    """slurmctld + slurmd (and munged if none runs) with a configuration in ``folder``; returns (env, stop)."""
    for binary in ("slurmctld", "slurmd", "munged", "sbatch", "sinfo"):
        if not (shutil.which(binary) or Path(f"/usr/sbin/{binary}").exists()):
            raise Unavailable(f"{binary} is not installed (Debian: slurmctld slurmd slurm-client munge)")
    if os.geteuid() != 0:
        raise Unavailable("starting slurmctld/slurmd/munged by hand needs root here")
    for port in (6817, 6818):
        if port_in_use(port):
            raise Unavailable(f"port {port} is in use: another SLURM runs here")
    started = []
    if subprocess.run(["munge", "-n"], capture_output=True).returncode != 0:
        # no munged answers (none started, or a stale socket of a dead one: --force replaces it)
        Path("/run/munge").mkdir(parents=True, exist_ok=True)
        shutil.chown("/run/munge", "munge", "munge")
        subprocess.run(["runuser", "-u", "munge", "--", "/usr/sbin/munged", "--force"], check=True, capture_output=True)
        started.append(Path("/run/munge/munged.pid"))
    node = subprocess.run(["/usr/sbin/slurmd", "-C"], check=True, capture_output=True, text=True).stdout.splitlines()[0]
    node = " ".join("RealMemory=4000" if part.startswith("RealMemory=") else part for part in node.split())
    (folder / "state").mkdir(parents=True)
    (folder / "spool").mkdir()
    conf = folder / "slurm.conf"
    conf.write_text(SLURM_CONF.format(host=socket.gethostname(), folder=folder, node=node))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    subprocess.run(["/usr/sbin/slurmctld", "-f", str(conf)], check=True, capture_output=True, env=env)
    subprocess.run(["/usr/sbin/slurmd", "-f", str(conf)], check=True, capture_output=True, env=env)
    started += [folder / "slurmctld.pid", folder / "slurmd.pid"]

    def stop():
        for pid_file in reversed(started):
            try:
                os.kill(int(pid_file.read_text().split()[0]), 15)
            except (OSError, ValueError):
                pass
        # a daemon that died before writing its pid file is found by its configuration path
        subprocess.run(["pkill", "-f", "--", str(conf)], capture_output=True)

    deadline = time.time() + 60
    while time.time() < deadline:
        answer = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, env=env)
        state = answer.stdout.strip()
        if state in ("idle", "mix", "alloc"):
            return {"SLURM_CONF": str(conf)}, stop
        time.sleep(0.5)
    stop()
    raise Unavailable(
        f"the SLURM node did not come up (state '{state}', sinfo: {answer.stderr.strip()[-200:]!r}); "
        f"last log lines: {_log_tail(folder)}"
    )


def _log_tail(folder: Path, lines: int = 3) -> str:
    """The last error lines of slurmctld and slurmd, so a CI log says why SLURM did not start."""
    tails = []
    for name in ("slurmctld.log", "slurmd.log"):
        path = folder / name
        text = path.read_text(errors="replace").splitlines() if path.exists() else ["(no log)"]
        tails.append(f"{name}: " + " | ".join(text[-lines:]))
    return "; ".join(tails)


def temporary_folder(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def venv_bin() -> Path:
    return Path(sys.executable).parent
