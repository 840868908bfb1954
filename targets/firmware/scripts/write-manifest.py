#!/usr/bin/env python3
"""(Re)writes one board's entry in firmware_images/manifest.json.

The manifest is a JSON object keyed by board name; other boards' entries are
kept as they are.
"""
import argparse
import datetime
import hashlib
import json
import os
import re
import subprocess


def lwip_version(lwip_dir: str) -> str:
    text = open(os.path.join(lwip_dir, "src/include/lwip/init.h")).read()
    parts = [re.search(rf"#define LWIP_VERSION_{k}\s+(\d+)", text).group(1)
             for k in ("MAJOR", "MINOR", "REVISION")]
    return ".".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser()
    for opt in ("manifest", "board", "cpu", "elf", "repo", "cc", "size", "lwip-dir"):
        ap.add_argument(f"--{opt}", required=True)
    a = ap.parse_args()

    sha = hashlib.sha256(open(a.elf, "rb").read()).hexdigest()
    # `size` Berkeley output: text data bss dec hex filename
    text, data, bss = (int(x) for x in
                       subprocess.check_output([a.size, a.elf], text=True).splitlines()[1].split()[:3])
    cc_version = subprocess.check_output([a.cc, "--version"], text=True).splitlines()[0]

    manifest = {}
    if os.path.exists(a.manifest):
        try:
            manifest = json.load(open(a.manifest))
        except ValueError:
            manifest = {}
    manifest[a.board] = {
        "target": a.board,
        "cpu": a.cpu,
        "path": os.path.relpath(a.elf, a.repo),
        "sha256": sha,
        "compiler": cc_version,
        "lwip": lwip_version(a.lwip_dir),
        "text": text,
        "data": data,
        "bss": bss,
        "built": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    tmp = a.manifest + ".tmp"
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, a.manifest)


if __name__ == "__main__":
    main()
