"""``python -m han_emu.cli``: the ``han-emu`` command."""

from han_emu.cli.main import main

raise SystemExit(main())
