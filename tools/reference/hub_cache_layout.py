"""The cache layout huggingface_hub writes, downloading from flux4j's test Hub (FakeHub).

Starts the Java FakeHub (test sources of flux-pipeline, compiled first), points huggingface_hub at
it with HF_ENDPOINT, runs the same downloads as HubCacheLayoutTest, and writes the resulting hub
folder's layout (relative paths, symbolic link targets, file sizes and sha256) to
flux-pipeline/src/test/resources/hub/reference-layout.txt, which the Java test compares with the
layout flux4j writes.

    mvn -q -o -pl flux-pipeline -am test-compile
    /tmp/ref/bin/python tools/reference/hub_cache_layout.py
"""

import hashlib
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "flux-pipeline/src/test/resources/hub/reference-layout.txt"

# Must match HubCacheLayoutTest.
PIPE = "flux4j-test/tiny-pipe"
GGUF = "flux4j-test/tiny-gguf"
PIPE_PATTERNS = ["model_index.json", "scheduler/*", "text_encoder/*", "tokenizer/*"]
V1_PATTERNS = ["model_index.json", "text_encoder/*"]


def layout(hub: pathlib.Path) -> list[str]:
    lines = []
    for dirpath, dirnames, filenames in os.walk(hub):
        for name in sorted(dirnames + filenames):
            p = pathlib.Path(dirpath) / name
            rel = p.relative_to(hub).as_posix()
            if p.is_symlink():
                lines.append(f"link {rel} -> {os.readlink(p)}")
            elif p.is_dir():
                lines.append(f"dir {rel}")
            else:
                data = p.read_bytes()
                lines.append(f"file {rel} size={len(data)} sha256={hashlib.sha256(data).hexdigest()}")
    return sorted(lines)


def main() -> None:
    classes = ROOT / "flux-pipeline/target/test-classes"
    if not (classes / "io/github/flux4j/pipeline/hub/FakeHub.class").exists():
        sys.exit("compile the test sources first: mvn -q -o -pl flux-pipeline -am test-compile")
    server = subprocess.Popen(["java", "-cp", str(classes), "io.github.flux4j.pipeline.hub.FakeHub"],
                              stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline().split()
        assert line[0] == "endpoint", line
        with tempfile.TemporaryDirectory() as home:
            os.environ["HF_ENDPOINT"] = line[1]
            os.environ["HF_HOME"] = home
            os.environ.pop("HF_HUB_CACHE", None)
            os.environ.pop("HF_TOKEN", None)
            os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
            # Imported only now: huggingface_hub reads the environment when imported.
            from huggingface_hub import hf_hub_download, snapshot_download
            import huggingface_hub

            snapshot_download(PIPE, revision="main", allow_patterns=PIPE_PATTERNS)
            hf_hub_download(GGUF, "model-Q8_0.gguf")
            snapshot_download(PIPE, revision="v1", allow_patterns=V1_PATTERNS)
            lines = layout(pathlib.Path(home) / "hub")
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(f"# huggingface_hub {huggingface_hub.__version__}: tools/reference/hub_cache_layout.py\n"
                       + "\n".join(lines) + "\n")
        print(f"wrote {OUT} ({len(lines)} entries)")
    finally:
        server.kill()


if __name__ == "__main__":
    main()
