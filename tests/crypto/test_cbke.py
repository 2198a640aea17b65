"""CBKE Initiator <-> Responder: the Annex C transcript, suite 2, every Terminate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from types import SimpleNamespace

import pytest
from .cbke_material import NOW, Material, curve_of, fixed_random, make_initiator, make_responder

from han_emu.meter.clock import VirtualClock
from han_emu.crypto.cbke import (
    Command,
    InitiatePayload,
    Initiator,
    Message,
    Responder,
    State,
    Suite,
    TerminatePayload,
    TerminateStatus,
)
from han_emu.crypto.certificates import Suite2Certificate
from han_emu.crypto.curves import Curve, InvalidPoint

H = bytes.fromhex
SUITES = [Suite.SUITE_1, Suite.SUITE_2]

Tamper = Callable[[str, Message], Message]


def drive(u: Initiator, v: Responder, tamper: Tamper | None = None) -> list[tuple[str, Message]]:
    """Run the exchange to its end; ``tamper`` may alter any message in flight."""
    transcript: list[tuple[str, Message]] = []
    msg: Message | None = u.start()
    sender = "U"
    while msg is not None:
        if tamper is not None:
            msg = tamper(sender, msg)
        transcript.append((sender, msg))
        receiver: Initiator | Responder = v if sender == "U" else u
        msg = receiver.receive(msg.command, msg.payload)
        sender = "V" if sender == "U" else "U"
    return transcript


def off_curve(curve: Curve) -> bytes:
    """A well-formed compressed encoding whose x is no abscissa of the curve."""
    for x in range(1, 1000):
        encoding = b"\x02" + curve.field.to_bytes(x)
        try:
            curve.decompress(encoding)
        except InvalidPoint:
            return encoding
    raise AssertionError("no off-curve x found")


def status_of(msg: Message | None) -> TerminateStatus:
    assert msg is not None and msg.is_terminate, msg
    assert msg.terminate is not None
    return TerminateStatus(msg.terminate.status)


# -- the Annex C example, byte for byte ------------------------------------------


@pytest.fixture(scope="module")
def annex_run(material: dict[Suite, Material], annex_c: SimpleNamespace) -> SimpleNamespace:
    m = material[Suite.SUITE_1]
    u = make_initiator(m, random=fixed_random(annex_c.u_ephemeral_private), generate_times=(5, 10))
    v = make_responder(m, random=fixed_random(annex_c.v_ephemeral_private), generate_times=(5, 10))
    return SimpleNamespace(u=u, v=v, transcript=drive(u, v))


def test_annex_c_transcript(annex_run: SimpleNamespace, annex_c: SimpleNamespace) -> None:
    expected = [
        ("U", Command.INITIATE_KEY_ESTABLISHMENT, H("0100050A") + annex_c.u_cert),
        ("V", Command.INITIATE_KEY_ESTABLISHMENT, H("0100050A") + annex_c.v_cert),
        ("U", Command.EPHEMERAL_DATA, annex_c.u_ephemeral_public),
        ("V", Command.EPHEMERAL_DATA, annex_c.v_ephemeral_public),
        ("U", Command.CONFIRM_KEY_DATA, annex_c.macu),
        ("V", Command.CONFIRM_KEY_DATA, annex_c.macv),
    ]
    assert [(s, m.command, m.payload) for s, m in annex_run.transcript] == expected


def test_annex_c_link_key(annex_run: SimpleNamespace, annex_c: SimpleNamespace) -> None:
    assert annex_run.u.state is annex_run.v.state is State.SUCCEEDED
    assert annex_run.u.key_data == annex_run.v.key_data == annex_c.key_data
    assert annex_run.u.partner_generate_times == (5, 10)
    # Finished machines ignore anything further.
    assert annex_run.v.receive(Command.CONFIRM_KEY_DATA, annex_c.macu) is None
    assert annex_run.u.key_data == annex_c.key_data


def test_initiate_payload_both_ways(annex_c: SimpleNamespace) -> None:
    parsed = InitiatePayload.parse(H("02000A14") + bytes(74))
    assert parsed == InitiatePayload(2, 10, 20, bytes(74))
    assert parsed.to_bytes() == H("02000A14") + bytes(74)
    with pytest.raises(ValueError):
        InitiatePayload.parse(H("0100"))


def test_terminate_payload_both_ways() -> None:
    assert TerminatePayload(TerminateStatus.BAD_MESSAGE, 10, 2).to_bytes() == H("030A0200")
    assert TerminatePayload.parse(H("0601FF00")) == TerminatePayload(6, 1, 0x00FF)
    with pytest.raises(ValueError):
        TerminatePayload.parse(H("0601"))


# -- full exchanges for both suites ------------------------------------------------


@pytest.fixture(scope="module", params=SUITES, ids=["suite1", "suite2"])
def suite(request: pytest.FixtureRequest) -> Suite:
    return request.param


def test_suite2_exchange(material: dict[Suite, Material]) -> None:
    m = material[Suite.SUITE_2]
    u, v = make_initiator(m, now=VirtualClock(NOW)), make_responder(m)
    transcript = drive(u, v)
    assert [len(msg.payload) for _, msg in transcript] == [78, 78, 37, 37, 16, 16]
    assert transcript[0][1].payload[:2] == H("0200")
    assert u.state is v.state is State.SUCCEEDED
    assert u.key_data is not None and u.key_data == v.key_data and len(u.key_data) == 16
    assert isinstance(v.partner_certificate, Suite2Certificate)


def test_fresh_ephemeral_keys_give_fresh_link_keys(material: dict[Suite, Material]) -> None:
    m = material[Suite.SUITE_1]
    keys = set()
    for _ in range(2):
        u, v = make_initiator(m), make_responder(m)
        drive(u, v)
        assert u.key_data == v.key_data
        keys.add(u.key_data)
    assert len(keys) == 2


# -- terminate cases: responder side ---------------------------------------------


def test_unknown_issuer(material: dict[Suite, Material], suite: Suite) -> None:
    m = material[suite]
    v = make_responder(m, known_issuers={b"OTHER-CA"})
    reply = v.receive(Command.INITIATE_KEY_ESTABLISHMENT, make_initiator(m).start().payload)
    assert reply == Message(Command.TERMINATE_KEY_ESTABLISHMENT, bytes([1, 10, suite, 0]))
    assert v.state is State.FAILED and v.sent_terminate is TerminateStatus.UNKNOWN_ISSUER


def test_unsupported_suite(material: dict[Suite, Material], suite: Suite) -> None:
    m = material[suite]
    other = Suite.SUITE_2 if suite is Suite.SUITE_1 else Suite.SUITE_1
    payload = bytes([other, 0]) + make_initiator(m).start().payload[2:]
    reply = make_responder(m).receive(Command.INITIATE_KEY_ESTABLISHMENT, payload)
    assert status_of(reply) is TerminateStatus.UNSUPPORTED_SUITE
    assert reply is not None and reply.terminate is not None and reply.terminate.suite == suite


@pytest.mark.parametrize("cut", [1, -1], ids=["truncated", "padded"])
def test_certificate_of_wrong_length(
    material: dict[Suite, Material], suite: Suite, cut: int
) -> None:
    m = material[suite]
    payload = make_initiator(m).start().payload
    payload = payload[:-1] if cut == 1 else payload + b"\x00"
    reply = make_responder(m).receive(Command.INITIATE_KEY_ESTABLISHMENT, payload)
    assert status_of(reply) is TerminateStatus.BAD_MESSAGE


def test_initiate_shorter_than_fixed_fields(material: dict[Suite, Material]) -> None:
    reply = make_responder(material[Suite.SUITE_1]).receive(
        Command.INITIATE_KEY_ESTABLISHMENT, H("0100")
    )
    assert status_of(reply) is TerminateStatus.BAD_MESSAGE


def test_subject_is_not_the_partner(material: dict[Suite, Material], suite: Suite) -> None:
    m = material[suite]
    v = make_responder(m, partner_eui64=H("00000000000000FF"))
    reply = v.receive(Command.INITIATE_KEY_ESTABLISHMENT, make_initiator(m).start().payload)
    assert status_of(reply) is TerminateStatus.INVALID_CERTIFICATE


def test_reconstruction_point_not_on_curve(material: dict[Suite, Material], suite: Suite) -> None:
    m = material[suite]
    bad_point = off_curve(curve_of(suite))
    cert = (
        m.u_cert[: -len(bad_point)] + bad_point
        if suite is Suite.SUITE_2
        else bad_point + m.u_cert[22:]
    )
    payload = make_initiator(m).start().payload[:4] + cert
    reply = make_responder(m).receive(Command.INITIATE_KEY_ESTABLISHMENT, payload)
    assert status_of(reply) is TerminateStatus.INVALID_CERTIFICATE


@pytest.mark.parametrize(
    "change",
    [
        {"valid_from": 1_600_000_000, "valid_to": 86_400},  # expired in 2020
        {"valid_from": int(NOW) + 3600},  # not yet valid
        {"key_usage": 0x80},  # signing only
        {"curve_id": 0x0C},  # not sect283k1
    ],
    ids=["expired", "not-yet-valid", "no-key-agreement", "other-curve"],
)
def test_suite2_certificate_rules(material: dict[Suite, Material], change: dict[str, int]) -> None:
    m = material[Suite.SUITE_2]
    cert = replace(Suite2Certificate.parse(m.u_cert), **change).to_bytes()
    u = make_initiator(m, certificate=cert)
    reply = make_responder(m).receive(Command.INITIATE_KEY_ESTABLISHMENT, u.start().payload)
    assert status_of(reply) is TerminateStatus.INVALID_CERTIFICATE


def test_expiry_follows_the_clock(material: dict[Suite, Material]) -> None:
    m = material[Suite.SUITE_2]
    cert = replace(Suite2Certificate.parse(m.u_cert), valid_from=int(NOW), valid_to=60).to_bytes()
    payload = make_initiator(m, certificate=cert).start().payload
    clock = VirtualClock(NOW + 61)
    reply = make_responder(m, now=clock).receive(Command.INITIATE_KEY_ESTABLISHMENT, payload)
    assert status_of(reply) is TerminateStatus.INVALID_CERTIFICATE


@pytest.mark.parametrize(
    ("command", "payload"),
    [
        (Command.EPHEMERAL_DATA, b"\x02" + bytes(21)),
        (Command.CONFIRM_KEY_DATA, bytes(16)),
        (0x07, b""),
    ],
    ids=["ephemeral-first", "confirm-first", "unknown-command"],
)
def test_out_of_order_at_responder(
    material: dict[Suite, Material], command: int, payload: bytes
) -> None:
    reply = make_responder(material[Suite.SUITE_1]).receive(command, payload)
    assert status_of(reply) is TerminateStatus.BAD_MESSAGE


def test_repeated_initiate_is_out_of_order(material: dict[Suite, Material]) -> None:
    m = material[Suite.SUITE_1]
    start = make_initiator(m).start()
    v = make_responder(m)
    assert not v.receive(start.command, start.payload).is_terminate  # type: ignore[union-attr]
    assert status_of(v.receive(start.command, start.payload)) is TerminateStatus.BAD_MESSAGE


@pytest.mark.parametrize("kind", ["short", "off-curve", "bad-prefix"])
def test_bad_ephemeral_data_at_responder(
    material: dict[Suite, Material], suite: Suite, kind: str
) -> None:
    m = material[suite]
    curve = curve_of(suite)
    u, v = make_initiator(m), make_responder(m)
    v.receive(Command.INITIATE_KEY_ESTABLISHMENT, u.start().payload)
    good = curve.compress(curve.base_multiply(7))
    payload = {"short": good[:-1], "off-curve": off_curve(curve), "bad-prefix": b"\x04" + good[1:]}[
        kind
    ]
    assert status_of(v.receive(Command.EPHEMERAL_DATA, payload)) is TerminateStatus.BAD_MESSAGE


def flip_mac_from(sender: str) -> Tamper:
    def tamper(who: str, msg: Message) -> Message:
        if who == sender and msg.command is Command.CONFIRM_KEY_DATA:
            return Message(msg.command, bytes([msg.payload[0] ^ 1]) + msg.payload[1:])
        return msg

    return tamper


def test_tampered_macu(material: dict[Suite, Material], suite: Suite) -> None:
    u, v = make_initiator(material[suite]), make_responder(material[suite])
    transcript = drive(u, v, flip_mac_from("U"))
    assert transcript[-1][0] == "V"
    assert status_of(transcript[-1][1]) is TerminateStatus.BAD_KEY_CONFIRM
    assert v.key_data is None and u.key_data is None
    assert u.state is v.state is State.FAILED
    assert u.received_terminate == TerminatePayload(2, 10, suite)


def test_tampered_macv(material: dict[Suite, Material], suite: Suite) -> None:
    u, v = make_initiator(material[suite]), make_responder(material[suite])
    transcript = drive(u, v, flip_mac_from("V"))
    assert transcript[-1][0] == "U"
    assert status_of(transcript[-1][1]) is TerminateStatus.BAD_KEY_CONFIRM
    assert u.key_data is None and u.state is State.FAILED
    # V had confirmed U's MAC; U's Terminate revokes V's key as well.
    assert v.state is State.FAILED and v.key_data is None
    assert v.received_terminate == TerminatePayload(2, 10, suite)


def test_private_key_that_does_not_match_the_certificate(
    material: dict[Suite, Material], suite: Suite
) -> None:
    m = material[suite]
    wrong = (int.from_bytes(m.u_private, "big") + 1).to_bytes(len(m.u_private), "big")
    u, v = make_initiator(m, private_key=wrong), make_responder(m)
    transcript = drive(u, v)
    assert status_of(transcript[-1][1]) is TerminateStatus.BAD_KEY_CONFIRM
    assert v.key_data is None


def test_confirm_of_wrong_length(material: dict[Suite, Material]) -> None:
    m = material[Suite.SUITE_1]
    u, v = make_initiator(m), make_responder(m)
    msg = v.receive(Command.INITIATE_KEY_ESTABLISHMENT, u.start().payload)
    assert msg is not None
    msg = u.receive(msg.command, msg.payload)
    assert msg is not None
    msg = v.receive(msg.command, msg.payload)
    assert msg is not None
    u.receive(msg.command, msg.payload)
    assert status_of(v.receive(Command.CONFIRM_KEY_DATA, bytes(15))) is TerminateStatus.BAD_MESSAGE


# -- terminate cases: initiator side ---------------------------------------------


def test_response_before_start(material: dict[Suite, Material], annex_c: SimpleNamespace) -> None:
    u = make_initiator(material[Suite.SUITE_1])
    reply = u.receive(Command.INITIATE_KEY_ESTABLISHMENT, H("01000101") + annex_c.v_cert)
    assert status_of(reply) is TerminateStatus.BAD_MESSAGE


def test_start_twice(material: dict[Suite, Material]) -> None:
    u = make_initiator(material[Suite.SUITE_1])
    u.start()
    with pytest.raises(RuntimeError):
        u.start()


def responder_reply(m: Material, **responder: object) -> Message:
    msg = make_responder(m, **responder).receive(
        Command.INITIATE_KEY_ESTABLISHMENT, make_initiator(m).start().payload
    )
    assert msg is not None and not msg.is_terminate
    return msg


@pytest.mark.parametrize(
    ("initiator", "status"),
    [
        ({"known_issuers": {b"OTHER-CA"}}, TerminateStatus.UNKNOWN_ISSUER),
        ({"partner_eui64": H("00000000000000FF")}, TerminateStatus.INVALID_CERTIFICATE),
    ],
    ids=["unknown-issuer", "subject-not-partner"],
)
def test_initiator_checks_responder_certificate(
    material: dict[Suite, Material],
    suite: Suite,
    initiator: dict[str, object],
    status: TerminateStatus,
) -> None:
    m = material[suite]
    reply = responder_reply(m)
    u = make_initiator(m, **initiator)
    u.start()
    assert status_of(u.receive(reply.command, reply.payload)) is status


def test_initiator_rejects_other_suite_in_response(material: dict[Suite, Material]) -> None:
    m = material[Suite.SUITE_1]
    reply = responder_reply(m)
    u = make_initiator(m)
    u.start()
    answer = u.receive(reply.command, H("0200") + reply.payload[2:])
    assert status_of(answer) is TerminateStatus.UNSUPPORTED_SUITE


def test_bad_ephemeral_data_at_initiator(material: dict[Suite, Material]) -> None:
    m = material[Suite.SUITE_1]
    reply = responder_reply(m)
    u = make_initiator(m)
    u.start()
    u.receive(reply.command, reply.payload)
    assert status_of(u.receive(Command.EPHEMERAL_DATA, off_curve(curve_of(Suite.SUITE_1)))) is (
        TerminateStatus.BAD_MESSAGE
    )


def test_received_terminate_ends_the_exchange(material: dict[Suite, Material]) -> None:
    m = material[Suite.SUITE_1]
    u = make_initiator(m)
    u.start()
    assert u.receive(Command.TERMINATE_KEY_ESTABLISHMENT, H("041E0100")) is None
    assert u.state is State.FAILED and u.finished
    assert u.received_terminate == TerminatePayload(TerminateStatus.NO_RESOURCES, 30, 1)
    assert u.sent_terminate is None
    # Later messages are ignored, not answered.
    assert u.receive(Command.INITIATE_KEY_ESTABLISHMENT, responder_reply(m).payload) is None
