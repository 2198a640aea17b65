"""Install-code files: one ``EUI64:INSTALLCODE`` line per device.

An emulated stick with simulated displays writes one (``han-emu fake-ncp
--displays ... --codes-file FILE``) and ``han-emu permit --install-codes FILE``
admits every device in it, as an installer would type the codes printed on
the displays' labels.  An install code is 6, 8, 12 or 16 bytes followed by
its CRC-16/X-25, little-endian (Zigbee Base Device Behavior 10.1; zigpy's
``convert_install_code`` checks the same CRC); the link key is its AES-MMO
hash (:func:`han_emu.crypto.mmo.aes_mmo`).

Blank lines and everything after a ``#`` are ignored, so a file may say
which display each line belongs to.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from han_emu.crypto.certsets import install_code_crc

CODE_LENGTHS = (6, 8, 12, 16)
"""Install-code lengths before the CRC."""


class InstallCodeError(ValueError):
    """A line of an install-code file that cannot be read; the message names the line."""


@dataclass(frozen=True)
class InstallCode:
    """One device of an install-code file: its EUI-64 as written (``00:0d:6f:...``,
    big-endian) and its install code with the CRC."""

    eui64: str
    code: bytes

    def line(self) -> str:
        return f"{self.eui64}:{self.code.hex().upper()}"


def parse_eui64(text: str) -> str:
    """An EUI-64 written as eight hex bytes (``00:0d:6f:00:0a:bc:de:f1``, or
    16 hex digits) in the canonical lower-case colon form; ValueError otherwise."""
    clean = text.strip().replace("-", ":")
    parts = clean.split(":") if ":" in clean else [clean[i:i + 2] for i in range(0, len(clean), 2)]
    if len(parts) != 8 or any(len(p) != 2 for p in parts):
        raise ValueError(f"{text!r} is not an EUI-64 (eight hex bytes, e.g. 00:0d:6f:00:0a:bc:de:f1)")
    try:
        return ":".join(f"{int(p, 16):02x}" for p in parts)
    except ValueError:
        raise ValueError(f"{text!r} is not an EUI-64 (eight hex bytes, e.g. 00:0d:6f:00:0a:bc:de:f1)") from None


def _is_eui64(text: str) -> bool:
    try:
        parse_eui64(text)
    except ValueError:
        return False
    return True


def check_install_code(code: bytes) -> bytes:
    """``code`` if it is a whole install code with a good CRC; ValueError says what is wrong."""
    body = len(code) - 2
    if body not in CODE_LENGTHS:
        raise ValueError(f"an install code is 6, 8, 12 or 16 bytes plus a 2-byte CRC, not {len(code)} bytes")
    if install_code_crc(code[:body]) != code[body:]:
        raise ValueError(f"the install code's CRC is {code[body:].hex().upper()}, "
                         f"expected {install_code_crc(code[:body]).hex().upper()}")
    return code


def parse_install_codes(text: str) -> list[InstallCode]:
    """Every device of an install-code file's text, in order.

    Raises :class:`InstallCodeError` naming the first bad line (1-based): not
    ``EUI64:CODE``, a bad EUI-64, hex or CRC, or a device listed twice."""
    out: list[InstallCode] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        ieee_text, sep, code_text = line.rpartition(":")
        try:
            if not sep or not ieee_text or _is_eui64(line):
                raise ValueError("expected EUI64:INSTALLCODE, e.g. 00:0d:6f:00:0a:bc:de:f1:"
                                 "83FED3407A939723A5C639B26916D505C3B5")
            ieee = parse_eui64(ieee_text)
            try:
                code = bytes.fromhex(code_text.replace(" ", "").replace("-", ""))
            except ValueError:
                raise ValueError(f"{code_text!r} is not hex") from None
            check_install_code(code)
        except ValueError as exc:
            raise InstallCodeError(f"line {number}: {exc}") from None
        if ieee in seen:
            raise InstallCodeError(f"line {number}: {ieee} is already on line {seen[ieee]}")
        seen[ieee] = number
        out.append(InstallCode(ieee, code))
    return out


def format_install_codes(codes: Iterable[InstallCode], comments: Iterable[str] | None = None) -> str:
    """The text of an install-code file; each ``comments`` entry (if given)
    goes after its line as ``# ...``."""
    notes = list(comments) if comments is not None else []
    lines = []
    for i, code in enumerate(codes):
        note = f"  # {notes[i]}" if i < len(notes) and notes[i] else ""
        lines.append(code.line() + note)
    return "\n".join(lines) + "\n"


def new_install_code(random: Callable[[int], bytes] = secrets.token_bytes, length: int = 16) -> bytes:
    """A fresh install code of ``length`` bytes, with its CRC."""
    if length not in CODE_LENGTHS:
        raise ValueError("install codes are 6, 8, 12 or 16 bytes before the CRC")
    body = random(length)
    return body + install_code_crc(body)
