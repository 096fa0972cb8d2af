"""Pulumi runs this to serve the tier components to other programs (see PulumiPlugin.yaml).

It runs as a script, from this directory: the repository root goes on the import path first.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tiers.provider import serve

serve()
