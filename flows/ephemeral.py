"""Prefect's ephemeral API server dies with the command that started it, even a SIGKILLed one.

With no ``PREFECT_API_URL`` (the embedded default) Prefect 3 starts a uvicorn child process on first use
(``prefect.server.api.server.SubprocessASGIServer``) and stops it from an ``atexit`` hook. A command killed with
SIGKILL (an operator's ``kill -9``, the OOM killer, a kill test) runs no hook, and the server went on running,
holding a port and the Prefect database, one more after every such kill.

:func:`install` makes that child ask Linux for ``PR_SET_PDEATHSIG``: the kernel sends it SIGKILL when its parent
dies, whatever the way. Linux ties that signal to the *thread* that forked the child, and Prefect may start the
server from a short-lived thread (a flow run in a worker thread, the events worker), so the fork is done on one
daemon thread here that lives as long as the process. SIGKILL, not SIGTERM: the command is gone, nobody talks to
the server any more, and a graceful shutdown that hangs would leak it again; Prefect's SQLite database survives a
kill (its journal), and a normal exit still stops the server gracefully through Prefect's own hook.

Prefect's server module takes seconds to import, so it is patched when something imports it (an import hook),
not eagerly. Elsewhere than Linux :func:`install` does nothing.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import importlib.abc
import importlib.machinery
import os
import queue
import signal
import subprocess
import sys
import threading
import types
from collections.abc import Callable, Sequence
from typing import Any

SERVER_MODULE = "prefect.server.api.server"
_PR_SET_PDEATHSIG = 1
_PATCHED = "_dangan_dies_with_parent"
_install_lock = threading.Lock()


def install() -> bool:
    """Make every ephemeral Prefect API server this process starts die with it; safe to call again.

    Returns True when the guard is in place (Linux), False where it is not available.
    """
    if not sys.platform.startswith("linux"):
        return False
    with _install_lock:
        module = sys.modules.get(SERVER_MODULE)
        if module is not None:
            _patch(module)
        elif not any(isinstance(f, _ServerModuleFinder) for f in sys.meta_path):
            sys.meta_path.insert(0, _ServerModuleFinder())
    return True


def _patch(module: types.ModuleType) -> None:
    """Route the server's ``subprocess.Popen`` through :class:`_DiesWithParentPopen`, forked on the spawner."""
    server_cls = module.SubprocessASGIServer
    if getattr(server_cls, _PATCHED, False):
        return
    shim = types.ModuleType("subprocess")  # the module's own name for it; only this module sees the shim
    shim.__dict__.update(subprocess.__dict__)
    shim.Popen = _DiesWithParentPopen  # type: ignore[attr-defined]
    module.subprocess = shim  # type: ignore[attr-defined]
    original: Callable[[Any], Any] = server_cls._run_uvicorn_command

    def _run_uvicorn_command(self: Any) -> Any:
        return _spawner().call(lambda: original(self))

    _run_uvicorn_command.__doc__ = original.__doc__
    server_cls._run_uvicorn_command = _run_uvicorn_command
    setattr(server_cls, _PATCHED, True)


class _DiesWithParentPopen(subprocess.Popen):
    """``Popen`` whose child gets SIGKILL when the forking thread's process dies (PR_SET_PDEATHSIG)."""

    def __init__(self, args: str | Sequence[Any], *rest: Any, **kwargs: Any) -> None:
        kwargs["preexec_fn"] = _death_signal_hook(kwargs.get("preexec_fn"))
        super().__init__(args, *rest, **kwargs)


def _death_signal_hook(then: Callable[[], Any] | None) -> Callable[[], None]:
    """The child-side hook (runs between fork and exec): ask for SIGKILL on the parent's death."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved here: no dlopen between fork and exec
    parent = os.getpid()

    def hook() -> None:
        if prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            os._exit(126)  # no guard, no server: Prefect reports the failed start rather than leak one
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(126)
        if then is not None:
            then()

    return hook


class _Spawner:
    """One daemon thread that runs the server starts: PR_SET_PDEATHSIG fires when the forking thread ends."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]] = queue.SimpleQueue()
        threading.Thread(target=self._loop, name="dangan-ephemeral-spawner", daemon=True).start()

    def _loop(self) -> None:
        while True:
            fn, future = self._jobs.get()
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed back to the caller, which re-raises it
                future.set_exception(exc)

    def call(self, fn: Callable[[], Any]) -> Any:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._jobs.put((fn, future))
        return future.result()


_spawner_instance: _Spawner | None = None


def _spawner() -> _Spawner:
    global _spawner_instance  # one per process, started on first use (not at import)
    with _install_lock:
        if _spawner_instance is None:
            _spawner_instance = _Spawner()
        return _spawner_instance


class _ServerModuleFinder(importlib.abc.MetaPathFinder):
    """Patches Prefect's server module right after it is first executed."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != SERVER_MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        execute = loader.exec_module

        def exec_module(module: types.ModuleType) -> None:
            execute(module)
            _patch(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec
