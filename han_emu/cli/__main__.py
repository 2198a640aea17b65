"""``python -m han_emu.cli``: the ``han-emu`` command."""

try:
    from han_emu.cli.main import main
except KeyboardInterrupt:  # Ctrl-C while the command was still loading
    raise SystemExit(130) from None

raise SystemExit(main())
