#!/usr/bin/env bash
# A wider training content set (people, animals, indoor scenes, streets, objects) from the photographs that
# Debian 12 (bookworm) packages ship, taken out of the .deb files without installing the packages.
#
#   scripts/content_data.sh [-o DIR] [--with-shared]
#
#   -o DIR          output folder (default .deps/content, under the project root)
#   --with-shared   also make the 38 photos that ../shared/data/content/photos already holds (same file names;
#                   their sources are in ../shared/data/README.md). Off by default: the two sets never overlap,
#                   so train on both with
#                     stylize-train train --content-dir ../shared/data/content/photos --content-dir .deps/content ...
#
# What it does: `apt-get download`s the packages into ${XDG_CACHE_HOME:-~/.cache}/stylize/debs (the only download;
# skipped for a package whose .deb is already there), extracts only the files listed below plus each package's
# /usr/share/doc/PKG/copyright and the upstream notices the licences come from (kept in DIR/licences/), scales
# each photo to at most 1024 px on the long side (JPEG quality 90, 8-bit RGB) and writes DIR/NAME.jpg and
# DIR/SOURCES.tsv (file, width x height, package, version, path in the package, licence, author). New files are
# made in a temporary folder beside DIR and moved into place at the end; files already in DIR are kept, so a
# second run does nothing. Needs apt-get (package lists: `apt-get update` once), dpkg-deb, ImageMagick's
# convert/identify, and python3 (for GCompris' Qt resource bundles and SciPy's raw sample arrays).
#
# Chosen by looking at every candidate: photographs only (no drawn, rendered or abstract wallpapers: that rules
# out ukui-wallpapers, gnome-backgrounds, desktop-base, sway/xfce/lomiri base artwork, most plasma wallpapers).
# Held out on purpose, as test images: facedetect's grace_hopper_512x512.jpg (and matplotlib's copy of it),
# scikit-image's and OpenCV's (opencv-doc) samples. Left out for an unstated source/licence: the 512x512
# avatar photos of gnome-control-center-data (/usr/share/pixmaps/faces). Licences were checked against each
# package's copyright file; where that file is a blanket or out of date, the more specific upstream notice
# shipped in the same package is named in the comment above the entries and copied to DIR/licences/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/.deps/content"
WITH_SHARED=0
while (($#)); do
    case "$1" in
        -o) [[ $# -ge 2 ]] || { echo "error: -o needs a folder" >&2; exit 2; }; OUT="$2"; shift 2 ;;
        --with-shared) WITH_SHARED=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "error: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
mkdir -p "$(dirname "$OUT")"
OUT="$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")"

# NAME|PACKAGE|PATH IN THE PACKAGE (FILE.rcc:/MEMBER for a file inside a Qt resource bundle)|LICENCE|AUTHOR
G=/usr/share/gcompris-qt/rcc
GA=/gcompris/src/activities
# gcompris-qt-data: Debian's copyright file still lists GCompris 1.x's erase/*.jpg (blanket GPL-3+); the
# per-photo licences and authors are those of the README beside the photos in each .rcc (copied to licences/).
# Scratch: "Files: Help/* Media/* Projects, Copyright: 2011 Massachusetts Institute of Technology, CC-BY-SA-3.0".
# lxqt-themes: Debian's copyright has only "Files: * LGPL-2.1+"; the photos' own notice is wallpapers/License
# (CC BY-SA 3.0, the named ones by stefonarch). palapeli-data: licence and author from each puzzle's .desktop.
# python3-sklearn: not in Debian's copyright (blanket BSD-3-Clause); datasets/images/README.txt says CC BY 2.0.
# python3-scipy: ascent.dat is "public-domain" in Debian's copyright; face.dat falls under its "Files: *"
# (BSD-3-Clause; upstream calls it a public-domain photo). scribus-template: the br2 and menu2 templates are
# Riku Leino's, "placed into public domain by their author". plasma-workspace-wallpapers: Debian's copyright
# says GPL-2+ for all; the wallpaper's metadata.json says LGPLv3.
ENTRIES=(
    # people
    "mariachi|gcompris-qt-data|$G/explore_world_music.rcc:$GA/explore_world_music/resource/music/mexico.webp|CC0-1.0|Elidealista"
    "orchestra|gcompris-qt-data|$G/explore_world_music.rcc:$GA/explore_world_music/resource/music/orchestra.webp|public-domain|ABC Informática"
    "didgeridoo|gcompris-qt-data|$G/explore_world_music.rcc:$GA/explore_world_music/resource/music/australia.webp|CC-BY-2.0|Steve Evans"
    "taiko-festival|gcompris-qt-data|$G/explore_world_music.rcc:$GA/explore_world_music/resource/music/japan.webp|public-domain|takami torao"
    "folk-musicians|gcompris-qt-data|$G/explore_world_music.rcc:$GA/explore_world_music/resource/music/ireland.webp|CC-BY-2.0|candyschwartz"
    "opera-stage|gcompris-qt-data|$G/explore_world_music.rcc:$GA/explore_world_music/resource/music/italy.webp|CC0-1.0|SoriamuséuM"
    "stairs-climbers|python3-scipy|/usr/lib/python3/dist-packages/scipy/misc/ascent.dat|public-domain|public-domain-image.com (scipy.misc.ascent)"
    "baseball-stadium|scratch|/usr/share/scratch/Media/Backgrounds/Sports/baseball-field.jpg|CC-BY-SA-3.0|Massachusetts Institute of Technology"
    "football-stadium|scratch|/usr/share/scratch/Media/Backgrounds/Sports/football-field.jpg|CC-BY-SA-3.0|Massachusetts Institute of Technology"
    # indoor scenes and objects
    "clothing-store|scratch|/usr/share/scratch/Media/Backgrounds/Indoors/clothing-store.jpg|CC-BY-SA-3.0|Massachusetts Institute of Technology"
    "school-hall|scratch|/usr/share/scratch/Media/Backgrounds/Indoors/hall.jpg|CC-BY-SA-3.0|Massachusetts Institute of Technology"
    "kitchen|scratch|/usr/share/scratch/Media/Backgrounds/Indoors/kitchen.jpg|CC-BY-SA-3.0|Massachusetts Institute of Technology"
    "cinema-lobby|scratch|/usr/share/scratch/Media/Backgrounds/Indoors/the-movies-inside.jpg|CC-BY-SA-3.0|Massachusetts Institute of Technology"
    "stage-chalkboard|scratch|/usr/share/scratch/Media/Backgrounds/Indoors/chalkboard.jpg|CC-BY-SA-3.0|Massachusetts Institute of Technology"
    "drum-kit|gcompris-qt-data|$G/explore_world_music.rcc:$GA/explore_world_music/resource/music/america.webp|CC-BY-2.0|Tom Harpel"
    "bata-drums|gcompris-qt-data|$G/explore_world_music.rcc:$GA/explore_world_music/resource/music/africa.webp|public-domain|Kenneth Ritchards"
    "citrus-fruits|palapeli-data|/usr/share/palapeli/collection/citrus-fruits.jpg|public-domain|US Department of Agriculture"
    "pizza|scribus-template|/usr/share/scribus/templates/menu2/pizza.jpg|public-domain|Riku Leino (Scribus template)"
    # streets, buildings
    "basketball-court|scratch|/usr/share/scratch/Media/Backgrounds/Sports/basketball-court1-a.jpg|CC-BY-SA-3.0|Massachusetts Institute of Technology"
    "fireproof-building|scratch|/usr/share/scratch/Media/Backgrounds/Outdoors/building-fireproof.jpg|CC-BY-SA-3.0|Massachusetts Institute of Technology"
    "parking-ramp|scratch|/usr/share/scratch/Media/Backgrounds/Outdoors/parking-ramp.jpg|CC-BY-SA-3.0|Massachusetts Institute of Technology"
    "route66|scratch|/usr/share/scratch/Media/Backgrounds/Outdoors/route66.jpg|CC-BY-SA-3.0|Massachusetts Institute of Technology"
    "cinema-entrance|scratch|/usr/share/scratch/Media/Backgrounds/Outdoors/the-movies.jpg|CC-BY-SA-3.0|Massachusetts Institute of Technology"
    "arcade|scratch|/usr/share/scratch/Media/Backgrounds/Outdoors/hallway_outdoors.jpg|CC-BY-SA-3.0|Massachusetts Institute of Technology"
    "playground|scratch|/usr/share/scratch/Media/Backgrounds/Outdoors/atom-playground.jpg|CC-BY-SA-3.0|Massachusetts Institute of Technology"
    "pool|scratch|/usr/share/scratch/Media/Backgrounds/Outdoors/pool.jpg|CC-BY-SA-3.0|Massachusetts Institute of Technology"
    "city-night|scratch|/usr/share/scratch/Media/Backgrounds/Outdoors/city-with-water.jpg|CC-BY-SA-3.0|Massachusetts Institute of Technology"
    "cincinnati-bridge|palapeli-data|/usr/share/palapeli/collection/cincinnati-bridge.jpg|public-domain|Derek Jensen"
    "castle-maintenon|palapeli-data|/usr/share/palapeli/collection/castle-maintenon.jpg|GFDL|Eric Pouhier"
    "summer-palace|python3-sklearn|/usr/lib/python3/dist-packages/sklearn/datasets/images/china.jpg|CC-BY-2.0|danielbuechele (Flickr)"
    "skyline-sunset|scribus-template|/usr/share/scribus/templates/br2/sunset.jpg|public-domain|Riku Leino (Scribus template)"
    "brandenburg-gate|gcompris-qt-data|$G/explore_monuments.rcc:$GA/explore_monuments/resource/germany/brandenburgGate.webp|public-domain|Evans1551"
    "berlin-cathedral|gcompris-qt-data|$G/explore_monuments.rcc:$GA/explore_monuments/resource/germany/berlinCathedral.webp|CC0-1.0|Gary Todd"
    "aula-palatina|gcompris-qt-data|$G/explore_monuments.rcc:$GA/explore_monuments/resource/germany/aulaPalatina.webp|public-domain|Berthold Werner"
    "palais-des-papes|gcompris-qt-data|$G/explore_monuments.rcc:$GA/explore_monuments/resource/france/palaisdesPapes.webp|CC0-1.0|Tognopop"
    "carcassonne|gcompris-qt-data|$G/explore_monuments.rcc:$GA/explore_monuments/resource/france/citedeCarcassonne.webp|public-domain|Petitemontagnedujura"
    "colosseum|gcompris-qt-data|$G/explore_monuments.rcc:$GA/explore_monuments/resource/wonders/colosseum.webp|public-domain|Urse Ovidiu"
    "taj-mahal|gcompris-qt-data|$G/explore_monuments.rcc:$GA/explore_monuments/resource/wonders/tajMahal.webp|CC-BY-SA-4.0|Yann"
    "christ-the-redeemer|gcompris-qt-data|$G/explore_monuments.rcc:$GA/explore_monuments/resource/wonders/christTheRedeemer.webp|CC-BY-SA-4.0|Chensiyuan"
    "gateway-of-india|gcompris-qt-data|$G/explore_monuments.rcc:$GA/explore_monuments/resource/india/gatewayofIndia.webp|CC0-1.0|Simon Steinberger"
    "hawa-mahal|gcompris-qt-data|$G/explore_monuments.rcc:$GA/explore_monuments/resource/india/hawaMahal.webp|public-domain|Janwiki"
    "konark-temple|gcompris-qt-data|$G/explore_monuments.rcc:$GA/explore_monuments/resource/india/konarkSunTemple.webp|public-domain|Tetraktys"
    "mysore-palace|gcompris-qt-data|$G/explore_monuments.rcc:$GA/explore_monuments/resource/india/mysorePalace.webp|public-domain|Shiva sg"
    # animals
    "alpaca|gcompris-qt-data|$G/erase.rcc:$GA/erase/resource/alpaca.webp|CC-BY-SA-4.0|Dietmar Rabich"
    "calf|gcompris-qt-data|$G/erase.rcc:$GA/erase/resource/calf.webp|CC-BY-SA-4.0|Basile Morin"
    "camels|gcompris-qt-data|$G/erase.rcc:$GA/erase/resource/camels.webp|CC-BY-SA-4.0|Alexandr frolov"
    "cheetah|gcompris-qt-data|$G/erase.rcc:$GA/erase/resource/cheetah.webp|CC-BY-SA-4.0|Charles J. Sharp"
    "gibbon|gcompris-qt-data|$G/erase.rcc:$GA/erase/resource/gibbon.webp|CC-BY-3.0|JJ Harrison"
    "goat|gcompris-qt-data|$G/erase.rcc:$GA/erase/resource/goat.webp|CC-BY-SA-4.0|JoachimKohlerBremen"
    "gorilla|gcompris-qt-data|$G/erase.rcc:$GA/erase/resource/gorilla.webp|CC-BY-SA-4.0|Charles J. Sharp"
    "kitten|gcompris-qt-data|$G/erase.rcc:$GA/erase/resource/kitten.webp|CC-BY-2.0|GalgenTX"
    "proboscis-monkey|gcompris-qt-data|$G/erase.rcc:$GA/erase/resource/long_nosed_monkey.webp|CC-BY-SA-4.0|Charles J. Sharp"
    "macaque|gcompris-qt-data|$G/erase.rcc:$GA/erase/resource/macaque.webp|CC-BY-SA-4.0|PJeganathan"
    "meerkats|gcompris-qt-data|$G/erase.rcc:$GA/erase/resource/meerkats.webp|CC-BY-SA-4.0|Charles J. Sharp"
    "red-panda|gcompris-qt-data|$G/erase.rcc:$GA/erase/resource/red_panda.webp|CC0-1.0|Mathias Appel"
    "rhinoceros|gcompris-qt-data|$G/erase.rcc:$GA/erase/resource/rhinoceros.webp|CC-BY-SA-4.0|Charles J. Sharp"
    "swans|gcompris-qt-data|$G/erase.rcc:$GA/erase/resource/swans.webp|CC-BY-SA-4.0|Charles J. Sharp"
    "dog|gcompris-qt-data|$G/explore_farm_animals.rcc:$GA/explore_farm_animals/resource/animals/dog.webp|public-domain|Hans Kemperman"
    "cat-yarn|gcompris-qt-data|$G/explore_farm_animals.rcc:$GA/explore_farm_animals/resource/animals/cat.webp|public-domain|Loliloli"
    "jaguars|gcompris-qt-data|$G/explore_world_animals.rcc:$GA/explore_world_animals/resource/animals/jaguar.webp|CC0-1.0|Frieda Bredesen"
    "kangaroo|gcompris-qt-data|$G/explore_world_animals.rcc:$GA/explore_world_animals/resource/animals/kangaroo.webp|public-domain|Vicki Nunn"
    "panda|gcompris-qt-data|$G/explore_world_animals.rcc:$GA/explore_world_animals/resource/animals/panda.webp|public-domain|Jeff Kubina"
    "macaw|gcompris-qt-data|$G/explore_world_animals.rcc:$GA/explore_world_animals/resource/animals/scarlet_macaw.webp|CC0-1.0|Dcoetzee"
    "raccoon|python3-scipy|/usr/lib/python3/dist-packages/scipy/misc/face.dat|BSD-3-Clause|SciPy (public-domain-image.com photo)"
    "honey-bee|palapeli-data|/usr/share/palapeli/collection/european-honey-bee.jpg|public-domain|John Severns"
    "chameleon|palapeli-data|/usr/share/palapeli/collection/panther-chameleon-female.jpg|GFDL|B. Navez and others"
    "butterfly-flower|lxqt-themes|/usr/share/lxqt/wallpapers/butterfly.png|CC-BY-SA-3.0|stefonarch (Stef Binde)"
    "butterfly-meadow|lxqt-themes|/usr/share/lxqt/wallpapers/Butterfly-Kenneth-Wimer.jpg|CC-BY-SA-3.0|Kenneth Wimer"
    # plants, close-ups
    "apple-blossom|lxqt-themes|/usr/share/lxqt/wallpapers/appleflower.png|CC-BY-SA-3.0|stefonarch (Stef Binde)"
    "dew-drop|lxqt-themes|/usr/share/lxqt/wallpapers/drop.png|CC-BY-SA-3.0|stefonarch (Stef Binde)"
    "wildflowers|lxqt-themes|/usr/share/lxqt/wallpapers/flowers.png|CC-BY-SA-3.0|stefonarch (Stef Binde)"
    "dahlia|python3-sklearn|/usr/lib/python3/dist-packages/sklearn/datasets/images/flower.jpg|CC-BY-2.0|vultilion (Flickr; README.txt credits danielbuechele)"
    # landscapes (few: the shared set has many)
    "green-hills|lxqt-themes|/usr/share/lxqt/wallpapers/this-is-not-windows.jpg|CC-BY-SA-3.0|stefonarch (Stef Binde)"
    "canyon|scribus-template|/usr/share/scribus/templates/br2/nature.jpg|public-domain|Riku Leino (Scribus template)"
)

# The upstream notices named above, copied to DIR/licences/ beside each package's copyright file.
declare -A NOTICES=(
    [gcompris-qt-data]="$G/erase.rcc:$GA/erase/resource/README $G/explore_world_music.rcc:$GA/explore_world_music/resource/music/README $G/explore_monuments.rcc:$GA/explore_monuments/resource/README $G/explore_farm_animals.rcc:$GA/explore_farm_animals/resource/animals/README $G/explore_world_animals.rcc:$GA/explore_world_animals/resource/animals/README"
    [lxqt-themes]="/usr/share/lxqt/wallpapers/License"
    [palapeli-data]="/usr/share/palapeli/collection/citrus-fruits.desktop /usr/share/palapeli/collection/cincinnati-bridge.desktop /usr/share/palapeli/collection/castle-maintenon.desktop /usr/share/palapeli/collection/european-honey-bee.desktop /usr/share/palapeli/collection/panther-chameleon-female.desktop"
    [python3-sklearn]="/usr/lib/python3/dist-packages/sklearn/datasets/images/README.txt"
    [plasma-workspace-wallpapers]="/usr/share/wallpapers/ColorfulCups/metadata.json"
)

# --with-shared: the 38 photos of ../shared/data/content/photos (see its README), under the same names.
MB=/usr/share/backgrounds/mate/nature
PW=/usr/share/wallpapers
LB=/usr/share/backgrounds
SHARED=(
    "aqua|mate-backgrounds|$MB/Aqua.jpg|GPL-2+|Charles Barbin"
    "blinds|mate-backgrounds|$MB/Blinds.jpg|GPL-2+|Lennart Poettering, Andrea Cimitan"
    "dune|mate-backgrounds|$MB/Dune.jpg|GPL-2+|Marco Cogoni, Hylke Bons"
    "freshflower|mate-backgrounds|$MB/FreshFlower.jpg|GPL-2+|Jens Ansorg"
    "garden|mate-backgrounds|$MB/Garden.jpg|GPL-2+|Charles Barbin"
    "greenmeadow|mate-backgrounds|$MB/GreenMeadow.jpg|GPL-2+|Timothy Schellhase, Lapo Calamandrei"
    "ladybird|mate-backgrounds|$MB/LadyBird.jpg|GPL-2+|Charles Barbin"
    "raindrops|mate-backgrounds|$MB/RainDrops.jpg|GPL-2+|blackcombwhistler07"
    "storm|mate-backgrounds|$MB/Storm.jpg|GPL-2+|Sergey Nazarov"
    "twowings|mate-backgrounds|$MB/TwoWings.jpg|GPL-2+|Charles Barbin, Hylke Bons"
    "wood|mate-backgrounds|$MB/Wood.jpg|GPL-2+|Jean-François Fortin Tam"
    "yellowflower|mate-backgrounds|$MB/YellowFlower.jpg|GPL-2+|Charles Barbin"
    "bythewater|plasma-workspace-wallpapers|$PW/BytheWater/contents/images/2560x1600.jpg|LGPL-3|Maciej Wiklo"
    "coldripple|plasma-workspace-wallpapers|$PW/ColdRipple/contents/images/2560x1600.jpg|LGPL-3|Risto Saukonpää"
    "darkesthour|plasma-workspace-wallpapers|$PW/DarkestHour/contents/images/2560x1600.jpg|LGPL-3|Risto Saukonpää"
    "eveningglow|plasma-workspace-wallpapers|$PW/EveningGlow/contents/images/2560x1600.jpg|LGPL-3|Ian Hex"
    "fallenleaf|plasma-workspace-wallpapers|$PW/FallenLeaf/contents/images/2560x1600.jpg|LGPL-3|Martin Klapetek"
    "grey|plasma-workspace-wallpapers|$PW/Grey/contents/images/2560x1600.jpg|LGPL-3|Sigi Sagi"
    "kite|plasma-workspace-wallpapers|$PW/Kite/contents/images/2560x1600.jpg|LGPL-3|Risto Saukonpää"
    "onestandsout|plasma-workspace-wallpapers|$PW/OneStandsOut/contents/images/2560x1600.jpg|LGPL-3|Risto Saukonpää"
    "path|plasma-workspace-wallpapers|$PW/Path/contents/images/2560x1600.jpg|LGPL-3|Risto Saukonpää"
    "volna|plasma-workspace-wallpapers|$PW/Volna/contents/images/5120x2880.jpg|CC-BY-SA-4.0|Nikita Babin"
    "summer_1am|plasma-workspace-wallpapers|$PW/summer_1am/contents/images/2560x1600.jpg|LGPL-3|Risto Saukonpää"
    "bridge|lomiri-wallpapers-16.04|$LB/Bridge_by_Sander_Klootwijk.jpg|CC-BY-SA-4.0|Sander Klootwijk"
    "dragonfly|lomiri-wallpapers-16.04|$LB/Dragonfly_by_Bolly.jpg|CC-BY-SA-4.0|Bolly"
    "picture0b|lomiri-wallpapers-16.04|$LB/Picture_0B_by_freespace.jpg|CC-BY-4.0|Trevor \"Freespace\""
    "picture1a|lomiri-wallpapers-16.04|$LB/Picture_1A_by_freespace.jpg|CC-BY-4.0|Trevor \"Freespace\""
    "wine|lomiri-wallpapers-16.04|$LB/Wine_by_Jakkub_Mede.jpg|CC-BY-4.0|Jakub Mede"
    "aitzgorri|lomiri-wallpapers-16.04|$LB/aitzgorri_by_Aitzol_Berasategi.jpg|CC-BY-4.0|Aitzol Berasategi"
    "free|lomiri-wallpapers-16.04|$LB/free_by_Peter_Nerlich.jpg|CC-BY-SA-4.0|Peter Nerlich"
    "friends|lomiri-wallpapers-16.04|$LB/friends_by_Aitzol_Berasategi.jpg|CC-BY-4.0|Aitzol Berasategi"
    "greentock|lomiri-wallpapers-16.04|$LB/greentock_by_Peter_Nerlich.jpg|CC-BY-SA-4.0|Peter Nerlich"
    "life|lomiri-wallpapers-16.04|$LB/life_by_Aitzol_Berasategi.jpg|CC-BY-4.0|Aitzol Berasategi"
    "picosdeeuropa|lomiri-wallpapers-16.04|$LB/picosdeeuropa_by_Aitzol_Berasategi.jpg|CC-BY-4.0|Aitzol Berasategi"
    "seeding|lomiri-wallpapers-16.04|$LB/seeding_by_Clements_Engelhardt.jpg|CC0-1.0|Clemens Engelhardt"
    "sunset|lomiri-wallpapers-16.04|$LB/sunset_by_Aitzol_Berasategi.jpg|CC-BY-4.0|Aitzol Berasategi"
    "umang|lomiri-wallpapers-16.04|$LB/umang_by_Abhishek_Mudgal.jpg|CC-BY-4.0|Abhishek Mudgal"
    "kleiber|lomiri-wallpapers-20.04|$LB/Kleiber_by_Lukas_Baubkus.jpg|CC-BY-SA-3.0|Lukas Baubkus"
)
((WITH_SHARED)) && ENTRIES+=("${SHARED[@]}")

# Reads one member of a Qt resource bundle (.rcc, format 1-3, zlib or no compression), or decodes SciPy's
# sample arrays (face.dat: bz2 of 768x1024x3 bytes; ascent.dat: a pickled 512x512 list) to a PNM file.
PY_EXTRACT='
import bz2, pickle, struct, sys, zlib
mode, src, member, out = sys.argv[1:5]
if mode == "face":
    open(out, "wb").write(b"P6 1024 768 255\n" + bz2.decompress(open(src, "rb").read()))
elif mode == "ascent":
    a = pickle.load(open(src, "rb"))
    open(out, "wb").write(b"P5 %d %d 255\n" % (len(a[0]), len(a)) + bytes(int(v) for row in a for v in row))
else:
    b = open(src, "rb").read()
    assert b[:4] == b"qres", src + " is not a Qt resource bundle"
    ver, tree, data, names = struct.unpack(">IIII", b[4:20])
    size = 22 if ver >= 2 else 14
    def name(off):
        n, = struct.unpack(">H", b[names + off:names + off + 2])
        return b[names + off + 6:names + off + 6 + 2 * n].decode("utf-16-be")
    node, parts = 0, member.strip("/").split("/")
    for i, part in enumerate(parts):
        o = tree + node * size
        flags, count, first = struct.unpack(">HII", b[o + 4:o + 14])
        assert flags & 2, member + ": not found in " + src
        kids = [k for k in range(first, first + count) if name(struct.unpack(">I", b[tree + k * size:tree + k * size + 4])[0]) == part]
        assert kids, member + ": not found in " + src
        node = kids[0]
    o = tree + node * size
    flags, = struct.unpack(">H", b[o + 4:o + 6])
    off, = struct.unpack(">I", b[o + 10:o + 14])
    n, = struct.unpack(">I", b[data + off:data + off + 4])
    raw = b[data + off + 4:data + off + 4 + n]
    assert not flags & 4, member + ": zstd-compressed, not supported"
    open(out, "wb").write(zlib.decompress(raw[4:]) if flags & 1 else raw)
'

# What is already there: files in DIR with a row in SOURCES.tsv are kept as they are.
declare -A ROW=()
if [[ -f "$OUT/SOURCES.tsv" ]]; then
    while IFS= read -r line; do
        [[ $line == file$'\t'* ]] && continue
        f=${line%%$'\t'*}
        [[ -s "$OUT/$f" ]] && ROW[$f]=$line
    done <"$OUT/SOURCES.tsv"
fi
todo=(); declare -A PKGS=()
for e in "${ENTRIES[@]}"; do
    IFS='|' read -r name pkg _ <<<"$e"
    if [[ -z "${ROW[$name.jpg]:-}" || ! -f "$OUT/licences/$pkg.copyright" ]]; then
        todo+=("$e"); PKGS[$pkg]=1
    fi
done

summary() {
    local n m
    n=$(tail -n +2 "$OUT/SOURCES.tsv" | wc -l)
    m=$(tail -n +2 "$OUT/SOURCES.tsv" | cut -f3 | sort -u | wc -l)
    echo "$n photos, from $m packages, in ${OUT#"$PWD"/}${1:-}"
}
if ((${#todo[@]} == 0)); then
    summary " (nothing to do)"
    exit 0
fi

for tool in apt-get dpkg-deb tar convert identify python3; do
    command -v "$tool" >/dev/null || { echo "error: $tool is needed and not installed" >&2; exit 1; }
done

WORK=$(mktemp -d)
STAGE=$(mktemp -d "$(dirname "$OUT")/.content_data.XXXXXX")
trap 'rm -rf "$WORK" "$STAGE"' EXIT
mkdir -p "$STAGE/licences"

# The .deb files (scripts/debs.sh: one apt-get call for those not cached yet).
declare -A DEB=()
debs=$("$ROOT/scripts/debs.sh" "${!PKGS[@]}")
while read -r pkg path; do DEB[$pkg]=$path; done <<<"$debs"

py() { python3 -c "$PY_EXTRACT" "$@" 2>"$WORK/py.log" || { echo "error: $pkg $ver: $(tail -n 1 "$WORK/py.log")" >&2; exit 1; }; }
# Extracts PATH (or FILE.rcc:/MEMBER) of a package unpacked under $X to the file $2.
take() {
    local spec=$1 out=$2
    case "$spec" in
        *.rcc:*) py rcc "$X${spec%%:*}" "${spec#*:}" "$out" ;;
        */scipy/misc/face.dat) py face "$X$spec" - "$out" ;;
        */scipy/misc/ascent.dat) py ascent "$X$spec" - "$out" ;;
        *) [[ -f "$X$spec" && ! -L "$X$spec" ]] || { echo "error: $spec is not a file in $pkg $ver" >&2; exit 1; }
           cp "$X$spec" "$out" ;;
    esac
}

