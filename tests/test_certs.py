"""gzmq.auth certificates (ZPL files as pyzmq and czmq write them) and ``python -m
gzmq.curve_keygen``. pyzmq, imported in-process, is the oracle for the file bytes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

import zmq as pyzmq
import zmq.auth as pyzmq_auth
from gzmq.auth import create_certificates, load_certificate, load_certificates

MAIN = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
Z85_CHARS = set(
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#")

# keys of the czmq test certificates below (a real pair: curve_public(SECRET) == PUBLIC)
SECRET = b"D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"
PUBLIC = pyzmq.curve_public(SECRET)


@pytest.fixture
def z85():
    from gzmq.zmtp import z85 as module
    return module


# ---------------------------------------------------------------------------------------------
# create / load

def test_round_trip(tmp_path, z85):
    public_file, secret_file = create_certificates(tmp_path, "server")
    assert public_file == os.path.join(tmp_path, "server.key")
    assert secret_file == os.path.join(tmp_path, "server.key_secret")
    public, none = load_certificate(public_file)
    public2, secret = load_certificate(secret_file)
    assert none is None
    assert public == public2
    assert isinstance(public, bytes) and isinstance(secret, bytes)
    assert len(public) == len(secret) == 40 and set(public.decode()) <= Z85_CHARS
    assert bytes(z85.curve_public(secret)) == public
    assert pyzmq.curve_public(secret) == public


def test_secret_file_is_private(tmp_path):
    _, secret_file = create_certificates(tmp_path, "me")
    assert stat.S_IMODE(os.stat(secret_file).st_mode) == 0o600


def test_missing_key_dir(tmp_path):
    with pytest.raises(OSError):
        create_certificates(tmp_path / "missing", "x")


@pytest.mark.parametrize("metadata", [None, {"name": "alice", "email": "a@example.com"},
                                      {b"role": b"admin"}])
def test_bytes_match_pyzmq(tmp_path, monkeypatch, z85, metadata):
    keys = (PUBLIC, SECRET)
    monkeypatch.setattr(pyzmq, "curve_keypair", lambda: keys)
    monkeypatch.setattr(z85, "curve_keypair", lambda: keys)
    (tmp_path / "py").mkdir()
    (tmp_path / "gz").mkdir()
    theirs = pyzmq_auth.create_certificates(tmp_path / "py", "cert", metadata)
    ours = create_certificates(tmp_path / "gz", "cert", metadata)
    assert [os.path.basename(p) for p in ours] == [os.path.basename(p) for p in theirs]
    for mine, reference in zip(ours, theirs):
        with open(mine, "rb") as f:
            mine_lines = f.read().split(b"\n")
        with open(reference, "rb") as f:
            reference_lines = f.read().split(b"\n")
        assert mine_lines[0].startswith(b"#   ****  Generated on ")
        assert mine_lines[0].endswith(b" by gzmq  ****")
        assert mine_lines[1:] == reference_lines[1:]
    # and each side reads the other's files
    for path in theirs:
        assert load_certificate(path) == pyzmq_auth.load_certificate(path)
    for path in ours:
        assert pyzmq_auth.load_certificate(path) == load_certificate(path)


def test_pyzmq_generated_files(tmp_path):
    public_file, secret_file = pyzmq_auth.create_certificates(tmp_path, "peer", {"k": "v"})
    public, secret = pyzmq_auth.load_certificate(secret_file)
    assert load_certificate(secret_file) == (public, secret)
    assert load_certificate(public_file) == (public, None)
    assert load_certificates(tmp_path) == pyzmq_auth.load_certificates(str(tmp_path))


CZMQ_SECRET = f"""#   ****  Generated on 2023-02-17 21:05:10 by CZMQ  ****
#   ZeroMQ CURVE **Secret** Certificate
#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.

metadata
    name = "flux-cert-generator"
    time = "2023-02-17T21:05:10"
    userid = "0"
curve
    public-key = "{PUBLIC.decode()}"
    secret-key = "{SECRET.decode()}"
"""

CZMQ_PUBLIC = f"""#   ****  Generated on 2023-02-17 21:05:10 by CZMQ  ****
#   ZeroMQ CURVE Public Certificate
#   Exchange securely, or use a secure mechanism to verify the contents
#   of this file after exchange. Store public certificates in your home
#   directory, in the .curve subdirectory.

metadata
    name = "flux-cert-generator"
curve
    public-key = "{PUBLIC.decode()}"
