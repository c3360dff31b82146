"""python -m ganforge"""
import sys

from .cli import main

sys.exit(main())
