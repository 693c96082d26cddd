"""report.md with metric tables and a recall@k chart."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from eval.metrics import KS, split_deltas  # noqa: E402

if TYPE_CHECKING:
    from eval.run import Run

COLUMNS = ["recall@1", "recall@3", "recall@5", "recall@10", "allhit@5", "mrr", "latency_ms_p50",
           "latency_ms_p95", "n"]


def table(rows: list[tuple[str, dict[str, Any]]], first: str) -> str:
    lines = [f"| {first} | " + " | ".join(COLUMNS) + " |", "|" + "---|" * (len(COLUMNS) + 1)]
    for name, values in rows:
        cells = [f"{values.get(c, 0):.3f}" if c != "n" else str(values.get(c, 0)) for c in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main_systems(metrics: dict[str, Any]) -> dict[str, Any]:
    """envqa and the baselines; ablation variants (envqa-…) get a table of their own."""
    return {name: s for name, s in metrics["systems"].items() if not name.startswith("envqa-")}


def ablation_table(metrics: dict[str, Any], run: Run | None = None) -> list[str]:
    systems = metrics["systems"]
    variants = [name for name in systems if name.startswith("envqa-")]
    if not variants or "envqa" not in systems:
        return []
    full = systems["envqa"]["overall"]
    lines = ["## Ablations", "", "What each retrieval step is worth: envqa with that step off "
             "(Δ is the change from full envqa; negative means the step pays).", "",
             "| variant | recall@1 | recall@5 | Δ recall@5 | mrr | Δ mrr | en recall@5 |", "|---|---|---|---|---|---|---|"]
    for name in ["envqa", *variants]:
        o = systems[name]["overall"]
        en = systems[name]["by_lang"].get("en", {}).get("recall@5", 0.0)
        lines.append(f"| {name} | {o['recall@1']:.3f} | {o['recall@5']:.3f} | {o['recall@5'] - full['recall@5']:+.3f} "
                     f"| {o['mrr']:.3f} | {o['mrr'] - full['mrr']:+.3f} | {en:.3f} |")
    return lines + [""] + split_table(variants, run)


def split_table(variants: list[str], run: Run | None) -> list[str]:
    """What each step is worth on each dev split, with a 95% paired bootstrap interval: a step whose
    interval on the split it was not fitted on does not exclude zero is not shown to pay."""
    if run is None or "envqa" not in run.outcomes:
        return []
    full = run.outcomes["envqa"]
    splits = sorted({o.split for o in full if o.split})
    if not splits:
        return []
    lines = ["### What each step is worth, by dev split", "",
             "Gain in recall@5 and MRR from the step (full envqa minus envqa without it), mean over the split's "
             "answerable questions with its 95% paired bootstrap interval.", "",
             "| step | " + " | ".join(f"{s}: recall@5 | {s}: mrr" for s in splits) + " |",
             "|---|" + "---|---|" * len(splits)]
    for name in variants:
        cells = []
        for split in splits:
            for key in ("recall@5", "mrr"):
                mean, low, high = split_deltas(run.outcomes[name], full, split, key)
                cells.append(f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]")
        lines.append(f"| {name.removeprefix('envqa-')} | " + " | ".join(cells) + " |")
    return lines + [""]


ANSWER_ROWS = (
    ("citation_recall", "citation recall (evidence strings inside the cited quotes)"),
    ("answer_precision", "answer precision (share of cited quotes holding evidence or a fact an answer point needs)"),
    ("fact_coverage", "fact coverage (numbers, years, identifiers of the answer points in the answer)"),
    ("refusal_rate_out_of_scope", "out-of-scope questions refused"),
    ("false_refusal_rate", "answerable questions refused"),
    ("fabricated_quotes", "fabricated quotes (not found in their document)"),
    ("quotes", "quotes cited in all"),
    ("chat_latency_ms_p50", "answer latency p50 (ms)"),
    ("chat_latency_ms_p95", "answer latency p95 (ms)"),
)


def answers_table(metrics: dict[str, Any]) -> list[str]:
    scores = metrics["systems"].get("envqa", {}).get("answers")
    if not scores:
        return []
    lines = ["## Answers", "", f"envqa's answer function on {scores['n']} questions "
             f"({scores['n_out_of_scope']} out of scope).", "", "| metric | value |", "|---|---|"]
    for key, label in ANSWER_ROWS:
        value = scores[key]
        lines.append(f"| {label} | {answer_value(key, value)} |")
    lines.append("")
    envqa = metrics["systems"]["envqa"]
    for key, title in (("answers_by_corpus", "corpus"), ("answers_by_split", "split")):
        groups = envqa.get(key) or {}
        if len(groups) < 2:
            continue
        names = sorted(groups)
        lines += [f"### Answers by {title}", "", "| metric | " + " | ".join(names) + " |",
                  "|---|" + "---|" * len(names)]
        for metric, label in ANSWER_ROWS:
            lines.append(f"| {label} | " + " | ".join(answer_value(metric, groups[n][metric]) for n in names) + " |")
        lines.append("")
    return lines


def answer_value(key: str, value: float) -> str:
    return str(int(value)) if key in ("fabricated_quotes", "quotes") else f"{value:.3f}"


def render(metrics: dict[str, Any], run: Run | None = None) -> str:
    ablations = ablation_table(metrics, run)
    systems = main_systems(metrics)
    parts = ["# envqa retrieval evaluation", "", "## Overall", "",
             table([(name, s["overall"]) for name, s in systems.items()], "system"), ""]
    if "baseline_dense" in systems and "envqa" in systems:
        ours, theirs = systems["envqa"]["overall"], systems["baseline_dense"]["overall"]
        parts += [f"envqa / baseline_dense: recall@5 ×{ratio(ours['recall@5'], theirs['recall@5'])}, "
                  f"MRR ×{ratio(ours['mrr'], theirs['mrr'])}, "
                  f"latency p50 ×{ratio(ours['latency_ms_p50'], theirs['latency_ms_p50'])}.", ""]
    build = ", ".join(f"{name} {s['build_s']:.1f} s" for name, s in systems.items())
    parts += [f"Build time (with the embedding cache warm where it exists): {build}.", ""]
    for key, title in (("by_corpus", "By corpus"), ("by_split", "By dev split"), ("by_lang", "By language"),
                       ("by_type", "By question type")):
        if key in ("by_corpus", "by_split") and len(next(iter(systems.values())).get(key, {})) < 2:
            continue
        parts += [f"## {title}", ""]
        groups = sorted({g for s in systems.values() for g in s[key] if s[key][g]["n"]})
        rows = [(f"{g} · {name}", s[key][g]) for g in groups for name, s in systems.items() if g in s[key]]
        parts += [table(rows, "group · system"), ""]
    parts += answers_table(metrics)
    parts += ablations
    parts += ["![recall@k per system and type](recall.png)", ""]
    return "\n".join(parts)


def ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}" if theirs else "∞"


def chart(metrics: dict[str, Any], path: Path) -> None:
    systems = main_systems(metrics)
    types = sorted({t for s in systems.values() for t in s["by_type"] if s["by_type"][t]["n"]})
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 4.5))
    for name, s in systems.items():
        left.plot(KS, [s["overall"][f"recall@{k}"] for k in KS], marker="o", label=name)
    left.set(title="Evidence recall@k", xlabel="k", ylabel="recall", ylim=(0, 1.02), xticks=list(KS))
    left.legend()
    width = 0.8 / max(1, len(systems))
    for offset, (name, s) in enumerate(systems.items()):
        values = [s["by_type"].get(t, {}).get("recall@5", 0) for t in types]
        right.bar([i + offset * width for i in range(len(types))], values, width, label=name)
    right.set_xticks([i + width * (len(systems) - 1) / 2 for i in range(len(types))], types, rotation=30)
    right.set(title="recall@5 by question type", ylim=(0, 1.02))
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_report(metrics: dict[str, Any], run: Run, out_dir: Path) -> None:
    chart(metrics, out_dir / "recall.png")
    (out_dir / "report.md").write_text(render(metrics, run), encoding="utf-8")
