"""scenes evaluation: accuracy, macro F1 and Cohen's kappa of every training run, and the tables.

Every training job (and every colour-histogram baseline, :mod:`eoml.scenes.baselines`, which
writes the same two files) leaves a *run directory* holding:

* ``run.json`` — ``job`` (``dataset, backbone, depth, mode, optimizer, seed, init``), ``attempts``
  (a list of ``{attempt, learning_rate, collapsed, best_epoch, epochs_run, best_val_acc,
  chance_acc, seconds_per_epoch}``), ``n_parameters``, ``n_trainable``;
* ``predictions.csv`` — ``attempt, sample, split, label, pred`` for every train / val / test sample
  (``split`` is ``train`` / ``val`` / ``test``; the store's flag values 0 / 1 / 2 are accepted
  too), made with the best-validation-epoch weights of each attempt;
* ``history.csv`` (training runs only; read by :mod:`eoml.scenes.figures`).

Attempt 0 is the configured run; attempt 1 exists only when attempt 0 collapsed to chance and the
retry (learning rate / ``collapse.lr_divisor``) is on. Both are scored and reported.

Outputs (written atomically):

* :func:`score_runs` → ``accuracy.csv``: one row per run × attempt × split, columns
  ``dataset, backbone, depth, mode, optimizer, init, seed, attempt, split, accuracy, f1_macro,
  kappa, epochs, collapsed`` (``epochs`` = the attempt's ``epochs_run``, empty for a baseline). The scores are
  :func:`eoml.core.metrics.classification_scores` with the labels present in the split (equal to
  scikit-learn's ``accuracy_score``, ``f1_score(average="macro")``, ``cohen_kappa_score``).
* :func:`configuration_table` → one row per configuration (``dataset, backbone, depth, mode,
  optimizer, init``): mean ± standard deviation over seeds (sample std, ``ddof=1``; empty for a
  single seed) of the configured attempt's scores and of the *final* attempt's (the retry where
  there is one), with the collapsed seeds counted, and the paper-style cells.
* :func:`best_table` → one row per dataset: the best configuration, **chosen on mean validation
  accuracy** (never on test accuracy, which would select on the test set), and its test scores,
  beside the colour-histogram floor.
* :func:`summary_table` → test accuracy mean ± std per ``dataset, backbone, optimizer, depth``
  (rows) × ``mode (init)`` (columns), as CSV and optionally Markdown (the demo note's table).

A *cell* reads ``0.983 ± 0.004`` (``± n/a`` with one seed), followed by ``(k/n collapsed)`` when
k of the n seeds collapsed; a configuration whose seeds all collapsed reads ``collapsed (0.048)``
(its mean accuracy), as the paper reported those runs.

References: Pires de Lima & Marfurt (2020) "Convolutional neural network for remote-sensing
scene classification: transfer learning analysis", Remote Sensing 12(1):86 (the tables
reproduced); Cohen (1960) for kappa; scikit-learn's ``sklearn.metrics``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eoml.core.errors import InputFileError
from eoml.core.io import atomic_path, write_text_atomic
from eoml.core.metrics import classification_scores

PathLike = str | os.PathLike
RUN_JSON, PREDICTIONS_CSV, HISTORY_CSV = "run.json", "predictions.csv", "history.csv"
SPLITS = ("train", "val", "test")
JOB_KEYS = ("dataset", "backbone", "depth", "mode", "optimizer", "init", "seed")
CONFIG_KEYS = JOB_KEYS[:-1]
SCORES = ("accuracy", "f1_macro", "kappa")
ACCURACY_COLUMNS = (*JOB_KEYS, "attempt", "split", *SCORES, "epochs", "collapsed")
ATTEMPT_KEYS = ("attempt", "collapsed", "epochs_run")
PREDICTION_COLUMNS = ("attempt", "sample", "split", "label", "pred")
BASELINE_MODE = "baseline"
MODE_ORDER = ("feature_extraction", "fine_tune", "random", BASELINE_MODE)
INIT_ORDER = ("imagenet", "random")
DEPTH_ORDER = ("shallow", "intermediate", "deep")


# --------------------------------------------------------------------------------------------
# reading a run directory
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Run:
    """One run directory: its job, its attempts (by number) and its size."""

    path: Path
    job: dict[str, Any]
    attempts: dict[int, dict[str, Any]]
    n_parameters: int | None
    n_trainable: int | None

    @property
    def config(self) -> tuple[str, ...]:
        return tuple(self.job[k] for k in CONFIG_KEYS)

    @property
    def label(self) -> str:
        """A short name: ``dataset backbone depth mode optimizer init seed``."""
        return " ".join(str(self.job[k]) for k in JOB_KEYS)


def read_run(run_dir: PathLike) -> Run:
    """Read and check ``run_dir/run.json`` (:class:`InputFileError` naming it when malformed)."""
    path = Path(run_dir) / RUN_JSON
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise InputFileError(path, "missing: not a finished run directory") from exc
    except (OSError, ValueError) as exc:
        raise InputFileError(path, f"unreadable JSON ({exc})") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("job"), dict):
        raise InputFileError(path, "has no 'job' object")
    job = meta["job"]
    missing = [k for k in JOB_KEYS if k not in job]
    if missing:
        raise InputFileError(path, f"job lacks {missing}")
    try:
        job = {**{k: str(job[k]) for k in CONFIG_KEYS}, "seed": int(job["seed"])}
    except (TypeError, ValueError) as exc:
        raise InputFileError(path, f"job seed {job['seed']!r} is not an integer") from exc
    attempts = meta.get("attempts")
    if not isinstance(attempts, list) or not attempts:
        raise InputFileError(path, "'attempts' must be a non-empty list")
    by_number: dict[int, dict[str, Any]] = {}
    for a in attempts:
        if not isinstance(a, dict) or any(k not in a for k in ATTEMPT_KEYS):
            raise InputFileError(path, f"an attempt lacks one of {list(ATTEMPT_KEYS)}: {a!r}")
        number = int(a["attempt"])
        if number in by_number:
            raise InputFileError(path, f"attempt {number} listed twice")
        epochs = None if a["epochs_run"] is None else int(a["epochs_run"])  # null: a baseline
        by_number[number] = {**a, "attempt": number, "collapsed": bool(a["collapsed"]),
                             "epochs_run": epochs}
    if 0 not in by_number:
        raise InputFileError(path, "has no attempt 0 (the configured run)")
    return Run(Path(run_dir), job, dict(sorted(by_number.items())),
               meta.get("n_parameters"), meta.get("n_trainable"))


def read_predictions(run: Run | PathLike) -> pd.DataFrame:
    """``predictions.csv`` of a run, checked against its ``run.json``; ``split`` as names.

    Raises :class:`InputFileError` naming the file when a column is missing, a split is unknown,
    a sample is predicted twice in one attempt, or the attempts differ from ``run.json``'s.
    """
    run = run if isinstance(run, Run) else read_run(run)
    path = run.path / PREDICTIONS_CSV
    try:
        df = pd.read_csv(path, keep_default_na=False, na_values=[""])
    except FileNotFoundError as exc:
        raise InputFileError(path, "missing") from exc
    except (OSError, ValueError) as exc:
        raise InputFileError(path, f"unreadable CSV ({exc})") from exc
    missing = [c for c in PREDICTION_COLUMNS if c not in df.columns]
    if missing:
        raise InputFileError(path, f"lacks column(s) {missing} (has {list(df.columns)})")
    if df[["attempt", "sample", "label", "pred"]].isna().any().any():
        raise InputFileError(path, "has empty attempt / sample / label / pred cells")
    for c in ("attempt", "sample", "label", "pred"):
        if not pd.api.types.is_integer_dtype(df[c]):
            raise InputFileError(path, f"column {c!r} is not integer")
    split = df["split"].astype(str)
    flags = {str(i): name for i, name in enumerate(SPLITS)}
    split = split.map(lambda s: flags.get(s, s))
    bad = sorted(set(split) - set(SPLITS))
    if bad:
        raise InputFileError(path, f"unknown split value(s) {bad}; expected {list(SPLITS)}")
    df = df.assign(split=split)
    if df.duplicated(["attempt", "sample"]).any():
        raise InputFileError(path, "a sample is predicted twice in one attempt")
    found, expected = sorted(df["attempt"].unique().tolist()), list(run.attempts)
    if found != expected:
        raise InputFileError(path, f"attempts {found} but {run.path / RUN_JSON} lists {expected}")
    return df


def read_history(run: Run | PathLike) -> pd.DataFrame:
    """``history.csv`` of a training run (``epoch, train_acc, val_acc, attempt`` at least)."""
    run = run if isinstance(run, Run) else read_run(run)
    path = run.path / HISTORY_CSV
    try:
        df = pd.read_csv(path)
    except FileNotFoundError as exc:
        raise InputFileError(path, "missing") from exc
    except (OSError, ValueError) as exc:
        raise InputFileError(path, f"unreadable CSV ({exc})") from exc
    need = ("epoch", "train_acc", "val_acc", "attempt")
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise InputFileError(path, f"lacks column(s) {missing} (has {list(df.columns)})")
    return df


def write_run(
    out_dir: PathLike,
    job: Mapping[str, Any],
    attempts: Iterable[Mapping[str, Any]],
    predictions: pd.DataFrame,
    *,
    n_parameters: int | None,
    n_trainable: int | None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write a run directory's ``predictions.csv`` and ``run.json`` (each atomically), checked.

    ``job`` needs the keys of :data:`JOB_KEYS`, each attempt those of :data:`ATTEMPT_KEYS`,
    ``predictions`` the columns of :data:`PREDICTION_COLUMNS`; ``extra`` adds entries to
    ``run.json``. Reads the directory back (:func:`read_predictions`) before returning it.
    """
    out = Path(out_dir)
    missing = [k for k in JOB_KEYS if k not in job]
    if missing:
        raise ValueError(f"job lacks {missing}")
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / PREDICTIONS_CSV) as tmp:
        predictions.loc[:, list(PREDICTION_COLUMNS)].to_csv(tmp, index=False)
    meta = {"job": dict(job), "attempts": [dict(a) for a in attempts],
            "n_parameters": n_parameters, "n_trainable": n_trainable, **(extra or {})}
    write_text_atomic(out / RUN_JSON, json.dumps(meta, indent=2) + "\n")
    read_predictions(out)
    return out


