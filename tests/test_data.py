"""lnutils.data: IDX parsing, every error it promises, and downloads from a loopback server."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from helpers import (
    dead_pid,
)

from lnutils import data, datafiles
from lnutils.data import DataError, load_dataset, parse_idx

FILENAMES = {key: name for key, (name, _) in data.SPECS["mnist"]["files"].items()}


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    return header + array.astype(np.uint8).tobytes()


def make_tiny_mnist(n_train=6, n_test=4, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "train_images": rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, size=n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, size=n_test, dtype=np.uint8),
    }


def write_files(folder: Path, arrays: dict, gz: bool = True) -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    raw = {}
    for key, array in arrays.items():
        content = idx_bytes(array)
        raw[key] = content
        name = FILENAMES[key] + (".gz" if gz else "")
        (folder / name).write_bytes(gzip.compress(content) if gz else content)
    return raw


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No $LNUTILS_DATA, a private cache, and a canonical-checksum table for our tiny files."""
    monkeypatch.delenv("LNUTILS_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "search_dirs", _search_dirs_without_system(data.search_dirs))
    return tmp_path


def _search_dirs_without_system(original):
    def search_dirs(name, root=None):
        return [d for d in original(name, root) if not str(d).startswith("/usr/share")]

    return search_dirs


def set_canonical(monkeypatch, raw: dict[str, bytes]):
    files = {key: (FILENAMES[key], hashlib.md5(content).hexdigest()) for key, content in raw.items()}
    spec = dict(data.SPECS["mnist"], files=files)
    monkeypatch.setitem(data.SPECS, "mnist", spec)


# ----------------------------------------------------------------------------- parsing


def test_parse_roundtrip_gz_and_plain(isolated, monkeypatch):
    arrays = make_tiny_mnist()
    raw = write_files(isolated / "gz", arrays, gz=True)
    write_files(isolated / "plain", arrays, gz=False)
    set_canonical(monkeypatch, raw)
    for folder in ("gz", "plain"):
        loaded = load_dataset("mnist", isolated / folder, download=False)
        np.testing.assert_array_equal(loaded.train_images, arrays["train_images"])
        np.testing.assert_array_equal(loaded.test_labels, arrays["test_labels"])
        assert loaded.train_labels.dtype == np.int64 and loaded.train_images.dtype == np.uint8
        assert loaded.provenance.all_canonical
        assert all(str(isolated / folder) in r.path for r in loaded.provenance.records)
        assert "all four files match" in loaded.provenance.summary


def test_non_canonical_file_is_used_with_visible_warning(isolated, monkeypatch):
    arrays = make_tiny_mnist()
    raw = write_files(isolated / "d", arrays)
    raw = dict(raw, train_images=b"something else")  # canonical md5 now differs for one file
    set_canonical(monkeypatch, raw)
    with pytest.warns(UserWarning, match="not the canonical file"):
        loaded = load_dataset("mnist", isolated / "d", download=False)
    assert not loaded.provenance.all_canonical
    assert "NOT the canonical bytes for train_images" in loaded.provenance.summary
    assert "NO (differs)" in loaded.provenance._repr_markdown_()
    assert loaded.provenance.to_dict()["files"][0]["matches_canonical"] is False


def test_wrong_magic(tmp_path):
    bad = bytes([0, 0, 0x09, 3]) + b"\0" * 12
    with pytest.raises(DataError, match="wrong magic number 0x00000903"):
        parse_idx(bad, "bad-file")


def test_images_and_labels_swapped(tmp_path):
    with pytest.raises(DataError, match="has 1 dimensions, expected 3"):
        parse_idx(idx_bytes(np.zeros(5, np.uint8)), "labels-as-images", expected_ndim=3)


def test_truncated_payload():
    content = idx_bytes(np.zeros((3, 28, 28), np.uint8))[:-10]
    with pytest.raises(DataError, match="truncated"):
        parse_idx(content, "short-file")


def test_truncated_gzip_names_the_file(isolated, monkeypatch):
    arrays = make_tiny_mnist()
    raw = write_files(isolated / "d", arrays)
    set_canonical(monkeypatch, raw)
    path = isolated / "d" / (FILENAMES["test_images"] + ".gz")
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz: the gzip stream is truncated"):
        load_dataset("mnist", isolated / "d", download=False)


def test_count_mismatch(isolated, monkeypatch):
    arrays = make_tiny_mnist()
    arrays["train_labels"] = arrays["train_labels"][:-1]
    raw = write_files(isolated / "d", arrays)
    set_canonical(monkeypatch, raw)
    with pytest.raises(DataError, match="6 images but 5 labels"):
        load_dataset("mnist", isolated / "d", download=False)


def test_missing_everywhere_lists_places_and_how_to_fix(isolated, monkeypatch):
    monkeypatch.setenv("LNUTILS_DATA", str(isolated / "data-root"))
    with pytest.raises(DataError) as error:
        load_dataset("mnist", isolated / "nowhere", download=False)
    message = str(error.value)
    assert str(isolated / "nowhere") in message
    assert str(isolated / "data-root" / "mnist") in message
    assert str(isolated / "cache" / "lnutils" / "mnist") in message
    assert "LNUTILS_DATA" in message and "download=True" in message


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        load_dataset("cifar")


def test_search_order_root_then_env_then_cache(isolated, monkeypatch):
    arrays = make_tiny_mnist()
    raw = write_files(isolated / "env" / "mnist", arrays)
    set_canonical(monkeypatch, raw)
    monkeypatch.setenv("LNUTILS_DATA", str(isolated / "env"))
    loaded = load_dataset("mnist", download=False)
    assert all(r.path.startswith(str(isolated / "env" / "mnist")) for r in loaded.provenance.records)
    write_files(isolated / "root", arrays)
    loaded = load_dataset("mnist", isolated / "root", download=False)
    assert all(r.path.startswith(str(isolated / "root")) for r in loaded.provenance.records)


# ----------------------------------------------------------------------------- downloads


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    mode = "ok"

    def do_GET(self):  # noqa: N802
        name = self.path.rsplit("/", 1)[-1]
        if name not in self.files:
            self.send_error(404)
            return
        body = self.files[name]
        if self.mode == "corrupt":  # a well-formed transfer of the wrong bytes
            body = gzip.compress(b"\0\0\x08\x01" + b"\0\0\0\x02" + b"\x01\x02")
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.mode == "interrupt":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    handler = type("Handler", (_Handler,), {"files": {}, "mode": "ok"})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def serve_tiny(handler, monkeypatch):
    arrays = make_tiny_mnist()
    raw = {key: idx_bytes(array) for key, array in arrays.items()}
    handler.files = {FILENAMES[key] + ".gz": gzip.compress(content) for key, content in raw.items()}
    set_canonical(monkeypatch, raw)
    return arrays


def cache_files(isolated) -> list[str]:
    folder = isolated / "cache" / "lnutils" / "mnist"
    return sorted(os.listdir(folder)) if folder.exists() else []


def test_download_from_loopback_mirror(isolated, monkeypatch, server):
    handler, url = server
    arrays = serve_tiny(handler, monkeypatch)
    loaded = load_dataset("mnist", download=True, mirrors=[url], progress=False)
    np.testing.assert_array_equal(loaded.train_images, arrays["train_images"])
    assert all(r.downloaded and r.matches for r in loaded.provenance.records)
    assert cache_files(isolated) == sorted(FILENAMES[k] + ".gz" for k in FILENAMES)
    # the second call finds the cached copy and downloads nothing
    handler.files = {}
    again = load_dataset("mnist", download=True, mirrors=[url], progress=False)
    assert not any(r.downloaded for r in again.provenance.records)


def test_first_mirror_down_second_used(isolated, monkeypatch, server):
    handler, url = server
    serve_tiny(handler, monkeypatch)
    loaded = load_dataset("mnist", mirrors=["http://127.0.0.1:9/", url], progress=False, timeout=5)
    assert loaded.provenance.all_canonical


def test_corrupt_download_is_deleted_and_an_error(isolated, monkeypatch, server):
    handler, url = server
    serve_tiny(handler, monkeypatch)
    handler.mode = "corrupt"
    with pytest.raises(DataError, match="does not match the canonical checksum"):
        load_dataset("mnist", mirrors=[url], progress=False)
    assert cache_files(isolated) == []


def test_interrupted_download_leaves_no_partial_file(isolated, monkeypatch, server):
    handler, url = server
    serve_tiny(handler, monkeypatch)
    handler.mode = "interrupt"
    with pytest.raises(DataError, match="interrupted"):
        load_dataset("mnist", mirrors=[url], progress=False)
    assert cache_files(isolated) == []


def test_no_network_lists_attempts(isolated, monkeypatch):
    with pytest.raises(DataError) as error:
        load_dataset("mnist", mirrors=["http://127.0.0.1:9/"], progress=False, timeout=5)
    assert "Download attempts" in str(error.value) and "127.0.0.1:9" in str(error.value)
    assert cache_files(isolated) == []


# ----------------------------------------------------------------------------- the real copies


@pytest.mark.skipif(
    not Path(os.environ.get("LNUTILS_DATA", "/nonexistent"), "mnist").is_dir(), reason="offline MNIST not available"
)
def test_offline_mnist_copy_is_reported_honestly():
    with pytest.warns(UserWarning, match="train_images"):
        loaded = data.load_mnist(download=False)
    assert loaded.train_images.shape == (60000, 28, 28) and loaded.test_images.shape == (10000, 28, 28)
    matches = {r.key: r.matches for r in loaded.provenance.records}
    assert matches == {"train_images": False, "train_labels": True, "test_images": True, "test_labels": True}


# ----------------------------------------------------------------------------- the cache, hardened


def test_a_corrupt_file_in_the_cache_is_fetched_again(isolated, monkeypatch, server):
    handler, url = server
    arrays = serve_tiny(handler, monkeypatch)
    load_dataset("mnist", mirrors=[url], progress=False)
    cached = isolated / "cache" / "lnutils" / "mnist" / (FILENAMES["train_images"] + ".gz")
    cached.write_bytes(cached.read_bytes()[:20])  # truncated, as by a full disk
    with pytest.warns(UserWarning, match="corrupt"):
        loaded = load_dataset("mnist", mirrors=[url], progress=False)
    np.testing.assert_array_equal(loaded.train_images, arrays["train_images"])
    assert next(r for r in loaded.provenance.records if r.key == "train_images").downloaded


def test_a_read_only_cache_is_a_clear_error(isolated, monkeypatch, server):
    handler, url = server
    serve_tiny(handler, monkeypatch)
    monkeypatch.setattr(data, "cache_dir", lambda name: Path("/proc/lnutils-cannot-write") / name)
    with pytest.raises(DataError, match="cannot write to the download cache .* XDG_CACHE_HOME"):
        load_dataset("mnist", mirrors=[url], progress=False)


def test_a_bad_download_names_the_url_not_the_deleted_temporary_file(isolated, monkeypatch, server):
    handler, url = server
    serve_tiny(handler, monkeypatch)
    handler.files = {name: b"\x1f\x8b\x08\x00 not really gzip" for name in handler.files}
    with pytest.raises(DataError) as error:
        load_dataset("mnist", mirrors=[url], progress=False)
    assert ".part" not in str(error.value) and url in str(error.value)
    assert cache_files(isolated) == []


def test_a_readable_non_canonical_file_in_the_cache_is_kept(isolated, monkeypatch):
    """A copy someone put in the cache on purpose (like the book's rebuilt MNIST) is used and
    reported as non-canonical, not deleted and fetched again."""
    arrays = make_tiny_mnist()
    write_files(isolated / "cache" / "lnutils" / "mnist", arrays)
    with pytest.warns(UserWarning, match="not the canonical file"):
        loaded = load_dataset("mnist", mirrors=["http://127.0.0.1:9/"], progress=False, timeout=2)
    np.testing.assert_array_equal(loaded.train_images, arrays["train_images"])
    assert not any(r.downloaded for r in loaded.provenance.records)


def test_an_unreadable_cache_folder_is_skipped(tmp_path, monkeypatch):
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    monkeypatch.setattr(
        datafiles.Path, "is_file", lambda self: (_ for _ in ()).throw(PermissionError(13, "Permission denied"))
    )
    assert datafiles.find_file(blocked, "train-images-idx3-ubyte") is None


def test_a_killed_downloads_part_file_is_removed(tmp_path):
    orphan = tmp_path / f"train-images-idx3-ubyte.gz.{dead_pid()}.q1w2e3.part"
    orphan.write_bytes(b"partial")
    assert datafiles.remove_orphaned_temporaries(tmp_path / "train-images-idx3-ubyte.gz", ".part") == [orphan]


def test_an_idx_header_whose_sizes_overflow_is_a_clear_error():
    header = bytes([0, 0, 8, 3]) + (0xFFFFFFFF).to_bytes(4, "big") * 3
    with pytest.raises(data.DataError, match="truncated"):
        data.parse_idx(header + b"\x00" * 16, "huge.idx")
