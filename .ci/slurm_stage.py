"""CI stage: every study through ``--profile profiles/slurm`` on a one-node SLURM cluster.

Run as root on Debian (``.ci/run`` calls it after the README's test command)::

    .venv/bin/python .ci/slurm_stage.py [--keep-cluster] [--work DIR]

1. starts a one-node cluster (``scripts/slurm-local-cluster start``: installs slurm-wlm and munge
   by apt when missing);
2. runs ``.ci/slurm-config.yaml`` locally (``profiles/default``, the SLURM profile's thread
   counts under the machine's CPU count, as inside a SLURM job, so that both runs compute alike);
3. runs it again through ``profiles/slurm`` as shipped (only the partition file's path is made
   absolute, since the run's working directory is not the repository). Meanwhile it cancels
   (``scancel``) the radbelt MLP training job once an epoch's checkpoint is on disk, and drains
   the node while jobs wait, then resumes it;
4. checks that every job went through sbatch (a SLURM job id per job in Snakemake's log, a SLURM
   log file per job id), that the training jobs were sent to the ``gpu`` partition, that the
   cancelled job was resubmitted and resumed from its checkpoint (quoting the log lines), and that
   every metric table is byte-identical to the local run's;
5. stops the cluster (unless ``--keep-cluster``).

Exits non-zero, naming the failed check, on any failure. Needs nothing from ``../shared``.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / ".ci" / "slurm-config.yaml"
PROFILE = REPO / "profiles" / "slurm"
CLUSTER = REPO / "scripts" / "slurm-local-cluster"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
#: the training job the stage cancels, and its checkpoint and log (relative to the work dir)
CANCEL_RULE = "radbelt_train"
CANCEL_CKPT = Path("results/radbelt/checkpoints/mlp/lead5/seed0/Lshells")
CANCEL_METRICS = Path("results/radbelt/checkpoints/mlp/lead5/seed0/logs/Lshells/csv/version_0/metrics.csv")
CANCEL_LOG = Path("results/logs/radbelt/train/mlp_lead5_seed0.log")
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (.+?)\)\.")
#: the SLURM run of five studies took 2172 s on the 2-core CI machine (2026-11-30, clouds part 2),
#: 2290 s here with a test suite beside it; the aot study adds 14 small jobs (about 10 % more)
TIMEOUT_S = 3300


class StageError(RuntimeError):
    pass


def say(msg: str) -> None:
    print(f"[slurm-stage {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=False, text=True, capture_output=True, **kwargs)


def cluster(action: str) -> None:
    proc = subprocess.run([str(CLUSTER), action], text=True, check=False)
    if proc.returncode != 0:
        raise StageError(f"scripts/slurm-local-cluster {action} failed (exit {proc.returncode})")


def profile_threads() -> list[str]:
    """``--set-threads`` arguments equal to the SLURM profile's (torch sums depend on threads)."""
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    return [f"{rule}={n}" for rule, n in profile.get("set-threads", {}).items()]


def snakemake_cmd(workdir: Path, *args: str) -> list[str]:
    return [*SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
            "--configfile", str(workdir / "config.yaml"), *args]


def run_local(workdir: Path) -> float:
    """The reference run. Inside a SLURM job Snakemake caps a job's threads at the machine's CPU
    count, so the local run uses the profile's thread counts under the same cap."""
    start = time.monotonic()
    cmd = snakemake_cmd(workdir, "--profile", str(REPO / "profiles" / "default"), "--cores", str(os.cpu_count()),
                        "--set-threads", *profile_threads())
    with open(workdir / "snakemake.log", "w") as log:
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, check=False)
    if proc.returncode != 0:
        raise StageError(f"local run failed (exit {proc.returncode}); see {workdir / 'snakemake.log'}")
    return time.monotonic() - start


def squeue_jobs() -> list[dict[str, str]]:
    proc = run(["squeue", "-h", "-o", "%i|%T|%P|%k"])
    if proc.returncode != 0:
        raise StageError(f"squeue failed: {proc.stderr.strip()}")
    jobs = []
    for line in proc.stdout.splitlines():
        jobid, state, partition, comment = line.split("|", 3)
        jobs.append({"id": jobid, "state": state, "partition": partition, "comment": comment})
    return jobs


def _logged_epochs(metrics: Path) -> int:
    try:
        lines = metrics.read_text().splitlines()
    except OSError:
        return 0
    header = lines[0].split(",") if lines else []
    if "train_loss" not in header or "epoch" not in header:
        return 0
    i_loss, i_epoch = header.index("train_loss"), header.index("epoch")
    return len({row.split(",")[i_epoch] for row in lines[1:] if row.split(",")[i_loss]})


