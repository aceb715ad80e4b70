#!/usr/bin/env bash
# Run as the account: its ed25519 public key, or nothing when it has none (or a link in its place).
f="$HOME/.ssh/id_ed25519.pub"
if [ -f "$f" ] && [ ! -L "$f" ]; then cat -- "$f"; fi
