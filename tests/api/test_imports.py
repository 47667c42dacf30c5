"""The client and the remote over-sampler import neither torch nor the library."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.api.conftest import ROOT


@pytest.mark.parametrize("module", ["api.client", "api.remote", "api.schemas", "api.formats"])
def test_module_imports_without_torch(module):
    script = (
        f"import sys, {module}\n"
        "heavy = sorted(name for name in sys.modules if name == 'torch' or name.startswith(('torch.', 'ctgan', 'generator')))\n"
        "print(','.join(heavy))\n"
    )

    output = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)

    assert output.stdout.strip() == ""
