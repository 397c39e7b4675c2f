"""`python -m inference_backend.data build | show | check` (see cli.py)."""
import sys

from .cli import main

sys.exit(main())