# --------------------------------------------------------------------------------------------
# scoring
# --------------------------------------------------------------------------------------------
def run_scores(run: Run | PathLike) -> list[dict[str, Any]]:
    """The accuracy.csv rows of one run: one per attempt × split present in its predictions."""
    run = run if isinstance(run, Run) else read_run(run)
    pred = read_predictions(run)
    rows = []
    for (attempt, split), sub in pred.groupby(["attempt", "split"], sort=False):
        s = classification_scores(sub["label"].to_numpy(), sub["pred"].to_numpy())
        a = run.attempts[int(attempt)]
        rows.append({**run.job, "attempt": int(attempt), "split": split,
                     **{k: s[k] for k in SCORES},
                     "epochs": np.nan if a["epochs_run"] is None else a["epochs_run"],
                     "collapsed": a["collapsed"]})
    order = {s: i for i, s in enumerate(SPLITS)}
    return sorted(rows, key=lambda r: (r["attempt"], order[r["split"]]))


def _check_unique(runs: Iterable[Run]) -> None:
    seen: dict[tuple, Path] = {}
    for run in runs:
        key = tuple(run.job[k] for k in JOB_KEYS)
        if key in seen:
            raise InputFileError(run.path / RUN_JSON,
                                 f"job {run.label!r} is also the job of {seen[key] / RUN_JSON}")
        seen[key] = run.path


