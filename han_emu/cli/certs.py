"""The ``cert`` subcommands of ``han-emu`` (registration and handlers only).

``han-emu cert check --suite 1|2 --ca HEX --cert HEX --key HEX`` prints a
certificate's fields and whether the private key belongs to it.  Exit codes:
0 the key matches, 1 it does not, 2 the input is malformed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from han_emu.crypto.certsets import CertCheckError, cert_check

EXIT_MATCH = 0
EXIT_MISMATCH = 1
EXIT_MALFORMED = 2


def add_cert_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``cert`` (with ``cert check``) on an argparse subparsers object.

    Each leaf parser sets ``handler`` to its handler, which takes the parsed
    namespace and returns the exit code.
    """
    cert = subparsers.add_parser("cert", help="Smart Energy CBKE certificates")
    actions = cert.add_subparsers(dest="cert_action", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check",
        help="show a certificate's fields and check that a private key belongs to it",
        description="Exit code 0: the private key matches the certificate; 1: it does not;"
        " 2: malformed input.",
    )
    check.add_argument("--suite", type=int, choices=(1, 2), required=True,
                       help="crypto suite: 1 (sect163k1, 48-byte certificate) or 2 (sect283k1, 74 bytes)")
    check.add_argument("--ca", required=True, metavar="HEX", help="CA public key, compressed (22 / 37 bytes)")
    check.add_argument("--cert", required=True, metavar="HEX", help="the implicit certificate")
    check.add_argument("--key", required=True, metavar="HEX", help="the private key (21 / 36 bytes)")
    check.set_defaults(handler=cmd_cert_check)
    return cert


def cmd_cert_check(
    args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Handler of ``cert check``: report on stdout, errors on stderr; returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        report = cert_check(args.suite, args.ca, args.cert, args.key)
    except CertCheckError as exc:
        print(f"cert check: {exc}", file=err)
        return EXIT_MALFORMED
    print(report.text(), file=out)
    if not report.matches:
        print("cert check: the private key does not belong to this certificate", file=err)
    return EXIT_MATCH if report.matches else EXIT_MISMATCH


def add_cbke_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``cbke derive``: recompute an exchange from one side's secrets."""
    cbke = subparsers.add_parser("cbke", help="check a captured CBKE exchange")
    actions = cbke.add_subparsers(dest="cbke_action", metavar="ACTION", required=True)
    derive = actions.add_parser(
        "derive",
        help="print Z, MacKey, KeyData, MACU and MACV of an exchange as JSON",
        description="Give one side's certificate set and ephemeral private key, and the"
        " peer's certificate and ephemeral public key as captured; give the captured MACU"
        " and MACV too to check the role.  Exit code 0: derived (and the MACs given match);"
        " 1: the role or the data does not fit (said in one line); 2: malformed input.",
    )
    derive.add_argument("--suite", type=int, choices=(1, 2), required=True)
    derive.add_argument("--ca", required=True, metavar="HEX", help="CA public key (compressed)")
    derive.add_argument("--own-cert", required=True, metavar="HEX")
    derive.add_argument("--own-key", required=True, metavar="HEX", help="own static private key")
    derive.add_argument("--own-ephemeral-key", required=True, metavar="HEX", help="own ephemeral private key")
    derive.add_argument("--peer-cert", required=True, metavar="HEX")
    derive.add_argument("--peer-ephemeral", required=True, metavar="HEX", help="peer's ephemeral public key (compressed)")
    role = derive.add_mutually_exclusive_group(required=True)
    role.add_argument("--initiator", action="store_true", help="own side is the initiator (U, the device)")
    role.add_argument("--responder", action="store_true", help="own side is the responder (V, the ESI)")
    derive.add_argument("--macu", metavar="HEX", help="MACU as captured (Confirm Key Data Request): checked")
    derive.add_argument("--macv", metavar="HEX", help="MACV as captured (Confirm Key Data Response): checked")
    derive.set_defaults(handler=cmd_cbke_derive)
    return cbke


def cmd_cbke_derive(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    import json

    from han_emu.crypto.certsets import CertificateSet, captured_mac, derive_exchange, role_problem

    out = out or sys.stdout
    err = err or sys.stderr
    initiator = bool(args.initiator)
    try:
        own = CertificateSet.from_hex(args.suite, args.ca, args.own_cert, args.own_key)
        macu, macv = captured_mac("MACU", args.macu), captured_mac("MACV", args.macv)
        result = derive_exchange(own, args.own_ephemeral_key, args.peer_cert, args.peer_ephemeral,
                                 initiator=initiator)
        other = None
        if macu is not None or macv is not None:
            other = derive_exchange(own, args.own_ephemeral_key, args.peer_cert, args.peer_ephemeral,
                                    initiator=not initiator)
        problem = role_problem(own, result, other, initiator=initiator, macu=macu, macv=macv)
    except CertCheckError as exc:
        print(f"cbke derive: {exc}", file=err)
        return EXIT_MALFORMED
    if problem is not None:
        print(f"cbke derive: {problem}", file=err)
        return EXIT_MISMATCH
    print(json.dumps(result.to_json(), indent=2), file=out)
    return 0