"""


def test_czmq_files(tmp_path):
    (tmp_path / "server").write_text(CZMQ_PUBLIC)
    (tmp_path / "server_secret").write_text(CZMQ_SECRET)
    assert load_certificate(tmp_path / "server") == (PUBLIC, None)
    assert load_certificate(str(tmp_path / "server_secret")) == (PUBLIC, SECRET)
    # czmq's names do not end in .key, so a directory scan skips them (as pyzmq's)
    assert load_certificates(tmp_path) == {}


def test_zpl_variants(tmp_path):
    # CRLF, tabs, single quotes, unquoted values, trailing comments, an unrelated section
    text = (
        "# hand-written\r\n"
        "\r\n"
        "metadata\r\n"
        "\tcomment = 'public-key is a word' # not a key\r\n"
        "curve   # keys follow\r\n"
        f"    public-key = '{PUBLIC.decode()}'\r\n"
        f"    secret-key={SECRET.decode()}    # unquoted\r\n"
    )
    path = tmp_path / "variant"
    path.write_bytes(text.encode())
    assert load_certificate(path) == (PUBLIC, SECRET)


def test_key_outside_curve_section_still_found(tmp_path):
    # pyzmq's loader scans lines regardless of sections; ours prefers /curve but falls back
    path = tmp_path / "flat"
    path.write_text(f'public-key = "{PUBLIC.decode()}"\n')
    assert load_certificate(path) == (PUBLIC, None)


def test_load_errors(tmp_path):
    with pytest.raises(OSError):
        load_certificate(tmp_path / "missing.key")
    empty = tmp_path / "empty.key"
    empty.write_text("# nothing here\nmetadata\ncurve\n")
    with pytest.raises(ValueError):
        load_certificate(empty)
    short = tmp_path / "short.key"
    short.write_text('curve\n    public-key = "abc"\n')
    with pytest.raises(ValueError):
        load_certificate(short)
    with pytest.raises(OSError):
        load_certificates(tmp_path / "no-such-dir")
    with pytest.raises(ValueError):  # a broken certificate fails the scan, as in pyzmq
        load_certificates(tmp_path)


def test_load_certificates_scans_only_key_files(tmp_path):
    keys = set()
    for name in ("alice", "bob"):
        public_file, _ = create_certificates(tmp_path, name)
        keys.add(load_certificate(public_file)[0])
    (tmp_path / "carol").write_text(CZMQ_PUBLIC)          # czmq name: skipped
    (tmp_path / "dave.key_secret").write_text(CZMQ_SECRET)  # secret file: skipped
    (tmp_path / ".hidden.key").write_text("garbage")      # hidden, as glob('*.key') skips it
    (tmp_path / "sub.key").mkdir()                          # a directory: skipped
    certs = load_certificates(str(tmp_path))
    assert certs == {key: True for key in keys}
    assert all(isinstance(k, bytes) for k in certs)


# ---------------------------------------------------------------------------------------------
# python -m gzmq.curve_keygen

def keygen(*args):
    env = dict(os.environ, PYTHONPATH=MAIN)
    result = subprocess.run([sys.executable, "-m", "gzmq.curve_keygen", *args], env=env,
                            capture_output=True, text=True, timeout=60, cwd=MAIN)
    return result


def test_keygen_text_output():
    result = keygen()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    assert lines[0] == "== CURVE PUBLIC KEY =="
    assert lines[2] == ""
    assert lines[3] == "== CURVE SECRET KEY =="
    assert lines[5:] == [""]
    public, secret = lines[1].encode(), lines[4].encode()
    assert len(public) == len(secret) == 40
    assert pyzmq.curve_public(secret) == public
    # same layout as pyzmq's command
    reference = subprocess.run([sys.executable, "-m", "zmq.curve_keygen"], capture_output=True,
                               text=True, timeout=60).stdout.split("\n")
    assert [len(line) for line in reference] == [len(line) for line in lines]


def test_keygen_json():
    result = keygen("--json")
    assert result.returncode == 0, result.stderr
    keys = json.loads(result.stdout)
    assert sorted(keys) == ["public", "secret"]
    assert pyzmq.curve_public(keys["secret"].encode()) == keys["public"].encode()
    assert result.stdout.startswith('{\n "public": ')


def test_keygen_from_secret():
    result = keygen("--secret", SECRET.decode(), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"public": PUBLIC.decode(), "secret": SECRET.decode()}
    for bad_secret in ("too-short", "x" * 32, '"' * 40):  # 32 chars must not pass as raw
        bad = keygen("--secret", bad_secret)
        assert bad.returncode == 2 and "invalid secret key" in bad.stderr, bad_secret


def test_keygen_help():
    result = keygen("--help")
    assert result.returncode == 0, result.stderr
    assert "--json" in result.stdout and "--secret SECRET" in result.stdout


def test_keygen_in_process(monkeypatch, capsys, z85):
    from gzmq import curve_keygen
    curve_keygen._main(["--secret", SECRET.decode()])
    out = capsys.readouterr().out
    assert out == (f"== CURVE PUBLIC KEY ==\n{PUBLIC.decode()}\n\n"
                   f"== CURVE SECRET KEY ==\n{SECRET.decode()}\n")
