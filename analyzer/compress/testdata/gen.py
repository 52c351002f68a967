# Regenerates the bzip2 fixtures (Go has no bzip2 writer): python3 gen.py
import bz2
evil = b"\x80\x04\x95\x15\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x8c\x06system\x93\x8c\x02id\x85R."
benign = b"\x80\x04}\x94\x8c\x01a\x94K\x01s."
open("evil.pkl.bz2", "wb").write(bz2.compress(evil))
open("benign.pkl.bz2", "wb").write(bz2.compress(benign))

# A decompression bomb for the ratio limit: 128 MiB of valid opcodes
# (NONE, POP forever) in a few kilobytes of xz.
import lzma
open("bomb.pkl.xz", "wb").write(lzma.compress(b"\x80\x04" + b"N0" * (64 << 20), preset=9))
