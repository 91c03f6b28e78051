"""Running sandboxed scripts in a child process under OS resource limits (CPU time, memory, result size).

RestrictedPython limits what a script may name, not what it costs: `while True: pass`, `10**10**8` or
`[0]*10**9` would hold a step (and its database lock) forever, and the last two are single C calls no Python-level
guard interrupts. So scripts run in a long-lived child process (`python -m engine.script_runner`, started lazily,
one per parent process and thread at a time) that arms, per script:

* `RLIMIT_AS` (memory): an allocation beyond it raises MemoryError in the child;
* an `ITIMER_PROF` CPU timer (a Python-level loop is interrupted exactly) and `RLIMIT_CPU` just above it (a long C
  call is killed by the kernel with SIGXCPU); the parent also stops waiting after a wall-clock timeout and kills it;
* a cap on the JSON size of what the script leaves behind.

The parent sends (mode, source, task data, external context, function names) as a length-prefixed JSON frame on the
child's stdin and reads frames from its stdout. Whitelisted functions are stubs in the child that call back to the
parent over the same pipe, so they run in the parent's step (database session, instance); nothing of the domain
runs in the child. A killed child is replaced by a new one on the next script. The child exits when its stdin
closes, i.e. when the parent exits.
"""
from __future__ import annotations

import atexit
import json
import math
import os
import resource
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from .errors import ScriptError

_HEADER = struct.Struct(">I")
# How long a fresh child may take to import the sandbox and say hello.
_START_TIMEOUT = 30.0
# Idle children kept per parent process (one per thread that ran scripts at the same time).
_MAX_IDLE = 4


@dataclass(frozen=True)
class ScriptLimits:
    """What one script or condition may use: CPU seconds, memory of the runner process (MB), result size (KB)."""

    cpu_seconds: float = 2.0
    memory_mb: int = 256
    output_kb: int = 1024

    @property
    def wall_seconds(self) -> float:
        """How long the parent waits for the child before killing it (CPU limits normally end it long before)."""
        return 2 * self.cpu_seconds + 1.0


class ScriptLimitExceeded(ScriptError):
    """A script hit one of its limits and was stopped; `kind` is cpu, memory or output."""

    def __init__(self, kind: str, limits: ScriptLimits):
        messages = {
            "cpu": f"脚本运行超过 {limits.cpu_seconds:g} 秒 CPU 时间限制，已中止",
            "memory": f"脚本超出内存限制（{limits.memory_mb} MB），已中止",
            "output": f"脚本结果过大（超过 {limits.output_kb} KB），已中止",
        }
        super().__init__(messages[kind])
        self.kind = kind


class ScriptRaised(Exception):
    """An exception a script raised in the runner, by type name, message and script line (0 if unknown)."""

    def __init__(self, type_name: str, message: str, line_number: int = 0):
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name = type_name
        self.message = message
        self.line_number = line_number


class RunnerFailed(ScriptError):
    """The runner process died or broke the protocol for a reason other than a limit."""


# -- the parent's side ------------------------------------------------------------------------------------------------

def _frame(message: Any) -> bytes:
    body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
    return _HEADER.pack(len(body)) + body


