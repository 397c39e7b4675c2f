"""`python -m inference_backend.data build | show` (see cli.py)."""
import sys

from .cli import main

sys.exit(main())
