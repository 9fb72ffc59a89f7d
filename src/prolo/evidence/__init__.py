"""Evidence: the published randomized trials as data, meta-analysis that reproduces metafor,
forest plots, and the registry's rates beside the trials' arms.

Pure statistics: nothing here imports the database or the web layer (``api.py`` is the thin
router the application factory mounts). Main entry points:

* :class:`prolo.evidence.models.MetaAnalysis` — EE / DL / REML / PM, HKSJ, leave-one-out;
* :class:`prolo.evidence.mh.MantelHaenszel` — Mantel–Haenszel RR, OR, RD;
* :func:`prolo.evidence.effects.escalc` — effect sizes from metafor ``escalc`` columns;
* :func:`prolo.evidence.trials.bundled_trials` — the bundled trials, validated;
* :func:`prolo.evidence.forest.forest_figure` — forest plots.

Submodules are imported on demand so that ``prolo --help`` stays instant.
"""