class _Runner:
    """One child process and its pipes; used by one thread at a time (the pool hands it out)."""

    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parents[1])
        # Only what Python needs to start: the runner never sees the parent's secrets (SECRET_KEY, DATABASE_URL…).
        env = {name: os.environ[name] for name in ("PATH", "LANG", "LC_ALL", "TZ") if name in os.environ}
        parent_path = os.environ.get("PYTHONPATH")
        env["PYTHONPATH"] = root + (os.pathsep + parent_path if parent_path else "")
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "engine.script_runner"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=root, close_fds=True, bufsize=0,
            )
        except OSError as exc:
            raise RunnerFailed(f"脚本运行器无法启动：{exc}") from exc
        assert self.process.stdin is not None and self.process.stdout is not None
        self._in: BinaryIO = self.process.stdin  # type: ignore[assignment]
        self._out_fd = self.process.stdout.fileno()
        self.killed = False
        self._buffer = bytearray()
        hello = self._read(_START_TIMEOUT, limit=1 << 16)
        if hello != {"ready": True}:
            self.kill()
            raise RunnerFailed("脚本运行器无法启动")

    @property
    def alive(self) -> bool:
        return not self.killed and self.process.poll() is None

    def run(self, request: bytes, functions: Mapping[str, Callable[..., Any]], limits: ScriptLimits) -> dict:
        """Send one script, answer its function calls, return its final message (or raise)."""
        failures: dict[int, BaseException] = {}
        # One deadline for the whole script, function calls answered here included: the child's CPU limit does not
        # see time spent in the parent, so a script looping over calls would otherwise have no bound.
        deadline = time.monotonic() + limits.wall_seconds
        try:
            self._write(request)
            while True:
                remaining = deadline - time.monotonic()
                message = self._read(remaining, limit=limits.output_kb * 1024 + 4096) if remaining > 0 else None
                if message is None:
                    if not self.killed and remaining <= 0:
                        self.kill()
                    raise self._died(limits)
                if "call" not in message:
                    break
                self._write(self._answer(message, functions, failures))
        except BaseException:
            self.kill()
            raise
        if message.get("function_failed") is not None:
            original = failures.get(message["function_failed"])
            if original is not None:
                try:
                    original.script_line_number = int(message.get("line") or 0)  # type: ignore[attr-defined]
                except AttributeError:  # pragma: no cover - exceptions without a __dict__
                    pass
                raise original
        return message

    @staticmethod
    def _answer(message: dict, functions: Mapping[str, Callable[..., Any]], failures: dict[int, BaseException]) -> dict:
        name = message["call"]
        function = functions.get(name)
        try:
            if function is None:
                raise NameError(f"name {name!r} is not defined")
            value = function(*message.get("args", []), **message.get("kwargs", {}))
            json.dumps(value)  # the answer must be JSON; say so here rather than as a broken frame
        except Exception as exc:  # noqa: BLE001 - any failure of a function is the script's failure
            failures[message["seq"]] = exc
            return {"error": f"{exc.__class__.__name__}: {exc}", "seq": message["seq"]}
        return {"value": value}

    def _died(self, limits: ScriptLimits) -> ScriptError:
        if self.killed:  # the parent's wall-clock timeout
            return ScriptLimitExceeded("cpu", limits)
        self.kill()
        code = self.process.returncode
        if code in (-signal.SIGXCPU, -signal.SIGPROF):
            return ScriptLimitExceeded("cpu", limits)
        if code in (-signal.SIGKILL, -signal.SIGSEGV, -signal.SIGABRT, 70):
            # The OOM killer, or an allocation failing where CPython cannot raise MemoryError.
            return ScriptLimitExceeded("memory", limits)
        return RunnerFailed(f"脚本运行器意外退出（{code}）")

    def _write(self, message: Any) -> None:
        try:
            self._in.write(message if isinstance(message, bytes) else _frame(message))
        except (BrokenPipeError, OSError) as exc:
            raise RunnerFailed("脚本运行器已退出") from exc

    def _read_exact(self, size: int, deadline: float) -> bytes | None:
        # Reads whatever the child has written (usually a whole frame) and keeps the rest for the next call.
        while len(self._buffer) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                return None
            ready, _, _ = select.select([self._out_fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self._out_fd, max(size - len(self._buffer), 1 << 16))
            if not chunk:
                return None
            self._buffer += chunk
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def _read(self, timeout: float, *, limit: int) -> Any:
        """The next message, None when the child is gone or timed out (then it is killed)."""
        deadline = time.monotonic() + timeout
        header = self._read_exact(_HEADER.size, deadline)
        if header is None:
            return None
        (size,) = _HEADER.unpack(header)
        if size > limit:
            self.kill()
            return {"limit": "output"}
        body = self._read_exact(size, deadline)
        if body is None:
            return None
        return json.loads(body)

    def kill(self) -> None:
        self.killed = True
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._close_pipes()

    def close(self, timeout: float = 2.0) -> None:
        """Let the child exit on end of input; kill it if it does not."""
        self._close_pipes()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _close_pipes(self) -> None:
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:  # pragma: no cover
                    pass


class _Pool:
    """Idle runners of this process. A runner serves one thread at a time; a forked child starts its own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Runner] = []
        self._pid = os.getpid()

    def acquire(self) -> _Runner:
        with self._lock:
            if self._pid != os.getpid():
                # Inherited through fork: those pipes belong to the parent process's runners. Forget, never kill.
                self._idle, self._pid = [], os.getpid()
            while self._idle:
                runner = self._idle.pop()
                if runner.alive:
                    return runner
        return _Runner()

    def release(self, runner: _Runner) -> None:
        if not runner.alive or os.getpid() != self._pid:
            return
        with self._lock:
            if len(self._idle) < _MAX_IDLE:
                self._idle.append(runner)
                return
        runner.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            mine = self._pid == os.getpid()
        for runner in idle:
            if mine:
                runner.close()


_pool = _Pool()
atexit.register(_pool.close)


def run_script(mode: str, source: str, data: Mapping[str, Any], external: Mapping[str, Any] | None,
               functions: Mapping[str, Callable[..., Any]], limits: ScriptLimits) -> dict:
    """Run `source` in a runner: {'value': …} for eval, {'data': …} for exec; limits and errors raise."""
    request = {
        "mode": mode, "source": source, "data": data, "external": dict(external or {}),
        "functions": sorted(functions), "cpu": limits.cpu_seconds, "memory_mb": limits.memory_mb,
        "output_kb": limits.output_kb,
    }
    try:
        frame = _frame(request)
    except (TypeError, ValueError) as exc:
        raise ScriptError(f"任务数据不是 JSON 数据，脚本无法运行：{exc}") from exc
    runner = _pool.acquire()
    try:
        result = runner.run(frame, functions, limits)
    finally:
        _pool.release(runner)
    if "limit" in result:
        raise ScriptLimitExceeded(result["limit"], limits)
    if "error" in result:
        error = result["error"]
        raise ScriptRaised(error["type"], error["message"], int(error.get("line") or 0))
    return result


def shutdown() -> None:
    """Stop this process's idle runners (tests; also run at exit)."""
    _pool.close()


# -- the child's side -------------------------------------------------------------------------------------------------

class _CpuExceeded(BaseException):
    """Raised into the script by the CPU timer; a BaseException so `except Exception` in a script lets it pass."""


class ScriptFunctionError(Exception):
    """A whitelisted function failed in the parent; raised into the script at the call."""

    def __init__(self, message: str, seq: int):
        super().__init__(message)
        self.seq = seq


class _Child:
    def __init__(self, stdin: BinaryIO, stdout: BinaryIO):
        from . import scripting  # the child compiles with the very same policy, guards and builtins

        self.scripting = scripting
        self.stdin = stdin
        self.stdout = stdout
        self.cpu_exceeded = False
        self.seq = 0
        self.hard_as = resource.getrlimit(resource.RLIMIT_AS)[1]
        self.hard_cpu = resource.getrlimit(resource.RLIMIT_CPU)[1]

    def send(self, message: Any) -> None:
        self.stdout.write(_frame(message))
        self.stdout.flush()

    def receive(self) -> Any:
        header = self.stdin.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return None
        (size,) = _HEADER.unpack(header)
        body = self.stdin.read(size)
        if len(body) < size:
            return None
        return json.loads(body)

    def on_cpu_timer(self, signum: int, frame: Any) -> None:
        self.cpu_exceeded = True
        raise _CpuExceeded()

    def stub(self, name: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.seq += 1
            frame = _frame({"call": name, "args": list(args), "kwargs": kwargs, "seq": self.seq})
            # The CPU timer must not interrupt the exchange halfway: it fires after it instead.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGPROF})
            try:
                self.stdout.write(frame)
                self.stdout.flush()
                reply = self.receive()
            except BaseException:
                os._exit(70)  # the protocol is broken (e.g. memory ran out mid-answer): the parent restarts us
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGPROF})
            if reply is None:
                os._exit(0)
            if "error" in reply:
                raise ScriptFunctionError(reply["error"], reply["seq"])
            return reply["value"]

        call.__name__ = name
        return call

    def arm(self, request: dict) -> None:
        memory = int(request["memory_mb"]) * 1024 * 1024
        if self.hard_as != resource.RLIM_INFINITY:
            memory = min(memory, self.hard_as)
        resource.setrlimit(resource.RLIMIT_AS, (memory, self.hard_as))
        cpu = float(request["cpu"])
        usage = resource.getrusage(resource.RUSAGE_SELF)
        # RLIMIT_CPU counts whole seconds; the timer below stops Python code at the exact limit.
        soft = math.ceil(usage.ru_utime + usage.ru_stime + cpu)
        if self.hard_cpu != resource.RLIM_INFINITY:
            soft = min(soft, self.hard_cpu)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, self.hard_cpu))
        self.cpu_exceeded = False
        signal.setitimer(signal.ITIMER_PROF, cpu)

    def disarm(self) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0)
        resource.setrlimit(resource.RLIMIT_CPU, (self.hard_cpu, self.hard_cpu))

    def handle(self, request: dict) -> dict | bytes:
        """The answer to one script: an encoded result, or a message saying which limit or error stopped it."""
        scripting = self.scripting
        functions = {name: self.stub(name) for name in request["functions"]}
        environment = scripting.RestrictedEnvironment(functions)
        source, mode = request["source"], request["mode"]
        try:
            self.arm(request)
            try:
                if mode == "eval":
                    answer = {"value": environment.evaluate(source, request["data"], request["external"])}
                else:
                    data = request["data"]
                    environment.execute(source, data, request["external"])
                    answer = {"data": data}
            finally:
                self.disarm()
        except _CpuExceeded:
            return {"limit": "cpu"}
        except MemoryError:
            return {"limit": "memory"}
        except ScriptFunctionError as exc:
            return {"function_failed": exc.seq, "line": scripting._locate(source, exc)[0]}
        except Exception as exc:  # noqa: BLE001 - every failure of a script is reported, the runner goes on
            return self.error(source, exc)
        if self.cpu_exceeded:  # the script caught the interruption and finished anyway
            return {"limit": "cpu"}
        try:
            body = json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()
        except (TypeError, ValueError) as exc:
            return {"error": {"type": exc.__class__.__name__, "message": f"脚本结果不是 JSON 数据：{exc}"}}
        if len(body) > int(request["output_kb"]) * 1024:
            return {"limit": "output"}
        return body

    def error(self, source: str, exc: Exception) -> dict:
        line, _ = self.scripting._locate(source, exc)
        if isinstance(exc, self.scripting.SandboxViolation):
            return {"error": {"type": "SandboxViolation", "message": str(exc), "line": line}}
        return {"error": {"type": exc.__class__.__name__, "message": str(exc)[:2000], "line": line}}

    def serve(self) -> None:
        self.send({"ready": True})
        while True:
            request = self.receive()
            if request is None:
                return
            try:
                answer = self.handle(request)
            except MemoryError:
                answer = {"limit": "memory"}
            except _CpuExceeded:
                answer = {"limit": "cpu"}
            try:
                if isinstance(answer, bytes):
                    self.stdout.write(_HEADER.pack(len(answer)) + answer)
                    self.stdout.flush()
                else:
                    self.send(answer)
            except MemoryError:
                self.send({"limit": "memory"})


def _child_main() -> None:
    # The protocol owns the real stdout; anything printed by mistake goes to stderr instead.
    stdout = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGXCPU would otherwise dump a core
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent; we leave when it closes our stdin
    child = _Child(sys.stdin.buffer, stdout)
    signal.signal(signal.SIGPROF, child.on_cpu_timer)
    child.serve()

if __name__ == "__main__":
    _child_main()
