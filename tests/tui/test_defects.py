"""Dashboard defects a first user met (issue 15, section 6)."""

from __future__ import annotations

from han_emu.tui import DashboardApp
from han_emu.tui.screens import PpmidScreen

from .helpers import SIZE
from .test_app import squash, text_of


async def test_the_ppmid_names_the_configured_tariffs_as_the_han_carries_them(still_han) -> None:
    meter = still_han.han.meter
    app = DashboardApp(still_han.source, still_han, auto_refresh=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await pilot.pause()
        assert isinstance(app.screen, PpmidScreen)
        # Price TariffLabel of the primary, ReceivedTariffLabel of the secondary (MP184 R2).
        assert f"Tariff {meter.tariff('primary', 'import').label}" in squash(text_of(app, "#tariff"))
        assert f"Tariff {meter.tariff('secondary', 'export').label}" in squash(text_of(app, "#export-tariff"))
