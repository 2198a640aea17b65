"""The ``han-emu`` command: one module per subcommand (or family), the shared
argument parsers in :mod:`han_emu.cli.args`, the parser and dispatch in
:mod:`han_emu.cli.main`.  Nothing below this package imports it."""