class Faults(threading.Thread):
    """Cancels the radbelt MLP training job mid-run, then drains and resumes the node."""

    def __init__(self, workdir: Path, proc: subprocess.Popen):
        super().__init__(daemon=True)
        self.workdir, self.proc = workdir, proc
        self.cancelled: dict[str, str] | None = None
        self.drain: dict[str, object] = {}
        self.error: str | None = None

    def run(self) -> None:
        try:
            self._cancel()
            self._drain()
        except Exception as exc:  # noqa: BLE001 - reported by the main thread
            self.error = f"{type(exc).__name__}: {exc}"

    def _cancel(self) -> None:
        last = self.workdir / CANCEL_CKPT / "last.ckpt"
        metrics = self.workdir / CANCEL_METRICS
        deadline = time.monotonic() + TIMEOUT_S
        # once an epoch's checkpoint and its metrics row are on disk (see the radbelt resume test)
        while not (last.exists() and _logged_epochs(metrics) >= 2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise StageError(f"no checkpoint {last} while the workflow ran")
            time.sleep(0.05)
        jobs = [j for j in squeue_jobs() if j["comment"].startswith(f"rule_{CANCEL_RULE}_")
                and "mlp" in j["comment"] and j["state"] == "RUNNING"]
        if len(jobs) != 1:
            raise StageError(f"expected one running {CANCEL_RULE} mlp job, squeue shows {jobs}")
        proc = run(["scancel", jobs[0]["id"]])
        if proc.returncode != 0:
            raise StageError(f"scancel {jobs[0]['id']} failed: {proc.stderr.strip()}")
        self.cancelled = {**jobs[0], "epochs_logged": str(_logged_epochs(metrics))}
        say(f"cancelled SLURM job {jobs[0]['id']} ({jobs[0]['comment']}) after "
            f"{self.cancelled['epochs_logged']} logged epochs")

    def _drain(self) -> None:
        node = run(["hostname", "-s"]).stdout.strip()
        proc = run(["scontrol", "update", f"nodename={node}", "state=drain", "reason=eoml-ci-drain-test"])
        if proc.returncode != 0:
            raise StageError(f"drain failed: {proc.stderr.strip()}")
        say(f"drained node {node}")
        # while drained, newly submitted jobs wait (PENDING); running ones go on
        deadline = time.monotonic() + 60
        pending = []
        while time.monotonic() < deadline and self.proc.poll() is None:
            pending = [j for j in squeue_jobs() if j["state"] == "PENDING"]
            if pending:
                break
            time.sleep(0.5)
        time.sleep(5)
        state = run(["sinfo", "-h", "-n", node, "-o", "%T"]).stdout.strip()
        self.drain = {"node": node, "state": state, "pending": len(pending)}
        proc = run(["scontrol", "update", f"nodename={node}", "state=resume"])
        if proc.returncode != 0:
            raise StageError(f"resume failed: {proc.stderr.strip()}")
        say(f"node was '{state}' with {len(pending)} job(s) pending; resumed it")


def run_slurm(workdir: Path) -> tuple[float, Faults]:
    start = time.monotonic()
    cmd = snakemake_cmd(workdir, "--profile", str(PROFILE),
                        "--slurm-partition-config", str(PROFILE / "partitions.yaml"))
    log_path = workdir / "snakemake.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        faults = Faults(workdir, proc)
        faults.start()
        try:
            rc = proc.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.terminate()
            raise StageError(f"SLURM run did not finish within {TIMEOUT_S} s; see {log_path}") from None
    faults.join(timeout=120)
    if rc != 0:
        raise StageError(f"SLURM run failed (exit {rc}); see {log_path}")
    if faults.error:
        raise StageError(f"fault injection failed: {faults.error}")
    return time.monotonic() - start, faults


def planned_jobs(log_text: str) -> dict[str, int]:
    """Job counts per rule from Snakemake's first job-stats table."""
    block = log_text.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    counts = {}
    for line in block.splitlines():
        match = re.match(r"^(\w+)\s+(\d+)\s*$", line.strip())
        if match and match.group(1) != "total":
            counts[match.group(1)] = int(match.group(2))
    return counts


def check_submissions(workdir: Path) -> int:
    text = (workdir / "snakemake.log").read_text()
    submitted = SUBMITTED.findall(text)
    localrules = {"all"}
    planned = planned_jobs(text)
    expected = sum(n for rule, n in planned.items() if rule not in localrules)
    snakemake_jobs = {job for job, _, _ in submitted}
    if len(snakemake_jobs) != expected:
        raise StageError(f"{len(snakemake_jobs)} jobs went through sbatch, {expected} were planned: {planned}")
    missing_logs = [log for _, _, log in submitted if not Path(log).is_file()]
    if missing_logs:
        raise StageError(f"SLURM log files missing: {missing_logs[:5]}")
    resubmitted = len(submitted) - len(snakemake_jobs)
    if resubmitted < 1:
        raise StageError("the cancelled training job was not resubmitted")
    gpu_rules = {m for m in re.findall(r"Auto-selected partition 'gpu' for job (\w+)", text)}
    train_rules = {rule for rule in planned if rule.endswith("_train")}
    if gpu_rules != train_rules:
        raise StageError(f"jobs sent to the gpu partition: {sorted(gpu_rules)}; training rules: {sorted(train_rules)}")
    say(f"{len(submitted)} sbatch submissions for {expected} jobs ({resubmitted} resubmitted after the "
        f"cancel), one SLURM job id and log file each; training rules {sorted(train_rules)} on partition gpu")
    return len(submitted)


def check_resume(workdir: Path) -> list[str]:
    lines = [line for line in (workdir / CANCEL_LOG).read_text().splitlines()
             if "resuming training from" in line or "best epoch" in line]
    if not any("resuming training from" in line for line in lines):
        raise StageError(f"{CANCEL_LOG}: no 'resuming training from' line after the cancel")
    for line in lines:
        say(f"  {CANCEL_LOG.name}: {line.strip()}")
    return lines


def shell_commands(log: Path) -> set[str]:
    """Every job's shell command in a Snakemake log (printshellcmds)."""
    return {m.strip() for m in re.findall(r"^Shell command: (.+)$", log.read_text(), flags=re.M)}


def check_commands(local: Path, slurm: Path) -> int:
    """Both runs ran the same commands (same config keys, same threads): a difference in the tables
    would then be the executor's fault, not the settings'."""
    a, b = shell_commands(local / "snakemake.log"), shell_commands(slurm / "snakemake.log")
    if a != b:
        only = sorted(a ^ b)[:4]
        raise StageError(f"the local and SLURM runs ran different commands ({len(a ^ b)} differ), e.g.:\n  "
                         + "\n  ".join(only))
    say(f"{len(a)} job commands identical in both runs (threads and config keys included)")
    return len(a)


def check_tables(local: Path, slurm: Path) -> int:
    tables = sorted(p.relative_to(local) for p in local.glob("results/*/metrics/*.csv"))
    if not tables:
        raise StageError("the local run wrote no metric table")
    studies = {t.parts[1] for t in tables}
    expected = set(yaml.safe_load(CONFIG.read_text())["studies"])
    if studies != expected:
        raise StageError(f"metric tables for {sorted(studies)}, expected {sorted(expected)}")
    differ = [str(t) for t in tables if not (slurm / t).is_file() or not filecmp.cmp(local / t, slurm / t, shallow=False)]
    if differ:
        raise StageError(f"metric tables differ between the local and the SLURM run: {differ}")
    say(f"{len(tables)} metric tables byte-identical (local vs SLURM): {', '.join(map(str, tables))}")
    return len(tables)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep-cluster", action="store_true", help="leave the cluster running")
    parser.add_argument("--work", type=Path, help="work directory (default: a temporary one, removed on success)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("slurm stage: run as root (it installs and starts a SLURM cluster)")
    work = args.work or Path(tempfile.mkdtemp(prefix="eoml-slurm-ci-"))
    t0 = time.monotonic()
    ok = False
    try:
        cluster("start")
        local, slurm = work / "local", work / "slurm"
        for d in (local, slurm):
            d.mkdir(parents=True, exist_ok=True)
            shutil.copy(CONFIG, d / "config.yaml")
        say(f"local run in {local}")
        t_local = run_local(local)
        say(f"local run done in {t_local:.0f} s; SLURM run in {slurm}")
        t_slurm, faults = run_slurm(slurm)
        say(f"SLURM run done in {t_slurm:.0f} s; drain: {faults.drain}")
        n_sbatch = check_submissions(slurm)
        check_resume(slurm)
        check_commands(local, slurm)
        n_tables = check_tables(local, slurm)
        ok = True
        say(f"PASSED in {time.monotonic() - t0:.0f} s: {n_sbatch} sbatch submissions, {n_tables} identical "
            f"metric tables, cancelled job {faults.cancelled['id']} resumed")
    except StageError as exc:
        say(f"FAILED: {exc}")
        for log in (work / "slurm" / "snakemake.log", work / "local" / "snakemake.log"):
            if log.is_file():
                print(f"--- last lines of {log}:\n" + "\n".join(log.read_text().splitlines()[-40:]), flush=True)
        return 1
    finally:
        if not args.keep_cluster:
            cluster("stop")
        if ok and args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
