#!/usr/bin/env bash
# fetch_imdb.sh: download the public IMDB Large Movie Review Dataset (aclImdb v1, Maas et
# al. 2011) and pack its 50,000 labelled reviews into the TSV files drrl reads
# (data/imdb.h): OUTDIR/train.tsv.gz and OUTDIR/test.tsv.gz, the same format and bytes as
# the team's copy the project was built with (the uncompressed sha256s below).
#
# NEEDS INTERNET. It has not been run on the machine this project was built on (no network
# there; the team's files were packed from a git snapshot of the same reviews). Its packing
# half was checked there with --tar on an archive rebuilt from those files, giving their
# recorded sha256s. Without internet, link a local copy instead: ln -s /path/to/imdb data/imdb
# (scripts/run.sh, run_imdb.sh and test.sh link the team's ../shared/data/imdb themselves).
#
# Usage:
#   scripts/fetch_imdb.sh [OUTDIR]             # default OUTDIR: data/imdb (in the repository)
#   scripts/fetch_imdb.sh --tar FILE [OUTDIR]  # use an already downloaded aclImdb_v1.tar.gz
# Environment: IMDB_ALLOW_MISMATCH=1 writes the files even if their uncompressed sha256
# differs from the recorded one (otherwise that is an error and nothing is written).
#
# What it does:
#   1. downloads https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz (84,125,825
#      bytes) with curl or wget and checks its sha256 (the value public loaders pin);
#   2. reads aclImdb/{train,test}/{neg,pos}/<id>_<rating>.txt straight from the archive
#      (the unsup reviews, urls and vocabulary are skipped), checking 12,500 files per
#      folder with ids 0..12499, ratings 1-4 (neg) / 7-10 (pos) and valid UTF-8;
#   3. cleans each text exactly as the shared files were: every "<br />" becomes one space,
#      then every TAB, CR and LF becomes one space (nothing else: no stripping, no case or
#      Unicode changes, the C1 control characters stay);
#   4. writes header "label\ttext" and rows "label\ttext" sorted by (review id, label),
#      LF line ends, gzip level 9 with mtime 0 and OS byte 255, and checks the uncompressed
#      sha256 (the .gz bytes then match the team's files too when zlib is the same).
# Needs bash, curl or wget, sha256sum and python3 (standard library only).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
URL="https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
TAR_SHA256="c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"

TAR=""
if [ "${1:-}" = "--tar" ]; then
    [ $# -ge 2 ] || { echo "fetch_imdb.sh: --tar needs a file" >&2; exit 2; }
    TAR="$2"
    shift 2
fi
case "${1:-}" in -h|--help) sed -n '2,31p' "$0"; exit 0 ;; esac
OUT="${1:-$ROOT/data/imdb}"
if [ -z "${1:-}" ] && [ -L "$OUT" ]; then
    echo "fetch_imdb.sh: $OUT is a link to $(readlink "$OUT"), which is not overwritten;" \
         "remove the link to download into data/imdb, or give OUTDIR" >&2
    exit 1
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
if [ -z "$TAR" ]; then
    TAR="$TMP/aclImdb_v1.tar.gz"
    echo "fetch_imdb.sh: downloading $URL"
    if command -v curl >/dev/null; then
        curl -fL --retry 3 -o "$TAR" "$URL"
    elif command -v wget >/dev/null; then
        wget -O "$TAR" "$URL"
    else
        echo "fetch_imdb.sh: needs curl or wget" >&2
        exit 1
    fi
    echo "$TAR_SHA256  $TAR" | sha256sum -c - >/dev/null || {
        echo "fetch_imdb.sh: $URL: sha256 differs from $TAR_SHA256" >&2
        exit 1
    }
fi
mkdir -p "$OUT"

python3 - "$TAR" "$OUT" <<'PY'
import gzip, hashlib, os, re, sys, tarfile

tar_path, out = sys.argv[1], sys.argv[2]
allow = os.environ.get("IMDB_ALLOW_MISMATCH") == "1"
N = 12500
RATINGS = {"neg": range(1, 5), "pos": range(7, 11)}
WANT = {"train": "cfe91d138d64d26652c9a0ed1a4d1cedf37d03fa27d5f04d58b9067452a90947",
        "test": "c68c429efb2c0b8c807effb804344960e5dd4ff2a0e4f1bb2e803509f58063e6"}
NAME = re.compile(r"(?:\./)?aclImdb/(train|test)/(neg|pos)/([0-9]+)_([0-9]+)\.txt")
SPACE = str.maketrans({"\t": " ", "\r": " ", "\n": " "})

reviews = {"train": {}, "test": {}}  # split -> {(id, label): cleaned text}
with tarfile.open(tar_path, "r:gz") as tf:
    for m in tf:
        hit = NAME.fullmatch(m.name)
        if not hit or not m.isfile():
            continue
        split, folder, rid, rating = hit.group(1), hit.group(2), int(hit.group(3)), int(hit.group(4))
        if rating not in RATINGS[folder] or rid >= N:
            sys.exit("%s: id or rating out of range" % m.name)
        key = (rid, 0 if folder == "neg" else 1)
        if key in reviews[split]:
            sys.exit("%s: duplicate review id" % m.name)
        try:
            text = tf.extractfile(m).read().decode("utf-8")
        except UnicodeDecodeError as err:
            sys.exit("%s: not valid UTF-8 (%s)" % (m.name, err))
        reviews[split][key] = text.replace("<br />", " ").translate(SPACE)

bad = False
for split in ("train", "test"):
    got = reviews[split]
    if sorted(got) != [(i, l) for i in range(N) for l in (0, 1)]:
        sys.exit("%s: expected ids 0..%d in neg and pos, found %d reviews" % (split, N - 1, len(got)))
    tsv = b"label\ttext\n" + b"".join(b"%d\t%s\n" % (l, got[(i, l)].encode("utf-8"))
                                      for i in range(N) for l in (0, 1))
    sha = hashlib.sha256(tsv).hexdigest()
    ok = sha == WANT[split]
    print("%s: 25000 rows (12500 neg / 12500 pos), %d bytes, sha256 %s %s"
          % (split, len(tsv), sha, "(matches the shared files)" if ok else "(DIFFERS from " + WANT[split] + ")"))
    if not ok and not allow:
        bad = True
        continue
    path = os.path.join(out, split + ".tsv.gz")
    gz = gzip.compress(tsv, compresslevel=9, mtime=0)
    gz = gz[:9] + b"\xff" + gz[10:]  # OS byte 255 (unknown), as in the shared files' header
    with open(path + ".tmp", "wb") as f:
        f.write(gz)
    os.replace(path + ".tmp", path)
    print("  wrote %s" % path)
if bad:
    sys.exit("fetch_imdb.sh: sha256 mismatch, nothing written for that split "
             "(IMDB_ALLOW_MISMATCH=1 writes it anyway)")
PY
