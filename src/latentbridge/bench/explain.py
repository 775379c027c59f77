"""What an instance's fitness measures, in words a report reader needs before calling a winner "better"."""

from __future__ import annotations

from typing import Any

from .leaderboard import Instance

__all__ = ["REALISM_NOTES", "realism_note", "what_fitness_measures"]

_PIXEL = {"rmse": "pixel RMSE", "ncc": "normalised cross-correlation (NCC) of pixels"}


def _scorer(spec: dict[str, Any]) -> str:
    name = spec.get("scorer")
    if isinstance(name, dict):
        name = name.get("name")
    return str(name) if name else "the scorer"


#: What each realism column of the leaderboard measures (:mod:`latentbridge.bench.realism`).
REALISM_NOTES = {
    "latent p": "latent p is the typicality of the best latents under the prior (chi tail probability of "
    "their norm; below 0.05 they lie where the prior almost never samples)",
    "D pct": "D pct is the embedded discriminator's percentile among held-out real digits (0.5 = as real "
    "as a median real digit, near 0 = unlike any)",
    "digit ✓": "digit ✓ is how often the digit classifier assigns the best image the target's class",
    "digit conf": "digit conf is its median probability of that class",
}


def realism_note(headers: list[str]) -> str:
    """A sentence on the realism columns ``headers`` shown beside the ranking ("" when none)."""
    notes = [REALISM_NOTES[h] for h in headers if h in REALISM_NOTES]
    if not notes:
        return ""
    return "Realism of each optimizer's best images (medians over its runs): " + "; ".join(notes) + "."


def what_fitness_measures(inst: Instance, realism: list[str] | None = None) -> str:
    """One or two sentences: what the ranked number is, and what it does not say about the images.

    Built from the stored problem spec of the instance's first run (kind, scorer, ``k``).
    With ``realism`` (the realism columns shown beside the ranking) a sentence on what
    those columns measure follows.
    """
    text = _fitness_text(inst)
    note = realism_note(realism or [])
    return f"{text} {note}" if note else text


def _fitness_text(inst: Instance) -> str:
    first = next((r for runs in inst.runs.values() for r in runs), None)
    spec = first.problem_spec if first is not None and isinstance(first.problem_spec, dict) else {}
    scorer = _scorer(spec)
    raw = spec.get("options")
    options: dict[str, Any] = raw if isinstance(raw, dict) else {}
    k = options.get("k", spec.get("k", "k"))
    how = _PIXEL.get(scorer, f"the {scorer!r} scorer's feature distance")
    if inst.n_obj > 1:
        return (
            f"Ranked by the hypervolume of each run's non-dominated front over its {inst.n_obj} objectives "
            f"({how}); higher covers more trade-offs. It says nothing about whether the images look real: "
            "check the image grid."
        )
    if inst.kind == "target-similarity":
        return (
            f"Fitness is the distance between a generated image and the target under {how}; lower is closer. "
            "It does not measure realism: a latent far from the prior can reach a low distance with an image "
            "that no longer looks like the data, so read the ranking with the image grid."
        )
    if inst.kind == "set-diversity":
        sign = "the mean pairwise NCC" if scorer == "ncc" else f"minus the mean pairwise distance ({how})"
        return (
            f"Fitness is {sign} among a set's {k} images; lower means the images differ more, pixel by "
            "pixel. It rewards pixel difference only, not recognisable or varied content: saturated or noisy "
            "blobs score well. Before calling the winner better, look at the image grid and, for digits, the "
            "'distinct classes' column of seed 002's set table."
        )
    if inst.kind == "centroid-diversity":
        return (
            f"Fitness is the mean similarity ({how}) of the {k} generated images to the centroid of the "
            "originals and themselves; lower means farther from the class's mean image. Far is not the same as "
            "useful or realistic: check the image grid."
        )
    if inst.kind == "quality-diversity":
        objective = options.get("objective")
        name = objective.get("name") if isinstance(objective, dict) else None
        return (
            f"Fitness is minus the objective{f' ({name})' if name else ''} of the best single image; lower is "
            "better, and most optimizers reach the top. It says nothing about diversity: the Quality-diversity "
            "section ranks the archives every run filled (QD-score, coverage) and how many elites look real."
        )
    return f"Fitness is the problem's own objective ({inst.kind}); lower is better. Check the image grid too."
