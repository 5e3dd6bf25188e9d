"""An insurance-claims Seldon Core v2 pipeline whose classifier returns *one of* two BOOL
tensors per request, and the ``seldon pipeline inspect`` output it produces.

Steps: ``classify`` (amount, items; a Triton Python model that returns only
``is_simple_claim`` or only ``is_complex_claim``, each a BOOL ``[true]``),
``simple-payout`` (amount; triggered by ``classify.outputs.is_simple_claim``) and
``complex-payout`` (amount, items; triggered by ``classify.outputs.is_complex_claim``), both
with ``triggersJoinType: any``; the pipeline's output is ``stepsJoin: any`` over the two
payouts. Faults: ``classify_bug`` (the classifier always returns ``is_simple_claim``: every
claim is paid as simple) and ``input_scale`` (the request amounts are scaled).

The signal of the classifier's fault is *which* tensor it emitted, not any value: its first
tensor is ``true`` whenever it ran. Output follows ``../shared/formats.md`` §3, as
:mod:`provcausal.examples.seldon_claims` writes it (same writers, same request ids).
"""

from __future__ import annotations

import functools
import math
import random
from pathlib import Path
from typing import Any

from provcausal.examples import seldon_claims
from provcausal.examples.seldon_claims import PIPELINE, _step, _tensor, make_xid

__all__ = ["PIPELINE", "CLASSIFIER", "SPEC_YAML", "write_spec", "simulate"]

CLASSIFIER = "classify"

SPEC_YAML = f"""apiVersion: mlops.seldon.io/v1alpha1
kind: Pipeline
metadata:
  name: {PIPELINE}
spec:
  steps:
    - name: {CLASSIFIER}
      inputs:
        - {PIPELINE}.inputs.amount
        - {PIPELINE}.inputs.items
    - name: simple-payout
      inputs:
        - {PIPELINE}.inputs.amount
      triggers:
        - {CLASSIFIER}.outputs.is_simple_claim
      triggersJoinType: any
    - name: complex-payout
      inputs:
        - {PIPELINE}.inputs.amount
        - {PIPELINE}.inputs.items
      triggers:
        - {CLASSIFIER}.outputs.is_complex_claim
      triggersJoinType: any
  output:
    steps:
      - simple-payout
      - complex-payout
    stepsJoin: any
"""


def write_spec(
    path: str | Path, pipeline: str = PIPELINE, steps: dict[str, str] | None = None
) -> Path:
    """The pipeline spec; ``pipeline``/``steps`` (OLD → NEW) deploy it as a renamed version."""
    return seldon_claims.write_spec(path, pipeline, steps, spec=SPEC_YAML)


def simulate(
    n: int,
    *,
    seed: int = 0,
    classify_bug: bool = False,
    input_scale: float = 1.0,
    start: int = 1_688_047_909,
) -> list[dict[str, Any]]:
    """``n`` requests through the pipeline: per request, the messages of every topic (the
    layout :func:`provcausal.examples.seldon_claims.write_inspect` writes)."""
    rng = random.Random(seed)
    requests = []
    for i in range(n):
        key = make_xid(start + i * 7 + seed * 100_000, i + seed * 1_000_000)
        amount = rng.lognormvariate(7.0, 0.6) * input_scale
        items = rng.randint(1, 12)
        score = 0.3 * math.log(amount) + 0.25 * items + rng.gauss(0, 0.3)
        complex_claim = score > 3.8 and not classify_bug
        if complex_claim:  # assessed: items are checked one by one, a deductible per item
            payout = 0.7 * amount - 30 * items - 50 + rng.gauss(0, 10)
        else:  # paid as claimed, less a flat fee
            payout = 0.95 * amount - 20 + rng.gauss(0, 10)
        inputs = [
            _tensor("amount", "FP64", [amount]),
            _tensor("items", "INT64", [items]),
        ]
        msgs: dict[str, dict[str, Any]] = {}
        routes: dict[str, list[str]] = {PIPELINE: []}
        step = functools.partial(_step, msgs, routes, rng)
        msgs[f"pipeline.{PIPELINE}.inputs"] = {
            "value": {"modelName": PIPELINE, "inputs": inputs},
            "route": [],
        }
        flag = "is_complex_claim" if complex_claim else "is_simple_claim"
        step(CLASSIFIER, [PIPELINE], inputs, [_tensor(flag, "BOOL", [True])])
        # a trigger passes no data: the payout step reads the request's tensors only
        payout_step = "complex-payout" if complex_claim else "simple-payout"
        step(
            payout_step,
            [PIPELINE, CLASSIFIER],
            inputs if complex_claim else inputs[:1],
            [_tensor("payout", "FP64", [payout])],
        )
        msgs[f"pipeline.{PIPELINE}.outputs"] = {
            "value": {"outputs": [_tensor("payout", "FP64", [payout])]},
            "route": routes[payout_step],
            "service": rng.randint(10, 40),
        }
        requests.append({"key": key, "messages": msgs})
    return requests
