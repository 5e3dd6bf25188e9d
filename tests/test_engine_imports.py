"""Issue 19: the engine's modules import neither scikit-learn nor scipy (nor dowhy); they are
imported inside the functions of the models and tests that need them."""

from __future__ import annotations

import subprocess
import sys

ENGINE = [
    "provcausal.analysis.engine",
    "provcausal.analysis.change_test",
    "provcausal.analysis.exactness",
    "provcausal.analysis.mechanisms",
    "provcausal.analysis.shapley",
    "provcausal.analysis.distance",
]


def test_importing_the_engine_loads_no_sklearn_scipy_or_dowhy():
    code = (
        f"import sys; import {', '.join(ENGINE)}; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'scipy', 'dowhy'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
