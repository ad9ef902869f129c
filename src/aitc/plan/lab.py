"""lab.yaml as every command reads it: the architecture layer's reader, judged by the engine.

The reader (``aitc.arch.labfile``, ``aitc.arch.labread``) checks the YAML, each key, the
roster, the cluster and what spans several keys; the policy section is judged by the engine's
own rules (``aitc.engine.registry.policy_errors``, the ones ``Scheduler`` applies). The
architecture layer imports only the domain, so the check is handed in here, in the first layer
that may import both: ``aitc lab check``, ``aitc lab apply``, ``aitc serve --lab``,
``aitc sim --lab`` and ``aitc plan`` all call this one function.
"""

from __future__ import annotations

from pathlib import Path

from aitc.arch.labfile import load_lab as read_lab_file
from aitc.domain.lab import Lab
from aitc.engine.registry import policy_errors


def load_lab(path: str | Path) -> Lab:
    """The lab described by the YAML file at ``path``, or a ``ConfigErrors`` naming every
    problem of it and its roster with file, line and field, the policy's included."""
    return read_lab_file(path, policy_check=policy_errors)
