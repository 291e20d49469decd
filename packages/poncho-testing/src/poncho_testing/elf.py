"""Tiny ELF files for another machine, written by hand, and reading an ELF file's machine.

Cross-platform builds are tested on an x86-64 host with no cross toolchain: the test
artifacts for ``linux-aarch64`` need real aarch64 machine code. :func:`aarch64_executable`
writes a complete static ELF64 executable (one ``PT_LOAD`` segment, three instructions:
``exit(code)`` through the Linux ``exit`` system call) that an aarch64 Linux kernel runs as
it is (``qemu-aarch64`` too). It cannot run here, which is also the point: a build that
tried to run it would fail with "Exec format error". :func:`x86_64_executable` is the same
for x86-64 (the files of the x86-64 wheels in the platform wheelhouse).
"""

from __future__ import annotations

import os
import struct

__all__ = ["EM_AARCH64", "EM_X86_64", "aarch64_executable", "elf_machine", "x86_64_executable"]

EM_X86_64 = 62
"""``e_machine`` of x86-64."""
EM_AARCH64 = 183
"""``e_machine`` of aarch64 (arm64)."""

_BASE = 0x400000  # where the segment is mapped: the usual start of a static executable
_ALIGN = 0x10000  # 64 KiB: the largest aarch64 page size, so every kernel maps it
_EHDR = 64
_PHDR = 56
_SYS_EXIT = 93  # the aarch64 Linux number of exit(2) (x86-64's is 60)


def _movz(register: int, value: int) -> int:
    """``movz x<register>, #value`` (a 16-bit immediate)."""
    return 0xD2800000 | (value & 0xFFFF) << 5 | register


def aarch64_executable(exit_code: int = 0) -> bytes:
    """A static aarch64 Linux executable that exits with `exit_code` (0-255)."""
    _check(exit_code)
    code = struct.pack(
        "<3I",
        _movz(0, exit_code),  # x0: the exit status
        _movz(8, _SYS_EXIT),  # x8: the system call number
        0xD4000001,  # svc #0
    )
    return _executable(EM_AARCH64, code)


def x86_64_executable(exit_code: int = 0) -> bytes:
    """A static x86-64 Linux executable that exits with `exit_code` (0-255)."""
    _check(exit_code)
    code = (
        b"\xbf" + struct.pack("<I", exit_code)  # mov edi, exit_code
        + b"\xb8" + struct.pack("<I", 60)  # mov eax, 60 (exit)
        + b"\x0f\x05"  # syscall
    )  # fmt: skip
    return _executable(EM_X86_64, code)


def _check(exit_code: int) -> None:
    if not 0 <= exit_code <= 255:
        raise ValueError(f"exit code out of range: {exit_code}")


def _executable(machine: int, code: bytes) -> bytes:
    """An ELF64 little-endian ET_EXEC: header, one PT_LOAD segment (the whole file), `code`."""
    entry_offset = _EHDR + _PHDR
    size = entry_offset + len(code)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # 64-bit, little-endian, SysV
    header = ident + struct.pack(
        "<HHIQQQIHHHHHH",
        2,  # e_type: ET_EXEC
        machine,
        1,  # e_version
        _BASE + entry_offset,  # e_entry
        _EHDR,  # e_phoff
        0,  # e_shoff: no section headers (the kernel needs none)
        0,  # e_flags
        _EHDR,
        _PHDR,
        1,  # e_phnum
        64,  # e_shentsize
        0,  # e_shnum
        0,  # e_shstrndx
    )
    program = struct.pack(
        "<IIQQQQQQ",
        1,  # p_type: PT_LOAD
        5,  # p_flags: read + execute
        0,  # p_offset
        _BASE,  # p_vaddr
        _BASE,  # p_paddr
        size,  # p_filesz
        size,  # p_memsz
        _ALIGN,
    )
    return header + program + code


def elf_machine(path: str | os.PathLike[str]) -> int | None:
    """The ``e_machine`` of the ELF file at `path`; None if it is not an ELF file."""
    with open(path, "rb") as handle:
        head = handle.read(20)
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None
    order = "<" if head[5] == 1 else ">"
    (machine,) = struct.unpack(order + "H", head[18:20])
    return int(machine)
