"""The hand-written ELF executables are real: readable headers, and they run where they can."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from poncho_testing import (
    EM_AARCH64,
    EM_X86_64,
    aarch64_executable,
    elf_machine,
    x86_64_executable,
)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o755)
    return path


def test_headers_name_the_machine_and_one_loadable_segment(tmp_path: Path) -> None:
    for make, machine in ((aarch64_executable, EM_AARCH64), (x86_64_executable, EM_X86_64)):
        data = make(0)
        assert elf_machine(write(tmp_path / "exe", data)) == machine
        e_type, e_machine, _, e_entry, e_phoff = struct.unpack("<HHIQQ", data[16:40])
        assert (e_type, e_machine, e_phoff) == (2, machine, 64)
        p_type, p_flags, p_offset, p_vaddr, _, p_filesz = struct.unpack("<IIQQQQ", data[64:104])
        assert (p_type, p_flags, p_offset, p_filesz) == (1, 5, 0, len(data))
        assert p_vaddr < e_entry < p_vaddr + len(data)


def test_readelf_reads_them(tmp_path: Path) -> None:
    readelf = shutil.which("readelf")
    if readelf is None:
        pytest.skip("readelf (binutils) is not installed")
    out = subprocess.run(
        [readelf, "-h", str(write(tmp_path / "a", aarch64_executable()))],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "AArch64" in out.stdout and "EXEC" in out.stdout


def test_x86_64_executable_runs_here_with_its_exit_code(tmp_path: Path) -> None:
    if elf_machine("/bin/sh") != EM_X86_64:
        pytest.skip("not an x86-64 machine")
    assert (
        subprocess.run([write(tmp_path / "x", x86_64_executable(7))], check=False).returncode == 7
    )


def test_aarch64_executable_runs_under_qemu(tmp_path: Path) -> None:
    qemu = shutil.which("qemu-aarch64") or shutil.which("qemu-aarch64-static")
    if qemu is None:
        pytest.skip("qemu-aarch64 is not installed")
    exe = write(tmp_path / "a", aarch64_executable(3))
    assert subprocess.run([qemu, str(exe)], check=False).returncode == 3


def test_elf_machine_of_other_files_and_bad_codes(tmp_path: Path) -> None:
    assert elf_machine(write(tmp_path / "s", b"#!/bin/sh\n")) is None
    assert elf_machine(write(tmp_path / "e", b"")) is None
    big_endian = b"\x7fELF\x02\x02\x01" + bytes(11) + struct.pack(">H", 21)
    assert elf_machine(write(tmp_path / "b", big_endian)) == 21
    with pytest.raises(ValueError, match="out of range"):
        aarch64_executable(256)
    with pytest.raises(ValueError, match="out of range"):
        x86_64_executable(-1)
