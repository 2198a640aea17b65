"""The ESIs' Prepayment cluster: attributes from the element's account and the
commands a PPMID sends, byte for byte."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from clusters import Prepayment
from han_emu.meter.clock import VirtualClock
from han_emu.meter.credit import DebtSettings, PrepaymentSettings
from han_emu.meter.model import TwinMeter
from han_emu.meter.settings import PRIMARY, SECONDARY, MeterSettings
from han_emu.server.esi import EsiServer
from han_emu.server.prepayment import PCC_CREDIT, PCC_PREPAYMENT, top_up_log_pages

from .server_helpers import frame, h, request

PP = 0x0705
START = 1_796_256_000.0  # Thursday 3 Dec 2026 00:00 UTC
Y2K = 946_684_800
UTRN = "12345678901234567890"


def utc_hex(posix: float) -> str:
    return (int(posix) - Y2K).to_bytes(4, "little").hex()


def build(**prepay) -> tuple[EsiServer, TwinMeter, VirtualClock]:
    base = MeterSettings()
    values = dict(
        mode="prepayment", initial_credit=Decimal("0.50"), emergency_credit_limit=Decimal("5"),
        emergency_credit_threshold=Decimal("1"), low_credit_warning=Decimal("2"), top_up_amount=Decimal("10"),
        debts=(DebtSettings("Old account", Decimal("25"), "time", rate=Decimal("0.5"), frequency="day"),
               DebtSettings("Meter fee", Decimal("3"), "percentage", percentage=Decimal("12.5"))),
    )
    values.update(prepay)
    settings = replace(base, primary=replace(base.primary, prepayment=PrepaymentSettings(**values)))
    clock = VirtualClock(START)
    meter = TwinMeter(settings.validate(), START)
    return EsiServer(meter, clock), meter, clock


def ask(server: EsiServer, hex_frame: str, ep: int = 1, **kw) -> list[str]:
    return [frame(p) for p in server.handle(request(hex_frame.replace(" ", ""), PP, dst_ep=ep, **kw))]


def top_up_frame(tsn: int, code: bytes) -> str:
    return f"01 {tsn:02x} 04 02 {len(code):02x} {code.hex()}"


def test_both_esis_serve_prepayment_in_their_descriptors() -> None:
    server, _, _ = build()
    assert all(PP in d.input_clusters for d in server.descriptors())


def test_attributes_read_the_account() -> None:
    server, _, _ = build()
    # credit 0.50 (int32 0x2B), status (map8 0x18): EC enabled | low credit | EC available
    assert ask(server, "00 10 00 0100 0300 0500") == [h(
        "18 10 01  0100 00 2b 50c30000  0300 00 18 0e  0500 00 2b 80b92a00")]  # debt 28.00 = 2800000
    # payment control configuration (map16 0x19), EC limit/threshold, low-credit level (uint32 0x23)
    # (0x0497: disconnection, prepayment, credit management, display, contactor, debt halts)
    assert PCC_PREPAYMENT == 0x0497 and PCC_CREDIT == 0x0084
    assert ask(server, "00 11 00 0000 1000 1100 3100") == [h(
        "18 11 01  0000 00 19 9704  1000 00 23 20a10700  1100 00 23 a0860100  3100 00 23 400d0300")]
    # debts 1 and 2: label, amount, method, recovery amount, percentage (12.50 % = 1250)
    assert ask(server, "00 12 00 1002 1102 1202 1702 2202 2902") == [h(
        "18 12 01  1002 00 41 0b 4f6c64206163636f756e74  1102 00 23 a0252600  1202 00 30 00"
        "  1702 00 23 50c30000  2202 00 30 01  2902 00 21 e204")]
    # debt 3 is not configured; top-up record 1 is empty until a top-up (invalid UTC)
    assert ask(server, "00 13 00 3002 0001") == [h("18 13 01  3002 86  0001 00 e2 ffffffff")]
    # the secondary element runs in credit mode with the default 10.00 credit
    assert ask(server, "00 14 00 0000 0100 0300", ep=2) == [h(
        "18 14 01 0000 00 19 8400  0100 00 2b 40420f00  0300 00 18 01")]


def test_consumer_top_up_credits_the_configured_amount() -> None:
    server, meter, _ = build()
    got = ask(server, top_up_frame(0x20, UTRN.encode()))
    # 10.00 top-up: 12.5 % (1.25) to the meter fee, 8.75 to credit: 9.25 (= 925000)
    assert got == [h("19 20 03  00 40420f00 02 481d0e00")]
    account = meter.prepayment[PRIMARY]
    assert account.credit == 9.25 and account.debts[1].amount == 1.75
    # the top-up log attributes show it, newest first
    assert ask(server, "00 21 00 0001 0101 0201 0301") == [h(
        f"18 21 01 0001 00 e2 {utc_hex(START)}  0101 00 2b 40420f00  0201 00 30 02"
        f"  0301 00 41 14 {UTRN.encode().hex()}")]


def test_malformed_and_duplicate_utrns_get_their_result_codes() -> None:
    server, meter, _ = build()
    for code in (b"1234", b"1234567890123456789X", b"9" * 30):
        assert ask(server, top_up_frame(0x30, code)) == [h("19 30 03  01 00000000 02 50c30000")]
    ask(server, top_up_frame(0x31, UTRN.encode()))
    assert ask(server, top_up_frame(0x32, UTRN.encode())) == [h("19 32 03  02 00000000 02 481d0e00")]
    assert meter.prepayment[PRIMARY].total_added == 10.0


def test_select_emergency_credit_accepted_once() -> None:
    server, meter, clock = build()
    issue = utc_hex(clock.now())
    assert ask(server, f"01 40 00 {issue} 02") == [h("18 40 0b 00 00")]  # Default Response SUCCESS
    assert meter.prepayment[PRIMARY].emergency_selected
    assert ask(server, f"01 41 00 {issue} 02") == [h("18 41 0b 00 01")]  # nothing left to select: FAILURE
    assert ask(server, f"01 42 00 {issue} 02", ep=2) == [h("18 42 0b 00 01")]  # credit mode offers none
    # selected and the status says so: EC enabled | low credit | EC selected
    assert ask(server, "00 43 00 0300") == [h("18 43 01 0300 00 18 16")]


def test_get_prepay_snapshot_publishes_the_top_up_snapshot() -> None:
    server, _, _ = build()
    assert ask(server, "01 50 07 00000000 ffffffff 00 ffffffff") == [h("18 50 0b 07 8b")]  # none yet: NOT_FOUND
    ask(server, top_up_frame(0x51, UTRN.encode()))
    got = ask(server, "01 52 07 00000000 ffffffff 00 00000400")  # cause: top-up addition
    # id 1, taken now, 1 found, page 0 of 1, cause, Debt/Credit Status: debt 26.75, 25.00, 1.75, 0,
    # emergency credit 5.00, credit 9.25
    assert got == [h(f"19 52 01  01000000 {utc_hex(START)} 01 00 01 00000400 00"
                     "  38d12800  a0252600  98ab0200  00000000  20a10700  481d0e00")]
    assert ask(server, "01 53 07 00000000 ffffffff 00 01000000") == [h("18 53 0b 07 8b")]  # no General one


def test_get_top_up_log_pages_newest_first() -> None:
    server, meter, clock = build()
    codes = [f"{n:020d}" for n in (1, 2, 3)]
    for i, code in enumerate(codes):
        clock.set(START + 60 * i)
        meter.advance(clock.now())
        ask(server, top_up_frame(0x60 + i, code.encode()))
    pages = ask(server, "01 70 08 ffffffff 00")
    record = lambda code, t: f"14 {code.encode().hex()} 40420f00 {utc_hex(t)}"  # noqa: E731
    assert pages == [
        h(f"19 70 05 00 02 {record(codes[2], START + 120)} {record(codes[1], START + 60)}"),
        h(f"19 70 05 01 02 {record(codes[0], START)}"),
    ]
    assert ask(server, f"01 71 08 {utc_hex(START + 30)} 05") == [h(f"19 71 05 00 01 {record(codes[0], START)}")]
    assert ask(server, "01 72 08 ffffffff 01") == [h(f"19 72 05 00 01 {record(codes[2], START + 120)}")]


def test_top_up_log_pages_fit_an_unfragmented_frame() -> None:
    from clusters.prepayment import TopUpRecord

    entries = [TopUpRecord(top_up_code=b"1" * 20, top_up_amount=1, top_up_time=0)] * 7
    pages = top_up_log_pages(entries)
    assert [len(p) for p in pages] == [2, 2, 2, 1]  # 29-byte records after a 2-byte head, 70 bytes a frame


def test_wan_commands_are_not_served_and_plain_requests_are_refused() -> None:
    server, _, _ = build()
    assert ask(server, "01 80 06 01000000 04000000 00000000 9704 00000000") == [h("18 80 0b 06 81")]
    assert ask(server, top_up_frame(0x81, UTRN.encode()), encrypted=False) == [h("18 81 0b 04 7e")]
    assert Prepayment.cluster_id == PP


def test_standing_charge_and_debt_move_the_credit_attribute() -> None:
    server, meter, clock = build(initial_credit=Decimal("10"))
    meter.advance(START + 86400 / 2)  # half a day: 0.266 standing charge, 0.25 of debt 1
    clock.set(meter.time)
    raw = round((10 - 0.266 - 0.25) * 100000)
    assert ask(server, "00 90 00 0100") == [h(f"18 90 01 0100 00 2b {raw.to_bytes(4, 'little').hex()}")]
    assert meter.prepayment[SECONDARY].credit == 10.0
