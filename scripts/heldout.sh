#!/usr/bin/env bash
# The held-out scoring set: pictures no training run sees, with faces and people (webcam users are people).
# Builds it once into DIR (default ~/.cache/stylize/heldout) and prints the folder:
#   general/  amber.jpg (the pytorch/examples content image, beside which ../shared/data/reference has the
#             reference models' outputs), a frame of each shared clip (bikes, Big Buck Bunny);
#   people/   astronaut.png (scikit-image's sample: Eileen Collins, NASA, public domain), grace_hopper.jpg (Debian's
#             facedetect example: US Navy, public domain), messi5.jpg and basketball1.png (OpenCV's samples, from
#             Debian's opencv-doc), a frame of OpenCV's vtest.avi (people walking) and of Megamind.avi (a face).
# scikit-image's and OpenCV's samples are kept out of every training set for this. Downloads (only here, only
# when missing): the scikit-image 0.26.0 wheel from PyPI, the facedetect and opencv-doc .debs from Debian
# (scripts/debs.sh, cached).
#
#   scripts/heldout.sh [DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DATA=../shared/data
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/stylize"
DIR=${1:-$CACHE/heldout}
[[ -d $DATA ]] || { echo "error: ../shared/data is missing (amber.jpg and the clips of the held-out set)" >&2; exit 1; }
if [[ -f $DIR/ready ]]; then echo "$DIR"; exit 0; fi
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/set/general" "$WORK/set/people" "$CACHE/clips"
debfile() { # package path-inside dest: one file of a Debian package (scripts/debs.sh), without installing it
    local deb
    # Explicit exits: a caller's `||` turns errexit off in here; the file appears only when whole.
    deb=$(scripts/debs.sh "$1") || exit 1
    dpkg-deb --fsys-tarfile "${deb#* }" | tar -x -O ".$2" > "$3.part" || { rm -f "$3.part"; echo "error: no $2 in $1" >&2; exit 1; }
    mv "$3.part" "$3"
}
# The clips are shared with scripts/bench_temporal.sh's cache.
for c in vtest Megamind; do
    [[ -f $CACHE/clips/$c.avi ]] || debfile opencv-doc "/usr/share/doc/opencv-doc/examples/data/$c.avi" "$CACHE/clips/$c.avi"
done
for f in messi5.jpg basketball1.png; do debfile opencv-doc "/usr/share/doc/opencv-doc/examples/data/$f" "$WORK/set/people/$f"; done
debfile facedetect /usr/share/doc/facedetect/examples/grace_hopper_512x512.jpg "$WORK/set/people/grace_hopper.jpg"
python3 -m pip download -q --no-deps --only-binary=:all: scikit-image==0.26.0 -d "$WORK/whl" >&2 \
    || { echo "error: pip could not download scikit-image 0.26.0 from PyPI (network?)" >&2; exit 1; }
python3 -c 'import glob, sys, zipfile; open(sys.argv[2], "wb").write(zipfile.ZipFile(glob.glob(sys.argv[1] + "/*.whl")[0]).read("skimage/data/astronaut.png"))' \
    "$WORK/whl" "$WORK/set/people/astronaut.png"
ffmpeg -v error -y -ss 5 -i "$CACHE/clips/vtest.avi" -frames:v 1 "$WORK/set/people/vtest-5.png"
ffmpeg -v error -y -ss 2 -i "$CACHE/clips/Megamind.avi" -frames:v 1 "$WORK/set/people/megamind-2.png"
cp "$DATA/content/amber.jpg" "$WORK/set/general/"
ffmpeg -v error -y -ss 3 -i "$DATA/video/bikes.mp4" -frames:v 1 "$WORK/set/general/bikes-3.png"
ffmpeg -v error -y -ss 4 -i "$DATA/video/bigbuckbunny.mp4" -frames:v 1 "$WORK/set/general/bbb-4.png"
touch "$WORK/set/ready"
mkdir -p "$(dirname "$DIR")" && rm -rf "$DIR" && mv "$WORK/set" "$DIR"
echo "$DIR"