def sort_rows(df: pd.DataFrame, keys: Iterable[str]) -> pd.DataFrame:
    """Sort by ``keys``; depths, modes, inits and splits in their natural order, then by name."""
    orders = {"depth": DEPTH_ORDER, "mode": MODE_ORDER, "init": INIT_ORDER, "split": SPLITS}

    def key(col: pd.Series) -> pd.Series:
        if col.name not in orders:
            return col
        known = [v for v in orders[col.name] if v in set(col)]
        others = sorted(set(col) - set(known), key=str)
        return pd.Series(pd.Categorical(col, categories=known + others, ordered=True), index=col.index)

    return df.sort_values(list(keys), key=key, kind="stable").reset_index(drop=True)


def _write_csv(df: pd.DataFrame, path: PathLike) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.6g")


def score_runs(run_dirs: Iterable[PathLike], output: PathLike) -> pd.DataFrame:
    """Score every run directory (training runs and baselines alike) → ``accuracy.csv``.

    Two run directories with the same job are refused. Returns the table written.
    """
    runs = [read_run(d) for d in run_dirs]
    if not runs:
        raise ValueError("score_runs: no run directory given")
    _check_unique(runs)
    rows = [row for run in runs for row in run_scores(run)]
    df = sort_rows(pd.DataFrame(rows, columns=list(ACCURACY_COLUMNS)),
               [*JOB_KEYS, "attempt", "split"])
    _write_csv(df, output)
    return df


