"""A request that outlives gunicorn's worker timeout gets a JSON 503 on API paths, not gunicorn's HTML 500."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SLOW_APP = '''
import time

def app(environ, start_response):
    time.sleep(30)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"late"]
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def test_gunicorn__timeout_answers_json_on_api_paths(tmp_path):
    (tmp_path / "slow_app.py").write_text(SLOW_APP)
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{ROOT}")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "python:web.gunicorn_conf", "--timeout", "1", "--workers",
         "1", "--bind", f"127.0.0.1:{port}", "slow_app:app"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        status, headers, body = _get(f"http://127.0.0.1:{port}/api/v1/tasks")
        assert status == 503
        assert headers["Content-Type"].startswith("application/json")
        assert json.loads(body) == {"error": {"code": "timeout", "message": "请求处理超时，请稍后重试"}}
        status, headers, body = _get(f"http://127.0.0.1:{port}/inbox")
        assert status == 503 and headers["Content-Type"].startswith("text/html")
        assert "请求处理超时" in body.decode()
    finally:
        server.terminate()
        server.wait(timeout=15)
