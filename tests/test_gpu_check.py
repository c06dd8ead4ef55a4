"""Tests of benchmarks/gpu_check.py, the GPU check script, run as a CPU self-test (``--allow-cpu``).

The script runs in a subprocess with the GPU hidden (``CUDA_VISIBLE_DEVICES=""``), so these tests
behave the same on a machine with or without CUDA.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eoml.core.config import load_schema, validate_config

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=timeout, check=False)


def _expected_networks() -> list[str]:
    lst_models = load_schema()["properties"]["lst"]["properties"]["models"]["default"]
    return (["radbelt/mlp", "radbelt/cnn", "radbelt/lstm"]
            + [f"lst/{spec['name']}" for spec in lst_models]
            + ["seaice/efficientnet_lite0-imagenet", "seaice/resnet18-random",
               "core/resnet50-random", "core/resnet18-3d-random"])


def _row(stdout: str, name: str) -> str:
    rows = [line for line in stdout.splitlines() if line.split(" ", 1)[0] == name]
    assert len(rows) == 1, f"no single table row for {name} in:\n{stdout}"
    return rows[0]


@pytest.fixture(scope="module")
def gpu_check():
    """The script as a module (not a package: loaded from its path)."""
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_schema_defaults_match_validation(gpu_check):
    # the script fills the schema's defaults itself (no jsonschema needed on the lent machine)
    studies = ["radbelt", "lst", "seaice", "scenes"]
    validated = validate_config({"studies": studies})
    defaults = gpu_check.schema_defaults()
    for name in studies:
        assert defaults[name] == validated[name]


def test_failures_are_recorded_per_check(gpu_check):
    import torch
    from torch import nn

    from eoml.core.training import RegressionTask

    def broken():
        raise RuntimeError("boom")

    def task(model, lr=1e-2):
        return RegressionTask(model, learning_rate=lr, lr_factor=0.5, lr_patience=1, min_lr=0.0)

    def net(build=lambda: nn.Linear(3, 1), task=task, train_batch=lambda: (torch.randn(8, 3), torch.randn(8, 1))):
        return gpu_check.Network(name="test/linear", build=build, task=task, train_batch=train_batch, batch_size=8,
                                 train_shape="8x3", agree_input=lambda: torch.randn(4, 3))

    cpu, sizes = torch.device("cpu"), gpu_check.SIZES["cpu-quick"]
    ok = gpu_check.check_network(net(), cpu, None, sizes, 1e-3)
    assert ok.failures == [] and ok.params == 4 and ok.agree["ok"] and ok.train["samples_per_s"] > 0
    assert gpu_check.check_network(net(build=broken), cpu, None, sizes, 1e-3).failures == ["build: RuntimeError: boom"]
    result = gpu_check.check_network(net(train_batch=broken), cpu, None, sizes, 1e-3)
    assert result.agree["ok"] and result.failures == ["train: RuntimeError: boom"]
    frozen = gpu_check.check_network(net(task=lambda m: task(m, lr=0.0)), cpu, None, sizes, 1e-3)
    assert len(frozen.failures) == 1 and "no optimiser step changed the weights" in frozen.failures[0]
    # the fp16 path (autocast + an enabled GradScaler) also runs on the CPU
    fp16 = gpu_check.train_steps(net(), nn.Linear(3, 1), cpu, torch.float16, 2, 1)
    assert fp16["grad_scale"] > 0 and fp16["skipped_steps"] >= 0 and fp16["samples_per_s"] > 0
    table = gpu_check.table([ok, result])
    assert table.splitlines()[2].endswith(" ok") and table.splitlines()[3].endswith(" FAIL")


# 20-30 s on 2 CPU cores (imports ~8 s; 11 networks built, compared, trained and predicting)
@pytest.mark.slow
def test_cpu_self_test_passes_and_reports_every_network(tmp_path):
    out = tmp_path / "gpu_check.json"
    proc = _run("--allow-cpu", "--quick", "--json", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all checks passed" in proc.stdout
    report = json.loads(out.read_text())
    assert report["ok"] is True and report["failures"] == []
    assert report["environment"]["device"] == "cpu"
    by_name = {r["name"]: r for r in report["networks"]}
    expected = _expected_networks()
    assert list(by_name) == expected
    for name in expected:
        row = _row(proc.stdout, name)
        assert row.split()[-1] == "ok", row
        r = by_name[name]
        assert r["failures"] == [] and r["params"] > 0
        assert r["agree"]["reference"] == "cpu-fp64" and 0 < r["agree"]["rel"] <= 1e-3
        assert r["train"]["samples_per_s"] > 0
        has_scene = name.startswith(("lst/", "seaice/"))
        assert bool(r["predict"]) == has_scene
        if has_scene:
            assert r["predict"]["seconds"] > 0
    assert by_name["lst/mrunet_paper_wald"]["predict"]["scene"] == "24->96"


def test_forced_disagreement_fails():
    # tolerance 0: the fp32 pass differs from the float64 one by rounding, so the check must fail
    proc = _run("--allow-cpu", "--quick", "--networks", "radbelt/mlp", "--tolerance", "0")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert _row(proc.stdout, "radbelt/mlp").split()[-1] == "FAIL"
    assert "radbelt/mlp agree: rel" in proc.stdout and "> tolerance 0" in proc.stdout
    assert "FAILED" in proc.stdout


def test_no_cuda_without_allow_cpu_fails():
    proc = _run("--quick", "--networks", "radbelt/mlp")
    assert proc.returncode == 2
    assert "no CUDA device" in proc.stderr