def read_accuracy(path: PathLike) -> pd.DataFrame:
    """Read an ``accuracy.csv`` (names stay strings: a dataset called ``NA`` is not missing)."""
    try:
        df = pd.read_csv(path, keep_default_na=False, na_values=[""],
                         dtype={k: str for k in CONFIG_KEYS})
    except FileNotFoundError as exc:
        raise InputFileError(path, "missing") from exc
    missing = [c for c in ACCURACY_COLUMNS if c not in df.columns]
    if missing:
        raise InputFileError(path, f"lacks column(s) {missing}")
    df["collapsed"] = df["collapsed"].map(
        lambda v: v if isinstance(v, (bool, np.bool_)) else str(v).strip().lower() == "true"
    ).astype(bool)
    return df


# --------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------
def attempt_rows(acc: pd.DataFrame, which: str) -> pd.DataFrame:
    """Rows of the configured attempt (``which="first"``: attempt 0) or of each run's last attempt
    (``"final"``: the retry where there is one)."""
    if which == "first":
        return acc[acc["attempt"] == 0]
    if which == "final":
        last = acc.groupby(list(JOB_KEYS))["attempt"].transform("max")
        return acc[acc["attempt"] == last]
    raise ValueError(f"which must be 'first' or 'final', got {which!r}")


def cell(values: Iterable[float], collapsed: Iterable[bool]) -> str:
    """The paper-style cell of a configuration's per-seed scores (see the module docstring)."""
    v = np.asarray(list(values), dtype=np.float64)
    c = np.asarray(list(collapsed), dtype=bool)
    if v.size == 0:
        return ""
    mean = np.nanmean(v) if np.isfinite(v).any() else np.nan
    if c.all():
        return f"collapsed ({mean:.3f})"
    std = f"{np.std(v, ddof=1):.3f}" if v.size > 1 else "n/a"
    text = f"{mean:.3f} ± {std}"
    return f"{text} ({int(c.sum())}/{c.size} collapsed)" if c.any() else text


def _stats(rows: pd.DataFrame, split: str, score: str, prefix: str) -> pd.DataFrame:
    sub = rows[rows["split"] == split]
    g = sub.groupby(list(CONFIG_KEYS), sort=False)
    out = pd.DataFrame({f"{prefix}_mean": g[score].mean(), f"{prefix}_std": g[score].std(ddof=1)})
    out[prefix] = pd.Series({k: cell(d[score], d["collapsed"]) for k, d in g}, dtype=object)
    return out


