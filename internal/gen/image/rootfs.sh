#!/usr/bin/env bash
# rootfs.sh OUT: builds the root filesystem of the acceptance image for
# `aigis image` (docs/image.md): Debian bookworm minbase from Debian's
# packages, with Python ML packages installed by apt (never pip), a model
# file and a planted fake credential. Needs root and debootstrap; it is a
# generator, never run in CI. OUT/rootfs is the tree, OUT/rootfs.txt
# records what was made (packages, sizes, planted files).
set -euo pipefail
out=${1:?usage: rootfs.sh OUT}
mirror=${MIRROR:-http://deb.debian.org/debian}
pkgs=${PKGS:-python3-numpy,python3-torch,python3-scipy}
mkdir -p "$out"
root=$out/rootfs
if [ ! -e "$root/var/lib/dpkg/status" ]; then
  debootstrap --variant=minbase --include="$pkgs" bookworm "$root" "$mirror"
fi
# apt's caches are not part of an image.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*_Packages
echo "rootfs: $(du -sh --apparent-size "$root" | cut -f1), $(find "$root" -xdev | wc -l) entries" > "$out/rootfs.txt"
chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' | sort >> "$out/rootfs.txt"
