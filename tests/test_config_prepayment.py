"""The ``[prepayment.<element>]`` tables: parsed, checked, named in every error."""

from __future__ import annotations

from decimal import Decimal

import pytest

from han_emu.han.config import ConfigError, example_text, loads

FULL = """
[prepayment.primary]
mode = "prepayment"
initial_credit = 7.5
emergency_credit_limit = 6
emergency_credit_threshold = 1.5
low_credit_warning = 3
top_up_amount = 20
[[prepayment.primary.debts]]
label = "Old account"
amount = 50.00
method = "time"
rate = 0.50
frequency = "week"
[[prepayment.primary.debts]]
label = "Meter fee"
amount = 20
method = "percentage"
percentage = 10
"""


def test_both_elements_default_to_credit_mode() -> None:
    c = loads("")
    for el in (c.meter.primary, c.meter.secondary):
        assert el.prepayment.mode == "credit" and el.prepayment.debts == ()


def test_a_full_prepayment_table() -> None:
    p = loads(FULL).meter.primary.prepayment
    assert (p.mode, p.initial_credit, p.emergency_credit_limit, p.emergency_credit_threshold,
            p.low_credit_warning, p.top_up_amount) == (
        "prepayment", Decimal("7.5"), Decimal("6"), Decimal("1.5"), Decimal("3"), Decimal("20"))
    old, fee = p.debts
    assert (old.label, old.amount, old.method, old.rate, old.frequency) == (
        "Old account", Decimal("50.0"), "time", Decimal("0.5"), "week")
    assert (fee.method, fee.percentage) == ("percentage", Decimal("10"))
    assert loads(FULL).meter.secondary.prepayment.mode == "credit"


def test_the_commented_example_section_parses() -> None:
    text = example_text()
    start = text.index("# [prepayment.primary]")
    block = text[start:text.index("\n\n", start)]
    uncommented = "\n".join(line[2:] if line.startswith("# ") else line for line in block.splitlines())
    p = loads(uncommented).meter.primary.prepayment
    assert p.mode == "prepayment" and len(p.debts) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[prepayment.tertiary]\n", r"^prepayment\.tertiary: unknown key"),
        ("[prepayment.primary]\ncredit = 1\n", r"^prepayment\.primary\.credit: unknown key"),
        ("[prepayment.primary]\nmode = 'payg'\n", r"^prepayment\.primary\.mode: credit or prepayment"),
        ("[prepayment.primary]\nmode = 1\n", r"^prepayment\.primary\.mode: expected a string"),
        ("[prepayment.secondary]\ninitial_credit = 'lots'\n",
         r"^prepayment\.secondary\.initial_credit: expected a number"),
        ("[prepayment.primary]\ntop_up_amount = true\n", r"^prepayment\.primary\.top_up_amount: expected a number"),
        ("[prepayment.primary]\nemergency_credit_limit = -5\n",
         r"^prepayment\.primary\.emergency_credit_limit: cannot be negative"),
        ("[prepayment.primary]\ntop_up_amount = 0\n", r"^prepayment\.primary\.top_up_amount: must be above zero"),
        ("[prepayment.primary]\ndebts = 3\n", r"^prepayment\.primary\.debts: expected an array of tables"),
        ("[[prepayment.primary.debts]]\nlabel = 'x'\n", r"^prepayment\.primary\.debts\[0\]\.amount: required"),
        ("[[prepayment.primary.debts]]\nlabel = 'x'\namount = 1\nrat = 2\n",
         r"^prepayment\.primary\.debts\[0\]\.rat: unknown key"),
        ("[[prepayment.primary.debts]]\nlabel = 'x'\namount = 1\nmethod = 'catch-up'\n",
         r"^prepayment\.primary\.debts\[0\]\.method: time or percentage"),
        ("[[prepayment.primary.debts]]\nlabel = 'x'\namount = 1\nfrequency = 'fortnight'\n",
         r"^prepayment\.primary\.debts\[0\]\.frequency: one of hour, day, week, month, quarter"),
        ("[[prepayment.primary.debts]]\nlabel = 'a very long label'\namount = 1\n",
         r"^prepayment\.primary\.debts\[0\]\.label: at most 12 bytes"),
        ("[[prepayment.primary.debts]]\nlabel = 'x'\namount = 1\n" * 4, r"^prepayment\.primary\.debts: at most 3"),
        ("[prepayment]\nprimary = 1\n", r"^prepayment\.primary: expected a table"),
    ],
)
def test_errors_name_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        loads(text)
