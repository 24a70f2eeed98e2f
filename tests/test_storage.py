"""The store of evidence files: the local folder and an S3-compatible object store (moto's
server, started on loopback by the test) behave alike."""

from __future__ import annotations

import hashlib
import urllib.request

import pytest

from tracker.storage import LocalStorage, S3Storage, StorageError


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


def test_a_listing_gives_each_object_with_its_size_and_leaves_out_what_is_not_a_stored_name(store, tmp_path):
    store.put_file("e1", _file(tmp_path, b"12345"))
    store.put_file("e2.pdf", _file(tmp_path, b"1"))
    if isinstance(store, LocalStorage):
        (store.folder / ".e3.part").write_bytes(b"an upload not yet committed")
        (store.folder / "exports").mkdir()
        (store.folder / "exports" / "x.csv").write_bytes(b"an export")
    else:
        store.client.put_object(Bucket=store.bucket, Key=store.prefix + "exports/x.csv", Body=b"an export")
    assert list(store.sizes()) == [("e1", 5), ("e2.pdf", 1)]
    assert list(store.names()) == ["e1", "e2.pdf"]


def test_a_missing_object_is_told_apart_from_a_store_out_of_reach(store, tmp_path):
    from tracker.storage import MissingObject

    with pytest.raises(MissingObject):
        store.open("nothere")
    from tracker.storage import s3_client

    client = s3_client(
        {"S3_ENDPOINT_URL": "http://127.0.0.1:1", "S3_ACCESS_KEY": "t", "S3_SECRET_KEY": "t", "S3_PATH_STYLE": True}
    )
    with pytest.raises(StorageError) as raised:
        S3Storage(client, "tracker").open("nothere")
    assert not isinstance(raised.value, MissingObject)


def test_an_object_moved_aside_is_kept_but_no_longer_listed(store, tmp_path):
    store.put_file("f1", _file(tmp_path, b"orphan"))
    store.move_aside("f1")
    assert list(store.names()) == [] and store.size("f1") is None
    if isinstance(store, LocalStorage):
        assert (store.folder / "orphaned" / "f1").read_bytes() == b"orphan"
    else:
        kept = store.client.get_object(Bucket=store.bucket, Key=store.prefix + "orphaned/f1")
        assert kept["Body"].read() == b"orphan"


def test_an_object_read_back_knows_its_length(s3_endpoint, tmp_path):
    s3 = make_s3(s3_endpoint, bucket="lengths")
    s3.put_file("g1", _file(tmp_path, b"x" * 1234))
    with s3.open("g1") as body:
        assert body.length == 1234


def test_a_copy_to_another_file_system_never_leaves_half_a_file(tmp_path, monkeypatch):
    import os
    import shutil

    store = LocalStorage(tmp_path / "uploads")
    source = _file(tmp_path, b"y" * 10_000)
    monkeypatch.setattr(os, "replace", lambda *_a: (_ for _ in ()).throw(OSError(18, "cross-device link")))

    def half(src, dst):
        with open(dst, "wb") as target:
            target.write(b"y" * 10)
        raise OSError(28, "no space left on device")

    monkeypatch.setattr(shutil, "copyfile", half)
    with pytest.raises(OSError):
        store.put_file("h1", source)
    assert source.exists() and list((tmp_path / "uploads").iterdir()) == []


def test_the_bucket_is_made_once(s3_endpoint):
    from tracker.storage import s3_client

    client = s3_client(
        {
            "S3_ENDPOINT_URL": s3_endpoint,
            "S3_REGION": "cn-north-1",
            "S3_ACCESS_KEY": "test",
            "S3_SECRET_KEY": "test",
            "S3_PATH_STYLE": True,
        }
    )
    fresh = S3Storage(client, "made-by-init", prefix="evidence/")
    assert fresh.ensure_bucket() is True
    assert fresh.ensure_bucket() is False
    assert list(fresh.names()) == []
    assert "made-by-init" in fresh.describe() and s3_endpoint in fresh.describe()


def test_the_app_picks_its_store_from_the_settings_and_follows_them(app, monkeypatch, s3_bucket):
    from tracker.storage import storage

    assert isinstance(storage(), LocalStorage) and str(storage().folder) == app.config["UPLOAD_DIR"]
    assert storage() is storage()  # one per app: a boto3 client keeps its connections
    for key, value in s3_bucket.items():
        monkeypatch.setitem(app.config, key, value)
    s3 = storage()
    assert isinstance(s3, S3Storage) and s3.bucket == s3_bucket["S3_BUCKET"] and s3.prefix == "evidence/"
    monkeypatch.setitem(app.config, "S3_PRESIGNED_SECONDS", 60)
    assert storage() is not s3 and storage().presigned_seconds == 60


def test_storage_init_makes_the_bucket_and_says_where(app, runner, monkeypatch, s3_endpoint):
    from tests.conftest import s3_settings

    for key, value in s3_settings(s3_endpoint, "made-by-cli").items():
        monkeypatch.setitem(app.config, key, value)
    first = runner.invoke(args=["storage", "init"])
    assert first.exit_code == 0 and "made the bucket made-by-cli" in first.output, first.output
    again = runner.invoke(args=["storage", "init"])
    assert again.exit_code == 0 and "is there" in again.output, again.output
    monkeypatch.setitem(app.config, "STORAGE_BACKEND", "local")
    local = runner.invoke(args=["storage", "init"])
    assert local.exit_code == 0 and "the folder" in local.output


def test_storage_init_says_in_one_line_when_the_store_is_out_of_reach(app, runner, monkeypatch):
    from tests.conftest import s3_settings

    for key, value in s3_settings("http://127.0.0.1:1", "nowhere").items():
        monkeypatch.setitem(app.config, key, value)
    result = runner.invoke(args=["storage", "init"])
    assert result.exit_code == 1 and "cannot be reached" in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_a_put_sends_no_checksum_headers_that_s3_compatible_stores_refuse(s3_endpoint, tmp_path):
    """boto3 >= 1.36 would add x-amz-checksum-* and an aws-chunked body by default; MinIO (older),
    Ceph RGW and cloud stores refuse them, moto does not: the client is told to send them only
    where an operation requires them, and the request is looked at here."""
    s3 = make_s3(s3_endpoint, bucket="checksums")
    sent = []
    s3.client.meta.events.register("before-send.s3.PutObject", lambda request, **_kw: sent.append(request.headers))
    s3.put_file("k1", _file(tmp_path, b"%PDF-1.4 evidence"))
    [headers] = sent
    names = {name.lower() for name in headers.keys()}
    assert not {n for n in names if n.startswith(("x-amz-checksum", "x-amz-sdk-checksum", "x-amz-trailer"))}
    assert "aws-chunked" not in str(headers.get("Content-Encoding", ""))
