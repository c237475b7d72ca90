"""finlake's Glue job scripts (one module per job, each with ``run(spark, args)`` and ``main()``).

On Glue a script runs as a top-level module, and ``glue/lib/`` (shipped as ``--extra-py-files``, a zip
whose root holds ``glue_io.py``) is on ``sys.path``: the scripts ``import glue_io``. Importing a script
as ``glue.<script>`` (the tests, the bench, the local Glue runner) puts ``glue/lib/`` on ``sys.path``
here, so the same import resolves to the same file.
"""

import sys
from pathlib import Path

LIB = Path(__file__).with_name("lib")  # what --extra-py-files ships: every module at its root

if str(LIB) not in sys.path:
    sys.path.append(str(LIB))
