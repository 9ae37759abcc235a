"""Every public F.* name is exercised by some test file (guards against a module
adding a function without its forward/backward cases)."""
import glob
import os
import re

import nablite.functions as F

# Public names that are not differentiable functions of their own.
NOT_FUNCTIONS = {"get_auto_forward", "get_current_context"}


def test_every_public_function_appears_in_a_test():
    here = os.path.dirname(__file__)
    text = "\n".join(open(p).read() for p in glob.glob(os.path.join(here, "test_*.py")))
    used = set(re.findall(r"\bF\.(\w+)", text))
    missing = sorted(set(F.__all__) - used - NOT_FUNCTIONS)
    assert not missing, f"F functions without a test: {missing}"
