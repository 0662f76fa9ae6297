"""Evaluation in three stages: :mod:`~hmtir.evaluation.plan` (which frames), :mod:`~hmtir.evaluation.run`
(restore and score; resumable, shardable across ``torchrun`` processes) and :mod:`~hmtir.evaluation.results`
(the output folder, loading results back as data), driven by one frozen :class:`~hmtir.evaluation.spec.RunSpec`.

``hmtir.evaluate(...)`` is :func:`hmtir.evaluation.evaluate`; ``hmtir.load_results(...)`` is
:func:`hmtir.evaluation.load_results`.
"""

from hmtir.evaluation.evaluator import evaluate
from hmtir.evaluation.results import EvaluationResult, load_result, load_results
from hmtir.evaluation.spec import RunSpec

__all__ = ["EvaluationResult", "RunSpec", "evaluate", "load_result", "load_results"]
