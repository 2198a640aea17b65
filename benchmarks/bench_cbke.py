"""Time CBKE exchanges per crypto suite against the generate times we advertise.

A Key Establishment partner waits EphemeralDataGenerateTime /
ConfirmKeyGenerateTime seconds (as advertised in Initiate) before giving up,
so those numbers must cover what the pure-Python curve arithmetic really
takes.  Run:  python benchmarks/bench_cbke.py [rounds]
"""

from __future__ import annotations

import secrets
import sys
import time

from han_emu.crypto.cbke import (
    GENERATE_TIMES,
    Initiator,
    Message,
    Responder,
    State,
    Suite,
    generate_time_seconds,
)
from han_emu.crypto.certificates import (
    TEST_CA_ISSUER,
    Certificate,
    Suite1Certificate,
    Suite2Certificate,
    issue_certificate,
)
from han_emu.crypto.curves import Curve

U_EUI = bytes.fromhex("0000000000000002")
V_EUI = bytes.fromhex("0000000000000001")


def template(suite: Suite, subject: bytes) -> Certificate:
    if suite is Suite.SUITE_1:
        return Suite1Certificate(
            reconstruction=bytes(22),
            subject=subject,
            issuer=TEST_CA_ISSUER,
            profile_data=bytes.fromhex("01090006000000000000"),
        )
    return Suite2Certificate(
        serial=secrets.token_bytes(8),
        issuer=TEST_CA_ISSUER,
        valid_from=int(time.time()) - 3600,
        valid_to=0xFFFFFFFF,
        subject=subject,
        key_usage=0x08,
        reconstruction=bytes(37),
    )


def random_scalar(curve: Curve) -> int:
    return 1 + secrets.randbelow(curve.n - 1)


def parties(suite: Suite) -> tuple[Initiator, Responder]:
    curve = template(suite, U_EUI).curve
    ca_private = random_scalar(curve)
    ca_public = curve.compress(curve.base_multiply(ca_private))
    u_cert, u_key = issue_certificate(template(suite, U_EUI), ca_private, random_scalar(curve))
    v_cert, v_key = issue_certificate(template(suite, V_EUI), ca_private, random_scalar(curve))
    u = Initiator(
        suite,
        u_cert.to_bytes(),
        u_key,
        ca_public,
        partner_eui64=V_EUI,
        known_issuers={TEST_CA_ISSUER},
    )
    v = Responder(
        suite,
        v_cert.to_bytes(),
        v_key,
        ca_public,
        partner_eui64=U_EUI,
        known_issuers={TEST_CA_ISSUER},
    )
    return u, v


def timed(party: Initiator | Responder, msg: Message) -> tuple[Message | None, float]:
    t0 = time.perf_counter()
    reply = party.receive(msg.command, msg.payload)
    return reply, time.perf_counter() - t0


def exchange(suite: Suite) -> dict[str, float]:
    """One full exchange; the seconds each side spent on each step."""
    u, v = parties(suite)
    steps: dict[str, float] = {}
    msg: Message | None = u.start()
    names = [
        ("V", "responder initiate"),
        ("U", "initiator ephemeral"),
        ("V", "responder ephemeral"),
        ("U", "initiator confirm"),
        ("V", "responder confirm"),
        ("U", "initiator finish"),
    ]
    for who, name in names:
        assert msg is not None and not msg.is_terminate, msg
        msg, steps[name] = timed(v if who == "V" else u, msg)
    assert u.state is v.state is State.SUCCEEDED and u.key_data == v.key_data
    return steps


def main(rounds: int = 3) -> int:
    ok = True
    for suite in Suite:
        worst: dict[str, float] = {}
        for _ in range(rounds):
            for name, seconds in exchange(suite).items():
                worst[name] = max(worst.get(name, 0.0), seconds)
        responder_total = sum(s for n, s in worst.items() if n.startswith("responder"))
        # Ephemeral data: the responder's ephemeral step, or the initiator's
        # (which also covers checking the responder's certificate).
        ephemeral = max(
            worst["responder initiate"] + worst["responder ephemeral"],
            worst["initiator ephemeral"],
        )
        confirm = max(worst["initiator confirm"], worst["responder confirm"])
        eph_adv, conf_adv = GENERATE_TIMES[suite]
        print(f"{suite.name} ({rounds} rounds, worst case)")
        for name, seconds in worst.items():
            print(f"  {name:22s} {seconds * 1000:8.1f} ms")
        print(f"  responder exchange     {responder_total * 1000:8.1f} ms")
        print(
            f"  ephemeral data   {ephemeral:6.3f} s  rounded up "
            f"{generate_time_seconds(ephemeral)} s  advertised {eph_adv} s"
        )
        print(
            f"  confirm key      {confirm:6.3f} s  rounded up "
            f"{generate_time_seconds(confirm)} s  advertised {conf_adv} s"
        )
        ok = ok and ephemeral <= eph_adv and confirm <= conf_adv
    print("within advertised generate times" if ok else "SLOWER than advertised generate times")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
