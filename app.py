#!/usr/bin/env python3
"""CDK entry point: builds the finlake stacks from cdk.json context (see stacks/app.py).

`make synth` runs this directly (the CDK CLI is optional): the assembly goes to cdk.out/.
"""

import os

from stacks.app import build_app
from stacks.specs import ROOT

if __name__ == "__main__":
    build_app(outdir=os.environ.get("CDK_OUTDIR", str(ROOT / "cdk.out"))).synth()
