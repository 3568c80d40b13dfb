"""Diagnostics: what a prompt's gain comes from, checked by re-scoring and re-running.

Textual-gradient style optimizers often gain for reasons other than their
"gradient" (Melcer et al., docs ALGORITHMS.md): wrong labels work as well, any
candidates plus selection on dev do the job, or the winner just predicts the
majority class. Each module here answers one such question with paired,
interval-carrying numbers:

- :mod:`~optimizers.diagnostics.label_corruption`: the same optimizer with the
  train labels deterministically corrupted, at equal budget;
- :mod:`~optimizers.diagnostics.proposal_selection`: the optimizer's candidates
  against as many paraphrases of the seed, selected the same way;
- :mod:`~optimizers.diagnostics.class_shares`: per-class prediction shares and
  confusion matrices of the initial and final prompt ("prevalence hacking");
- :mod:`~optimizers.diagnostics.sentence_ablation`: drop each sentence of the
  final prompt and re-score;
- :mod:`~optimizers.diagnostics.overfitting`: the dev-test gap of the chosen
  prompt, and train examples copied verbatim into it
  (:mod:`~optimizers.diagnostics.verbatim`).

They are plain library code: they take an
:class:`~optimizers.evaluation.evaluator.Evaluator`, its
:class:`~optimizers.evaluation.evaluator.EvalResult` s, or an
:class:`~optimizers.base.OptimizerContext` with an optimizer factory, and
return frozen dataclasses with ``to_dict()``.
"""
