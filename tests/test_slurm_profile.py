"""profiles/slurm as shipped: every key commented, every rule it names exists, the status-check
settings the plugin needs without an accounting database, and the partition file sends every
training rule (``gpu=1``) to the GPU partition and every other rule to the CPU partition — with the
SLURM plugin's own partition reader and scorer. The cluster itself is exercised by .ci/slurm_stage.py.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / "profiles" / "slurm"


def _rules() -> dict[str, str]:
    """Rule name -> rule body, from every rules/*.smk file (rules may sit inside ``if`` blocks)."""
    rules = {}
    for path in sorted((REPO / "rules").glob("*.smk")):
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            match = re.match(r"^(\s*)rule (\w+):", line)
            if not match:
                continue
            indent, body = len(match.group(1)), []
            for nxt in lines[i + 1:]:
                if nxt.strip() and len(nxt) - len(nxt.lstrip()) <= indent:
                    break
                body.append(nxt)
            rules[match.group(2)] = "\n".join(body)
    return rules


def _gpu_rules(rules: dict[str, str]) -> set[str]:
    return {name for name, body in rules.items() if re.search(r"^\s+gpu=1,?\s*$", body, flags=re.M)}


class _Resources(dict):
    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _job(name: str, resources: dict, threads: int = 1):
    return SimpleNamespace(name=name, threads=threads, resources=_Resources(resources))


def test_every_key_is_commented():
    for name in ("config.yaml", "partitions.yaml"):
        for number, line in enumerate((PROFILE / name).read_text().splitlines(), 1):
            if re.match(r"^\s*[\w-]+:", line) and "#" not in line:
                pytest.fail(f"profiles/slurm/{name}:{number}: key without a comment: {line.strip()}")


def test_named_rules_exist_and_status_settings_fit():
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    rules = _rules()
    assert {"radbelt_train", "lst_train", "seaice_train"} <= set(rules)
    for section in ("set-resources", "set-threads"):
        unknown = sorted(set(profile[section]) - set(rules))
        assert not unknown, f"profiles/slurm {section} names rules that do not exist: {unknown}"
    assert profile["executor"] == "slurm"
    # no accounting database on many small clusters: squeue, and a short first wait that keeps
    # the plugin on squeue with SLURM's default MinJobAge (300 s >= 3 x the wait)
    assert profile["slurm-status-command"] == "squeue"
    assert 1 <= profile["slurm-init-seconds-before-status-checks"] <= 100
    assert profile["retries"] >= 1 and profile["rerun-incomplete"] is True
    # the partition file is the one place for partitions
    assert "slurm_partition" not in profile["default-resources"]
    assert all("slurm_partition" not in r for r in profile["set-resources"].values())


def test_training_rules_go_to_the_gpu_partition():
    from snakemake_executor_plugin_slurm.partitions import get_best_partition, read_partition_file

    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    partitions = read_partition_file(REPO / profile["slurm-partition-config"])
    assert {p.name for p in partitions} == {"cpu", "gpu"}
    logger = SimpleNamespace(info=lambda *a: None, debug=lambda *a: None, warning=lambda *a: None)
    rules = _rules()
    gpu_rules = _gpu_rules(rules)
    assert {"radbelt_train", "lst_train", "seaice_train"} <= gpu_rules
    for name in rules:
        resources = {**profile["default-resources"], **profile["set-resources"].get(name, {})}
        if name in gpu_rules:
            resources["gpu"] = 1
        job = _job(name, resources, threads=profile["set-threads"].get(name, 1))
        expected = "gpu" if name in gpu_rules else "cpu"
        assert get_best_partition(partitions, job, logger) == expected, name


def test_gpu_rules_are_the_training_rules():
    """The CI's SLURM stage checks that the ``*_train`` rules, and only they, went to the GPU
    partition: a rule asking ``gpu=1`` must be named ``<study>_..._train``, and every such rule asks it."""
    rules = _rules()
    gpu_rules = _gpu_rules(rules)
    train_rules = {name for name in rules if name.endswith("_train")}
    assert gpu_rules == train_rules, (sorted(gpu_rules - train_rules), sorted(train_rules - gpu_rules))


def test_cluster_script_is_valid_bash_and_refuses_without_root():
    script = REPO / "scripts" / "slurm-local-cluster"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    usage = subprocess.run([str(script)], capture_output=True, text=True)
    assert usage.returncode == 2 and "usage:" in usage.stderr