def configuration_table(accuracy_csv: PathLike, output: PathLike | None = None) -> pd.DataFrame:
    """One row per configuration: seeds, collapses, retries, and the mean ± std scores over seeds.

    Columns: the configuration keys, ``n_seeds``, ``n_collapsed`` (configured attempts that
    collapsed), ``n_retried`` (runs with a retry), ``n_collapsed_final``; for the configured
    attempt ``test_accuracy`` (the cell), ``test_accuracy_mean`` / ``_std``; for the final attempt
    ``*_final`` cells and means of train / val / test accuracy, test macro F1 and test kappa, and
    ``gap_final_mean`` (train − test accuracy). Written to ``output`` when given.
    """
    acc = read_accuracy(accuracy_csv)
    first, final = attempt_rows(acc, "first"), attempt_rows(acc, "final")
    keys = list(CONFIG_KEYS)
    runs = acc.drop_duplicates(list(JOB_KEYS) + ["attempt"])
    g = runs.groupby(keys, sort=False)
    counts = pd.DataFrame({
        "n_seeds": g["seed"].nunique(),
        "n_collapsed": runs[(runs.attempt == 0) & runs.collapsed].groupby(keys)["seed"].nunique(),
        "n_retried": runs[runs.attempt > 0].groupby(keys)["seed"].nunique(),
    })  # fmt: skip
    final_runs = final.drop_duplicates(list(JOB_KEYS))
    counts["n_collapsed_final"] = final_runs[final_runs.collapsed].groupby(keys)["seed"].nunique()
    counts = counts.fillna(0).astype(int)
    parts = [counts, _stats(first, "test", "accuracy", "test_accuracy")]
    for split in SPLITS:
        parts.append(_stats(final, split, "accuracy", f"{split}_accuracy_final"))
    for score in ("f1_macro", "kappa"):
        parts.append(_stats(final, "test", score, f"test_{score}_final"))
    table = pd.concat(parts, axis=1).reset_index()
    table["gap_final_mean"] = table["train_accuracy_final_mean"] - table["test_accuracy_final_mean"]
    table = sort_rows(table, keys)
    if output is not None:
        _write_csv(table, output)
    return table


BEST_COLUMNS = (*CONFIG_KEYS, "n_seeds", "n_collapsed", "n_retried", "val_accuracy_final_mean",
                "test_accuracy_final", "test_accuracy_final_mean", "test_accuracy_final_std",
                "test_f1_macro_final_mean", "test_kappa_final_mean", "test_accuracy",
                "baseline", "baseline_test_accuracy")


def best_configurations(table: pd.DataFrame) -> pd.DataFrame:
    """Per dataset, the trained (non-baseline) configuration of highest mean validation accuracy
    of the final attempts (ties: the first in the table's order). Test accuracy plays no part."""
    trained = table[table["mode"] != BASELINE_MODE]
    if trained.empty:
        return trained
    order = trained.sort_values("val_accuracy_final_mean", ascending=False, kind="stable")
    return sort_rows(order.groupby("dataset", sort=False).head(1), ["dataset"])


def best_table(accuracy_csv: PathLike, output: PathLike | None = None) -> pd.DataFrame:
    """The best configuration of each dataset, like the paper's table of best test accuracies.

    The configuration is chosen on **validation** accuracy (mean over seeds of each run's final
    attempt), never on test accuracy; its test accuracy (mean ± std over seeds, collapsed seeds
    counted in the cell) is then reported, with macro F1 and kappa, the configured attempt's cell
    (``test_accuracy``; differs when a collapsed run was retried) and the colour-histogram floor
    of the same dataset (``baseline``, ``baseline_test_accuracy``: the baseline configuration of
    highest validation accuracy; empty when no baseline was run). Written to ``output`` when
    given.
    """
    table = configuration_table(accuracy_csv)
    best = best_configurations(table).copy()
    base = table[table["mode"] == BASELINE_MODE].sort_values(
        "val_accuracy_final_mean", ascending=False, kind="stable").groupby("dataset").head(1)
    base = base.set_index("dataset")
    best["baseline"] = best["dataset"].map(
        lambda d: f"{base.at[d, 'backbone']} {base.at[d, 'optimizer']}" if d in base.index else "")
    best["baseline_test_accuracy"] = best["dataset"].map(
        lambda d: base.at[d, "test_accuracy_final"] if d in base.index else "")
    best = best.loc[:, list(BEST_COLUMNS)].reset_index(drop=True)
    if output is not None:
        _write_csv(best, output)
    return best


