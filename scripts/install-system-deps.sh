#!/usr/bin/env bash
# System packages the book uses when they can be had: a small General MIDI SoundFont and
# fluidsynth (real instrument notes, chapters 5-8), a second font (MuseScore General Lite, .sf3)
# that the tests play tunes with to check that any font works, Chromium (the browser test), and
# freeciv-data (real pixel art, GPL-2+: flags, units, buildings for chapter 2's own-sprites path
# and the generic sprite feature network, `musicgan_lib.data.sprite_sets`).
# Installs with apt-get when running as root on Debian/Ubuntu; otherwise says what is
# missing and carries on (the book falls back to synthetic notes, the browser test skips).
set -u
want=(fluidsynth timgm6mb-soundfont musescore-general-soundfont-small chromium freeciv-data)
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
    || echo "warning: could not install ${missing[*]}; the book runs without them (see README)."
else
  echo "note: system packages not installed: ${missing[*]} (need root + apt-get)."
  echo "      Without them chapters 5-7 use synthetic notes only, the browser test is skipped, and the"
  echo "      freeciv sprite sets (data.sprite_sets) are unavailable."
fi
exit 0
