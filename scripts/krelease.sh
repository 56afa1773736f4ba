#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Print the release (uname -r) of the kernel a build tree is for; it names
# /boot/vmlinuz-<release>.  Debian's kernel.release file holds the upstream
# version instead, so read UTS_RELEASE.
set -eu
sed -n 's/^#define UTS_RELEASE "\(.*\)"$/\1/p' "$1/include/generated/utsrelease.h"