def _column_name(mode: str, init: str) -> str:
    return f"{mode} ({init})"


def summary_table(
    accuracy_csv: PathLike, output: PathLike | None = None, markdown: PathLike | None = None
) -> pd.DataFrame:
    """Test accuracy mean ± std over seeds (final attempts), rows ``dataset, backbone, optimizer,
    depth``, one column per ``mode (init)`` present (e.g. ``fine_tune (imagenet)``,
    ``random (random)``); collapsed seeds counted in the cells. Baselines are left out. Written
    as CSV to ``output`` and as a Markdown table to ``markdown`` when given."""
    table = configuration_table(accuracy_csv)
    table = table[table["mode"] != BASELINE_MODE]
    rows = ["dataset", "backbone", "optimizer", "depth"]
    pairs = sort_rows(table[["mode", "init"]].drop_duplicates(), ["mode", "init"])
    columns = [_column_name(m, i) for m, i in pairs.itertuples(index=False)]
    table = table.assign(column=[_column_name(m, i) for m, i in zip(table["mode"], table["init"],
                                                                      strict=True)])
    wide = table.pivot(index=rows, columns="column", values="test_accuracy_final")
    wide = wide.reindex(columns=columns).fillna("").reset_index()
    wide.columns.name = None
    wide = sort_rows(wide, rows)
    if output is not None:
        _write_csv(wide, output)
    if markdown is not None:
        with atomic_path(markdown) as tmp:
            Path(tmp).write_text(to_markdown(wide))
    return wide


def to_markdown(df: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of ``df`` (all cells as text)."""
    head = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *body]) + "\n"


def best_runs(run_dirs: Iterable[PathLike], accuracy_csv: PathLike) -> dict[str, Run]:
    """Per dataset, the run of the best configuration (:func:`best_configurations`) whose final
    attempt has the highest validation accuracy (ties: the lowest seed)."""
    table = configuration_table(accuracy_csv)
    best = best_configurations(table)
    acc = attempt_rows(read_accuracy(accuracy_csv), "final")
    val = acc[acc["split"] == "val"]
    runs = {(*r.config, r.job["seed"]): r for r in map(read_run, run_dirs)}
    out: dict[str, Run] = {}
    for row in best.itertuples(index=False):
        config = tuple(getattr(row, k) for k in CONFIG_KEYS)
        sub = val[(val[list(CONFIG_KEYS)] == pd.Series(config, index=list(CONFIG_KEYS))).all(axis=1)]
        sub = sub.sort_values(["accuracy", "seed"], ascending=[False, True], kind="stable")
        for seed in sub["seed"]:
            if (*config, int(seed)) in runs:
                out[row.dataset] = runs[(*config, int(seed))]
                break
        else:
            raise ValueError(f"no run directory given for the best configuration {config} of "
                             f"{accuracy_csv}")
    return out


def final_attempt(run: Run) -> int:
    """The last attempt of a run (the retry where there is one)."""
    return max(run.attempts)


def confusion_of_run(run: Run, n_classes: int, split: str = "test") -> np.ndarray:
    """Row-normalised ``n_classes × n_classes`` confusion matrix (rows = reference, an empty row
    NaN) of a run's final attempt on ``split``."""
    pred = read_predictions(run)
    sub = pred[(pred["attempt"] == final_attempt(run)) & (pred["split"] == split)]
    path = run.path / PREDICTIONS_CSV
    if sub.empty:
        raise InputFileError(path, f"has no {split} predictions")
    try:
        s = classification_scores(sub["label"].to_numpy(), sub["pred"].to_numpy(),
                                  labels=np.arange(n_classes))
    except ValueError as exc:
        raise InputFileError(path, f"labels outside the {n_classes} classes: {exc}") from exc
    counts = s["counts"].astype(np.float64)
    support = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, support, out=np.full(counts.shape, np.nan), where=support > 0)
