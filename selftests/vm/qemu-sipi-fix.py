#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Copy Debian 12's qemu-system-x86_64 with its SIPI bug fixed.

Usage: qemu-sipi-fix.py QEMU OUT

QEMU 7.2.22 (Debian's 1:7.2+dfsg-7+deb12u18) stopped clearing
CPU_INTERRUPT_SIPI in apic_sipi() and clears it only on TCG's path: under
KVM with a userspace local APIC (kernel-irqchip=off) an application
processor's SIPI stays pending, and once that processor halts its vCPU
thread spins holding QEMU's global lock (Documentation/testing.rst, QEMU on
vmmu).  Upstream's fix clears the bit on KVM's path too.

This writes a copy of QEMU to OUT whose do_cpu_sipi() clears the bit
first, as the fixed QEMU does before it calls it: one instruction added in
the function's own 32 bytes, which are checked byte for byte against the
build this was made for.  Any other build is copied unchanged, with a
message: it may have the fix, or need a patch of its own.

Prints one line saying which.  Exit status 0 either way, 1 on errors.
"""
import shutil
import struct
import subprocess
import sys

# do_cpu_sipi() as Debian's 1:7.2+dfsg-7+deb12u18+b3 build has it:
#   testb $0x8,0x1462(%rdi)      SMM: return
#   je    +7
#   ret
#   nopw  0x0(%rax,%rax,1)
#   mov   0x4fa8(%rdi),%rdi      cpu->apic_state
#   jmp   apic_sipi              (rel32: not compared)
#   nopl  0x0(%rax)
ORIG = bytes.fromhex('f687621400000874' '07c3660f1f440000'
                     '488bbfa84f0000e9')
TAIL = bytes.fromhex('0f1f4000')
# The same, with interrupt_request (CPUState offset 0xd8) losing
# CPU_INTERRUPT_SIPI (0x800: bit 3 of byte 0xd9) first:
#   andb  $0xf7,0xd9(%rdi)
#   testb $0x8,0x1462(%rdi)
#   jne   -> the ret at +0x1c
#   mov   0x4fa8(%rdi),%rdi
#   jmp   apic_sipi
#   ret
FIXED = bytes.fromhex('80a7d9000000f7' 'f68762140000 08'.replace(' ', '') +
                      '750c' '488bbfa84f0000e9')
FIXED_TAIL = bytes.fromhex('c3909090')


def symbol(path, name):
    """The address of dynamic symbol @name in ELF @path, or None."""
    out = subprocess.run(['nm', '-D', '--defined-only', path],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[2].split('@')[0] == name:
            return int(f[0], 16)
    return None


def file_offset(elf, vaddr):
    """The file offset of @vaddr in the 64-bit ELF image @elf, or None."""
    phoff, = struct.unpack_from('<Q', elf, 0x20)
    phentsize, phnum = struct.unpack_from('<HH', elf, 0x36)
    for i in range(phnum):
        p = phoff + i * phentsize
        ptype, = struct.unpack_from('<I', elf, p)
        off, va, _, filesz = struct.unpack_from('<QQQQ', elf, p + 8)
        if ptype == 1 and va <= vaddr < va + filesz:
            return off + vaddr - va
    return None


def main():
    if len(sys.argv) != 3:
        print(__doc__.split('\n\n')[1], file=sys.stderr)
        return 1
    src, dst = sys.argv[1], sys.argv[2]
    elf = bytearray(open(src, 'rb').read())
    addr = symbol(src, 'do_cpu_sipi')
    off = file_offset(elf, addr) if addr is not None else None
    code = elf[off:off + 32] if off is not None else b''
    if len(code) == 32 and code[:24] == ORIG and code[28:] == TAIL:
        elf[off:off + 24] = FIXED
        elf[off + 28:off + 32] = FIXED_TAIL
        what = 'SIPI cleared in do_cpu_sipi() at 0x%x' % addr
    else:
        what = ('do_cpu_sipi() is not the one this patch knows: '
                'copied unchanged')
    with open(dst, 'wb') as f:
        f.write(elf)
    shutil.copymode(src, dst)
    print('%s: %s' % (dst, what))
    return 0


if __name__ == '__main__':
    sys.exit(main())
