"""Helpers the Snakefile uses at parse time (kept here so the rules stay declarative).

* :func:`prepare_job_environment` — jobs run ``python -m eoml`` from the workflow's source tree.
* :func:`step_sources` — the package files a workflow step runs, found from the imports (so a
  change to any of them, even an indirect import, reruns the step's jobs; hand-kept lists drift).
* :func:`check_output_roots` — every file a rule declares (outputs, logs, benchmarks) lies under
  the workflow's own folders: a run never writes, moves or deletes a user's files.
* :func:`safe_ids` — wildcard-safe ids for arbitrary file names.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path

from eoml.core.errors import ConfigError


def source_root(repo: str | Path) -> Path:
    """The folder jobs import eoml from: ``<repo>/src`` in a checkout, else the installed package's."""
    src = Path(repo) / "src"
    if (src / "eoml").is_dir():
        return src
    import eoml

    return Path(eoml.__file__).resolve().parents[1]


def prepare_job_environment(repo: str | Path) -> None:
    """Let every job run ``python -m eoml`` from this source tree with the workflow's interpreter.

    The interpreter running Snakemake goes first on PATH (a conda environment, when used, is
    activated in front of it), and in a checkout ``<repo>/src`` goes first on PYTHONPATH, so jobs
    use the checked-out code whether or not eoml is installed in the job's environment (a
    workflow copy without ``src/`` uses the installed package).
    """
    src = str(Path(repo) / "src")
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if (Path(src) / "eoml").is_dir() and src not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([src, *paths])
    bindir = str(Path(sys.executable).parent)
    entries = os.environ.get("PATH", "").split(os.pathsep)
    if not entries or entries[0] != bindir:
        os.environ["PATH"] = os.pathsep.join([bindir, *entries])


# --------------------------------------------------------------------------------------------
# the source files of a step
# --------------------------------------------------------------------------------------------
def _module_file(src: Path, module: str) -> Path | None:
    """The file of a dotted module name under ``src`` (a module or a package), if it exists."""
    base = src.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_modules(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Dotted names of every module an AST imports (module level and inside functions)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".")
                keep = len(parts) - node.level + (1 if is_package else 0)
                base = ".".join(parts[:keep] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names.add(base)
            # ``from package import module`` imports a module too
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


@cache
def _closure(src: Path, roots: frozenset[str], package: str) -> tuple[str, ...]:
    seen: dict[str, Path] = {}
    todo = list(roots)
    while todo:
        module = todo.pop()
        if module in seen or not (module == package or module.startswith(package + ".")):
            continue
        path = _module_file(src, module)
        if path is None:
            continue
        seen[module] = path
        # importing a.b.c runs a/__init__.py and a/b/__init__.py first
        parents = [".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)]
        todo.extend(parents)
        todo.extend(_file_imports(path, module))
    return tuple(sorted(str(p) for p in seen.values()))


@cache
def _file_imports(path: Path, module: str) -> frozenset[str]:
    """The modules one source file imports, parsed once per process (every step shares most files)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return frozenset(_imported_modules(tree, module, path.name == "__init__.py"))


def _names_step(call: ast.AST, step: str) -> bool:
    return (isinstance(call, ast.Call) and bool(call.args) and isinstance(call.args[0], ast.Constant)
            and call.args[0].value == step)


def _step_roots(tree: ast.Module, cli_module: str, step: str) -> set[str] | None:
    """The modules a step of a study's ``cli.py`` imports when it runs: those inside the function
    registered as ``step`` (decorated ``@...step("name", ...)``), or the target module of a
    ``...call("name", "package.module:function", ...)`` entry; ``None`` when there is no such step."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and any(_names_step(d, step) for d in node.decorator_list):
            return _imported_modules(node, cli_module, False)
        if isinstance(node, ast.Expr) and _names_step(node.value, step) and len(node.value.args) > 1:
            target = node.value.args[1]
            if isinstance(target, ast.Constant) and isinstance(target.value, str) and ":" in target.value:
                return {target.value.partition(":")[0]}
    return None


def step_sources(src: str | Path, study_package: str, step: str) -> list[str]:
    """Source files that ``python -m eoml <study> <step>`` runs, found from the imports.

    The roots are ``eoml/__main__.py``, the study's ``cli.py`` module-level imports and the imports
    inside the step's function (or the target module of a ``COMMANDS.call`` step); from there every module of the package the roots import,
    directly or indirectly, anywhere in the file (function-level imports included), is followed.
    Other steps' lazy imports are left out, so editing a study's figures module does not rerun
    its training jobs.
    """
    src = Path(src).resolve()
    package = study_package.split(".")[0]
    cli_module = f"{study_package}.cli"
    cli_file = _module_file(src, cli_module)
    if cli_file is None:
        raise ConfigError(f"{study_package}: no cli.py under {src}")
    tree = ast.parse(cli_file.read_text(), filename=str(cli_file))
    step_roots = _step_roots(tree, cli_module, step)
    if step_roots is None:
        raise ConfigError(f"{cli_file}: no step {step!r} in its COMMANDS table")
    module_level = ast.Module(body=[n for n in tree.body if not isinstance(n, ast.FunctionDef)], type_ignores=[])
    roots = {f"{package}.__main__", cli_module} | step_roots
    roots |= _imported_modules(module_level, cli_module, False)
    # the study's own cli.py is a root, but only its module-level and this step's imports count
    files = set(_closure(src, frozenset(roots - {cli_module}), package))
    files.add(str(cli_file))
    return sorted(files)


# --------------------------------------------------------------------------------------------
# where a run may write
# --------------------------------------------------------------------------------------------
def check_output_roots(rules: Iterable, roots: Sequence[str | Path], workdir: str | Path = ".") -> None:
    """Refuse any declared output, log or benchmark outside ``roots`` (relative to ``workdir``).

    ``rules`` are Snakemake rule objects (``workflow.rules``): anything with ``name``, ``output``,
    ``log`` and ``benchmark``. A workflow that declared a user's file as an output would have
    Snakemake delete it before the job runs: this check makes that impossible at parse time.
    """
    workdir = Path(workdir).resolve()
    allowed = [(workdir / root).resolve() for root in roots]
    bad = []
    for rule in rules:
        files = [*rule.output, *rule.log]
        if rule.benchmark:
            files.append(rule.benchmark)
        for item in files:
            path = Path(os.path.normpath(workdir / str(item)))
            if not any(path == root or path.is_relative_to(root) for root in allowed):
                bad.append(f"rule {rule.name}: {item}")
    if bad:
        raise ConfigError(
            "these declared outputs lie outside the folders a run may write ("
            + ", ".join(f"{r}/" for r in roots) + "); a run never writes, moves or deletes other files:\n  "
            + "\n  ".join(bad)
        )


# --------------------------------------------------------------------------------------------
# wildcard-safe ids
# --------------------------------------------------------------------------------------------
SAFE_ID = r"[A-Za-z0-9][A-Za-z0-9_.-]*"


def safe_ids(names: Mapping[str, str]) -> dict[str, str]:
    """Map keys (e.g. file paths) to unique ids made of letters, digits, ``_ . -`` only.

    ``names`` maps each key to its preferred name (e.g. a file's stem); characters outside the
    safe set become ``_`` and clashes get ``-2``, ``-3``... in key order, so ids are stable.
    """
    ids: dict[str, str] = {}
    used: set[str] = set()
    for key in sorted(names):
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", names[key]).strip("_.-") or "file"
        candidate, n = base, 1
        while candidate in used:
            n += 1
            candidate = f"{base}-{n}"
        used.add(candidate)
        ids[key] = candidate
    return ids
