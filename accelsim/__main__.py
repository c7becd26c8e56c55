"""Allows ``python -m accelsim``."""

from accelsim.cli import main

raise SystemExit(main())
