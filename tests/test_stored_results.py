"""fcnlib.experiments.stored_result: a committed benchmark result from the checkout, else from the repository."""

import json
from http.server import BaseHTTPRequestHandler

from loopback import LoopbackServer, serving

from fcnlib import experiments


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        body = self.server.files.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args):
        pass


def test_a_committed_result_is_read_from_the_checkout(tmp_path, monkeypatch):
    (tmp_path / "demo.json").write_text(json.dumps({"seeds": [0, 1, 2]}))
    monkeypatch.setattr(experiments, "RESULTS", tmp_path)
    monkeypatch.setattr(experiments, "RESULTS_URL", "http://127.0.0.1:9/{name}.json")  # never asked
    assert experiments.stored_result("demo", cache=tmp_path / "cache") == {"seeds": [0, 1, 2]}


def test_without_a_checkout_the_result_is_downloaded_once_then_cached(tmp_path, monkeypatch):
    monkeypatch.delenv("FCNLIB_OFFLINE", raising=False)
    monkeypatch.setattr(experiments, "RESULTS", tmp_path / "no-checkout")
    srv = LoopbackServer(Handler)
    srv.files["/fcn-notebooks/fcn-notebooks/main/demo.json"] = b'{"miou": 0.5}'
    with serving(srv):
        monkeypatch.setattr(experiments, "RESULTS_URL", srv.url("/{repository}/{branch}/{name}.json"))
        assert experiments.stored_result("demo", cache=tmp_path / "cache") == {"miou": 0.5}
    assert (tmp_path / "cache" / "demo.json").is_file()  # the server is gone: the cached copy answers
    assert experiments.stored_result("demo", cache=tmp_path / "cache") == {"miou": 0.5}


def test_a_missing_or_unreachable_result_is_none_and_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.delenv("FCNLIB_OFFLINE", raising=False)
    monkeypatch.setattr(experiments, "RESULTS", tmp_path / "no-checkout")
    srv = LoopbackServer(Handler)
    with serving(srv):
        monkeypatch.setattr(experiments, "RESULTS_URL", srv.url("/{repository}/{branch}/{name}.json"))
        assert experiments.stored_result("missing", cache=tmp_path / "cache") is None  # 404
    assert experiments.stored_result("missing", cache=tmp_path / "cache") is None  # connection refused
    assert not list((tmp_path / "cache").glob("*"))


def test_offline_nothing_is_downloaded(tmp_path, monkeypatch):
    monkeypatch.setenv("FCNLIB_OFFLINE", "1")
    monkeypatch.setattr(experiments, "RESULTS", tmp_path / "no-checkout")
    monkeypatch.setattr(experiments, "RESULTS_URL", "http://127.0.0.1:9/{name}.json")
    assert experiments.stored_result("demo", cache=tmp_path / "cache") is None
