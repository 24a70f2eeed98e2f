"""The store of evidence files: the local folder and an S3-compatible object store (moto's
server, started on loopback by the test) behave alike."""

from __future__ import annotations

import hashlib
import urllib.request

import pytest

from tracker.storage import LocalStorage, S3Storage, StorageError


@pytest.fixture(scope="module")
def s3_endpoint():
    """An S3-compatible server on a free loopback port, for this module's tests."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def make_s3(endpoint: str, bucket: str = "tracker", presigned: int = 0) -> S3Storage:
    from tracker.storage import s3_client

    client = s3_client(
        {
            "S3_ENDPOINT_URL": endpoint,
            "S3_REGION": "cn-north-1",
            "S3_ACCESS_KEY": "test",
            "S3_SECRET_KEY": "test",
            "S3_PATH_STYLE": True,
        }
    )
    client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "cn-north-1"})
    return S3Storage(client, bucket, prefix="evidence/", presigned_seconds=presigned)


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path, s3_endpoint):
    if request.param == "local":
        return LocalStorage(tmp_path / "uploads")
    return make_s3(s3_endpoint, bucket=f"b{abs(hash(request.node.name)) % 10**8}")


def _file(tmp_path, data: bytes):
    path = tmp_path / "incoming.part"
    path.write_bytes(data)
    return path


def test_a_file_put_into_the_store_reads_back_whole_and_leaves_no_temporary(store, tmp_path):
    data = "整改报告".encode("utf-8") * 50_000
    temporary = _file(tmp_path, data)
    store.put_file("a3f9c2.pdf", temporary)
    assert not temporary.exists()
    with store.open("a3f9c2.pdf") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == hashlib.sha256(data).hexdigest()
    assert store.size("a3f9c2.pdf") == len(data)
    assert list(store.names()) == ["a3f9c2.pdf"]


def test_a_missing_file_is_none_or_a_storage_error(store):
    assert store.size("nothere") is None
    with pytest.raises(StorageError):
        store.open("nothere")


def test_deleting_removes_the_file(store, tmp_path):
    store.put_file("b1", _file(tmp_path, b"x"))
    store.delete("b1")
    assert store.size("b1") is None and list(store.names()) == []


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b", "", ".hidden", "x" * 300])
def test_stored_names_are_never_paths(store, name):
    with pytest.raises(ValueError):
        store.size(name)


def test_a_presigned_address_serves_the_object_for_a_short_while(s3_endpoint, tmp_path):
    s3 = make_s3(s3_endpoint, bucket="presigned", presigned=60)
    s3.put_file("c7", _file(tmp_path, b"%PDF-1.4 evidence"))
    url = s3.presigned_url("c7", "整改报告.pdf", "application/pdf")
    assert url and "Signature" in url or "X-Amz-Signature" in url
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.read() == b"%PDF-1.4 evidence"
    assert LocalStorage(tmp_path).presigned_url("c7", "a.pdf", "application/pdf") is None
    assert make_s3(s3_endpoint, bucket="streamed").presigned_url("c7", "a.pdf", "application/pdf") is None


def test_an_object_store_out_of_reach_is_a_storage_error(tmp_path):
    from tracker.storage import s3_client

    client = s3_client(
        {"S3_ENDPOINT_URL": "http://127.0.0.1:1", "S3_ACCESS_KEY": "t", "S3_SECRET_KEY": "t", "S3_PATH_STYLE": True}
    )
    down = S3Storage(client, "tracker")
    with pytest.raises(StorageError):
        down.put_file("d1", _file(tmp_path, b"x"))