declare -A VER=()
new=0
for pkg in $(printf '%s\n' "${!PKGS[@]}" | sort); do
    deb=${DEB[$pkg]}
    ver=$(dpkg-deb -f "$deb" Version)
    VER[$pkg]=$ver
    X="$WORK/x/$pkg"; mkdir -p "$X"
    members=("./usr/share/doc/$pkg/copyright")
    for spec in ${NOTICES[$pkg]:-}; do members+=(".${spec%%:*}"); done
    for e in "${todo[@]}"; do
        IFS='|' read -r _ p path _ <<<"$e"
        [[ $p == "$pkg" ]] && members+=(".${path%%:*}")
    done
    mapfile -t members < <(printf '%s\n' "${members[@]}" | sort -u)
    if ! dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$X" "${members[@]}" 2>"$WORK/tar.log"; then
        echo "error: $pkg $ver lacks files this script expects: $(grep -m1 -o '[^ ]* Not found in archive' "$WORK/tar.log" || head -n1 "$WORK/tar.log")" >&2
        exit 1
    fi
    cp "$X/usr/share/doc/$pkg/copyright" "$STAGE/licences/$pkg.copyright"
    for spec in ${NOTICES[$pkg]:-}; do
        if [[ $spec == *.rcc:* ]]; then
            rcc=${spec%%:*}; rcc=${rcc##*/}
            take "$spec" "$STAGE/licences/$pkg.${rcc%.rcc}.$(basename "${spec#*:}")"
        else
            take "$spec" "$STAGE/licences/$pkg.$(basename "$spec")"
        fi
    done
    for e in "${todo[@]}"; do
        IFS='|' read -r name p path licence author <<<"$e"
        [[ $p == "$pkg" ]] || continue
        if [[ -n "${ROW[$name.jpg]:-}" ]]; then continue; fi   # only the licence file was missing
        src="$WORK/src-$name.${path##*.}"
        case "$path" in *.dat) src="$WORK/src-$name.pnm" ;; esac
        take "$path" "$src"
        convert -quiet "$src[0]" -auto-orient -background white -alpha remove -alpha off -resize '1024x1024>' \
            -colorspace sRGB -type TrueColor -strip -quality 90 "$STAGE/$name.jpg"
        printf -v "ROW[$name.jpg]" '%s\t%s\t%s\t%s\t%s\t%s\t%s' "$name.jpg" "$(identify -format '%wx%h' "$STAGE/$name.jpg")" \
            "$pkg" "$ver" "$path" "$licence" "$author"
        new=$((new + 1))
    done
done

# SOURCES.tsv: the listed photos in list order, then any other row of an earlier run whose file is still there.
{
    printf 'file\tsize\tpackage\tversion\tpath\tlicence\tauthor\n'
    declare -A listed=()
    for e in "${ENTRIES[@]}"; do
        name=${e%%|*}; listed[$name.jpg]=1
        [[ -n "${ROW[$name.jpg]:-}" ]] && printf '%s\n' "${ROW[$name.jpg]}"
    done
    for f in $(printf '%s\n' "${!ROW[@]}" | sort); do
        [[ -n "${listed[$f]:-}" ]] || printf '%s\n' "${ROW[$f]}"
    done
} >"$STAGE/SOURCES.tsv"

# Into place: a new folder whole, or the new files one by one (each mv is atomic), SOURCES.tsv last.
if [[ ! -e "$OUT" ]]; then
    mv "$STAGE" "$OUT"
else
    mkdir -p "$OUT/licences"
    find "$STAGE" -maxdepth 1 -name '*.jpg' -exec mv -f {} "$OUT/" \;
    find "$STAGE/licences" -maxdepth 1 -type f -exec mv -f {} "$OUT/licences/" \;
    mv -f "$STAGE/SOURCES.tsv" "$OUT/SOURCES.tsv"
fi
summary " ($new new)"
