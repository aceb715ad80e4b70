#!/usr/bin/env bash
# Run as the account (after refusal.sh): its ed25519 key pair, made when missing ($1 the key's
# comment); prints "created" when it made one, then the public key. A link in place of ~/.ssh or a
# key file is refused: the account could point it at a file of another.
set -eu
umask 077
for f in "$HOME/.ssh" "$HOME/.ssh/id_ed25519" "$HOME/.ssh/id_ed25519.pub"; do
  if [ -L "$f" ]; then refusal "$f is a symbolic link (to $(readlink -- "$f")): stanzactl does not follow it"; fi
done
mkdir -p "$HOME/.ssh"
if [ ! -f "$HOME/.ssh/id_ed25519" ]; then ssh-keygen -q -N "" -t ed25519 -C "$1" -f "$HOME/.ssh/id_ed25519"; echo created; fi
cat "$HOME/.ssh/id_ed25519.pub"
