#!/usr/bin/python3
"""Cross-check webpushctl against an implementation not written in this project.

The reference here is Debian's python3-cryptography (OpenSSL underneath, but none of our code):
RFC 8291 / RFC 8188 aes128gcm is re-implemented step by step from webpush-protocol.md §1 with
HMAC-SHA-256 for HKDF, cryptography's ECDH and AESGCM; VAPID tokens (RFC 8292) are verified
with cryptography's ECDSA after converting the raw R || S signature to DER.

Run with Debian's interpreter, not a pyenv one that may lack the package:

    /usr/bin/python3 crosscheck.py --webpushctl build/dispatcher/webpushctl [unittest args]

The path may also come from the WEBPUSHCTL environment variable.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
import unittest

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# Set from the command line before unittest starts.
WEBPUSHCTL = os.environ.get("WEBPUSHCTL", "")

CURVE = ec.SECP256R1()
HEADER_SIZE = 86  # salt(16) || rs(4) || idlen(1) || keyid(65)
TAG_SIZE = 16
RECORD_SIZE = 4096
MAX_PLAINTEXT = 3993  # RFC 8291 §4: 4096 - 86 - 16 - 1
PAYLOAD_SIZES = (0, 1, 15, 16, 17, 100, 1024, MAX_PLAINTEXT)
# (payload size, padding) pairs; the last one fills the 4096-byte body exactly.
PADDED_CASES = ((0, 1), (17, 200), (100, 3893), (3000, MAX_PLAINTEXT - 3000))

# RFC 8291 Appendix A, copied from webpush-protocol.md §3.1.
RFC_PLAINTEXT = b"When I grow up, I want to be a watermelon"
RFC_UA_PRIVATE = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
RFC_UA_PUBLIC = ("BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpk"
                 "NtoIAiw4")
RFC_AS_PRIVATE = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
RFC_SALT = "DGv6ra1nlYgDCS1FRnbzlw"
RFC_AUTH = "BTBZMqHH6r4Tts7J_aSIgg"
RFC_BODY = ("DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLo"
            "cInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBW"
            "LVWGNWQexSgSxsj_Qulcy4a-fN")

B64U = r"[A-Za-z0-9_-]+"
VAPID_HEADER = re.compile(rf"vapid t=({B64U}\.{B64U}\.{B64U}), k=({B64U})")


# --- encoding helpers -------------------------------------------------------------------------

def b64u_encode(data):
    """Unpadded base64url, the form every Web Push field uses (RFC 4648 §5)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text):
    """Strict unpadded base64url decode: JWS and our CLI never emit '=' or '+/'."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError(f"not unpadded base64url: {text!r}")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_bytes(key):
    """The 65-byte uncompressed point of a private or public key (p256dh, keyid, VAPID k)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        key = key.public_key()
    return key.public_bytes(serialization.Encoding.X962,
                            serialization.PublicFormat.UncompressedPoint)


def private_key_from_b64u(text):
    """Load a raw 32-byte scalar as our CLI prints it (keys subscription, vapid keygen)."""
    return ec.derive_private_key(int.from_bytes(b64u_decode(text), "big"), CURVE)


def private_scalar_b64u(key):
    """The fixed-width 32-byte scalar, base64url: what `--private-key` expects."""
    return b64u_encode(key.private_numbers().private_value.to_bytes(32, "big"))


# --- RFC 8291 / RFC 8188 aes128gcm, independent of crypto/ -------------------------------------

def hmac_sha256(key, data):
    """One HMAC-SHA-256: HKDF-Extract, and HKDF-Expand when L <= 32 (a single T(1) block)."""
    return hmac.new(key, data, hashlib.sha256).digest()


def derive_cek_nonce(ecdh_secret, auth, ua_public, as_public, salt):
    """webpush-protocol.md §1.2 steps 3-9: two HKDF extract/expand pairs -> (CEK, NONCE)."""
    prk_key = hmac_sha256(auth, ecdh_secret)
    key_info = b"WebPush: info\x00" + ua_public + as_public
    ikm = hmac_sha256(prk_key, key_info + b"\x01")
    prk = hmac_sha256(salt, ikm)
    cek = hmac_sha256(prk, b"Content-Encoding: aes128gcm\x00\x01")[:16]
    nonce = hmac_sha256(prk, b"Content-Encoding: nonce\x00\x01")[:12]
    return cek, nonce


def parse_body(body):
    """Split an aes128gcm body into its header fields and single record (RFC 8188 §2.1).

    Rejects anything a Web Push user agent must reject (RFC 8291 §4): idlen other than 65, a
    keyid that is not a P-256 point, rs below 18, a record that is too short or would not fit in
    one record of size rs.
    """
    if len(body) < HEADER_SIZE + TAG_SIZE + 1:
        raise ValueError(f"body of {len(body)} bytes is too short")
    salt = body[:16]
    (rs,) = struct.unpack(">I", body[16:20])
    idlen = body[20]
    if idlen != 65:
        raise ValueError(f"idlen {idlen}, expected 65")
    keyid = body[21:HEADER_SIZE]
    as_public = ec.EllipticCurvePublicKey.from_encoded_point(CURVE, keyid)  # checks the curve
    record = body[HEADER_SIZE:]
    if rs < 18 or len(record) > rs:
        raise ValueError(f"record of {len(record)} bytes does not fit one record of rs={rs}")
    return {"salt": salt, "rs": rs, "keyid": keyid, "as_public": as_public, "record": record}


def open_record(body, ua_private, auth):
    """Decrypt the single record and return it with delimiter and padding still attached."""
    fields = parse_body(body)
    ecdh_secret = ua_private.exchange(ec.ECDH(), fields["as_public"])
    cek, nonce = derive_cek_nonce(ecdh_secret, auth, public_bytes(ua_private), fields["keyid"],
                                  fields["salt"])
    return AESGCM(cek).decrypt(nonce, fields["record"], None)


def unpad(record_plaintext):
    """RFC 8188 §2: the delimiter is the last non-zero byte and must be 0x02 (last record)."""
    stripped = record_plaintext.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x02:
        raise ValueError("missing or wrong last-record delimiter")
    return stripped[:-1]


def python_decrypt(body, ua_private, auth):
    """Full RFC 8291 decryption as a user agent does it (webpush-protocol.md §1.7)."""
    return unpad(open_record(body, ua_private, auth))


def python_encrypt(plaintext, ua_public, auth, pad=0, as_private=None, salt=None):
    """RFC 8291 encryption as an application server does it (webpush-protocol.md §1.2).

    A fresh ephemeral key and salt unless given; fixed ones exist only to reproduce the RFC
    8291 Appendix A body byte for byte.
    """
    as_private = as_private or ec.generate_private_key(CURVE)
    salt = salt or os.urandom(16)
    ua_point = ec.EllipticCurvePublicKey.from_encoded_point(CURVE, ua_public)
    as_public = public_bytes(as_private)
    cek, nonce = derive_cek_nonce(as_private.exchange(ec.ECDH(), ua_point), auth, ua_public,
                                  as_public, salt)
    record = AESGCM(cek).encrypt(nonce, plaintext + b"\x02" + b"\x00" * pad, None)
    return salt + struct.pack(">IB", RECORD_SIZE, 65) + as_public + record


# --- RFC 8292 VAPID, independent of crypto/ ----------------------------------------------------

def parse_vapid_header(value):
    """Split `vapid t=<JWT>, k=<key>` (RFC 8292 §3) into (jwt, 65-byte public key)."""
    match = VAPID_HEADER.fullmatch(value)
    if not match:
        raise ValueError(f"not a `vapid t=..., k=...` value: {value!r}")
    return match.group(1), b64u_decode(match.group(2))


def verify_es256_jwt(jwt, public_key):
    """Verify an ES256 JWS (RFC 7518 §3.4) and return (header, claims, raw signature).

    Raises InvalidSignature if the signature does not verify with `public_key` (a 65-byte
    uncompressed point); the signature must be raw R || S, exactly 64 bytes.
    """
    header_b64, claims_b64, sig_b64 = jwt.split(".")
    signature = b64u_decode(sig_b64)
    if len(signature) != 64:
        raise InvalidSignature(f"ES256 signature is {len(signature)} bytes, expected 64")
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"),
                               int.from_bytes(signature[32:], "big"))
    key = ec.EllipticCurvePublicKey.from_encoded_point(CURVE, public_key)
    key.verify(der, f"{header_b64}.{claims_b64}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
    return (json.loads(b64u_decode(header_b64)), json.loads(b64u_decode(claims_b64)), signature)


# --- running webpushctl ------------------------------------------------------------------------

def ctl(*args, stdin=b""):
    """Run webpushctl; bytes in, CompletedProcess with bytes out (bodies are binary)."""
    return subprocess.run([WEBPUSHCTL, *args], input=stdin, capture_output=True, timeout=30,
                          check=False)


class CtlTestCase(unittest.TestCase):
    """Shared plumbing: a scratch directory and assertions on webpushctl's exit contract."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="crosscheck-")
        self.addCleanup(self._tmp.cleanup)

    def path(self, name):
        """A file name inside this test's scratch directory."""
        return os.path.join(self._tmp.name, name)

    def write(self, name, data):
        """Write bytes to a scratch file and return its path."""
        path = self.path(name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def run_ok(self, *args, stdin=b""):
        """Run webpushctl, fail the test with its stderr unless it exits 0; return stdout."""
        result = ctl(*args, stdin=stdin)
        self.assertEqual(result.returncode, 0,
                         f"webpushctl {' '.join(args)} failed: {result.stderr.decode()!r}")
        return result.stdout

    def assert_rejected(self, result):
        """The CLI's error contract: exit 1, nothing on stdout, exactly one line on stderr."""
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertEqual(result.stdout, b"")
        message = result.stderr.decode()
        self.assertTrue(message.endswith("\n") and message.count("\n") == 1,
                        f"stderr is not one line: {message!r}")
        self.assertTrue(message.startswith("webpushctl: "), message)

    def subscription(self):
        """A fake browser subscription from `webpushctl keys subscription`."""
        sub = json.loads(self.run_ok("keys", "subscription"))
        return {"p256dh": sub["keys"]["p256dh"], "auth": sub["keys"]["auth"],
                "private": private_key_from_b64u(sub["private_key"])}

    def our_encrypt(self, sub, payload, pad=0):
        """`webpushctl encrypt --payload-file ... --out ...`; returns the body bytes."""
        args = ["encrypt", "--p256dh", sub["p256dh"], "--auth", sub["auth"],
                "--payload-file", self.write("payload", payload), "--out", self.path("body")]
        if pad:
            args += ["--pad", str(pad)]
        self.assertEqual(self.run_ok(*args), b"", "--out must leave stdout empty")
        with open(self.path("body"), "rb") as f:
            return f.read()

    def our_decrypt(self, body, private_key, auth):
        """`webpushctl decrypt --private-key ... --auth ... --in ...`, unchecked result."""
        return ctl("decrypt", "--private-key", private_scalar_b64u(private_key), "--auth",
                   b64u_encode(auth), "--in", self.write("body", body))


class OurEncryptPythonDecrypt(CtlTestCase):
    """(a) Bodies from `webpushctl encrypt` open with the independent decrypter."""

    def test_payload_sizes(self):
        """Every size from empty to the 3993-byte maximum round-trips byte for byte."""
        sub = self.subscription()
        for size in PAYLOAD_SIZES:
            with self.subTest(size=size):
                payload = os.urandom(size)
                body = self.our_encrypt(sub, payload)
                self.assertEqual(len(body), HEADER_SIZE + size + 1 + TAG_SIZE)
                self.assertEqual(python_decrypt(body, sub["private"], b64u_decode(sub["auth"])),
                                 payload)

    def test_padding(self):
        """--pad adds exactly that many zero bytes after the 0x02 delimiter inside the record."""
        sub = self.subscription()
        for size, pad in PADDED_CASES:
            with self.subTest(size=size, pad=pad):
                payload = os.urandom(size)
                body = self.our_encrypt(sub, payload, pad=pad)
                self.assertLessEqual(len(body), 4096)
                record = open_record(body, sub["private"], b64u_decode(sub["auth"]))
                self.assertEqual(record, payload + b"\x02" + b"\x00" * pad)

    def test_header_fields(self):
        """salt 16, rs 4096, idlen 65, keyid a P-256 point, one record ending in 0x02."""
        sub = self.subscription()
        payload = os.urandom(100)
        body = self.our_encrypt(sub, payload)
        fields = parse_body(body)  # validates idlen, the keyid point and the record count
        self.assertEqual(len(fields["salt"]), 16)
        self.assertEqual(fields["rs"], RECORD_SIZE)
        self.assertEqual(body[20], 65)
        self.assertEqual(fields["keyid"][0], 0x04)
        self.assertNotEqual(fields["keyid"], b64u_decode(sub["p256dh"]))
        record = open_record(body, sub["private"], b64u_decode(sub["auth"]))
        self.assertEqual(record[-1], 0x02)
        self.assertEqual(record[:-1], payload)

    def test_fresh_salt_and_ephemeral_key(self):
        """Two encryptions of one payload share neither salt nor keyid (protocol §1.6)."""
        sub = self.subscription()
        payload = b"same payload twice"
        first = parse_body(self.our_encrypt(sub, payload))
        second = parse_body(self.our_encrypt(sub, payload))
        self.assertNotEqual(first["salt"], second["salt"])
        self.assertNotEqual(first["keyid"], second["keyid"])
        self.assertNotEqual(first["record"], second["record"])


class PythonEncryptOurDecrypt(CtlTestCase):
    """(b) Bodies from the independent encrypter open with `webpushctl decrypt`."""

    def setUp(self):
        super().setUp()
        self.ua_private = ec.generate_private_key(CURVE)
        self.auth = os.urandom(16)

    def test_payload_sizes(self):
        """Every size from empty to 3993 bytes decrypts exactly (body on stdin, not --in)."""
        for size in PAYLOAD_SIZES:
            with self.subTest(size=size):
                payload = os.urandom(size)
                body = python_encrypt(payload, public_bytes(self.ua_private), self.auth)
                self.assertEqual(self.run_ok("decrypt", "--private-key",
                                             private_scalar_b64u(self.ua_private), "--auth",
                                             b64u_encode(self.auth), stdin=body),
                                 payload)

    def test_padding(self):
        """Padding after the delimiter is stripped, not returned as payload."""
        for size, pad in PADDED_CASES:
            with self.subTest(size=size, pad=pad):
                payload = os.urandom(size)
                body = python_encrypt(payload, public_bytes(self.ua_private), self.auth, pad=pad)
                result = self.our_decrypt(body, self.ua_private, self.auth)
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertEqual(result.stdout, payload)


class Rfc8291AppendixA(CtlTestCase):
    """(c) The RFC 8291 worked example, for both the Python side and ours."""

    def test_python_side_reproduces_rfc(self):
        """The reference itself is right: it decrypts the RFC body and re-creates it exactly."""
        body = b64u_decode(RFC_BODY)
        ua_private = private_key_from_b64u(RFC_UA_PRIVATE)
        auth = b64u_decode(RFC_AUTH)
        self.assertEqual(public_bytes(ua_private), b64u_decode(RFC_UA_PUBLIC))
        self.assertEqual(python_decrypt(body, ua_private, auth), RFC_PLAINTEXT)
        self.assertEqual(python_encrypt(RFC_PLAINTEXT, b64u_decode(RFC_UA_PUBLIC), auth,
                                        as_private=private_key_from_b64u(RFC_AS_PRIVATE),
                                        salt=b64u_decode(RFC_SALT)),
                         body)

    def test_our_decrypt_of_rfc_body(self):
        """`webpushctl decrypt` opens the 144-byte RFC body with the RFC user agent key."""
        self.assertEqual(self.run_ok("decrypt", "--private-key", RFC_UA_PRIVATE, "--auth",
                                     RFC_AUTH, "--in", self.write("rfc", b64u_decode(RFC_BODY))),
                         RFC_PLAINTEXT)


class OurVapidTokenPythonVerify(CtlTestCase):
    """(d) `webpushctl vapid token` output verifies as an ES256 JWT with the right claims."""

    SUB = "mailto:ops@example.com"

    def keygen(self, *flags):
        """`webpushctl vapid keygen` output as {label: value} from its `label: value` lines."""
        out = self.run_ok("vapid", "keygen", *flags).decode()
        return out, dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)

    def token(self, key_args, aud, exp_seconds):
        """Mint a token; return (jwt, k bytes, the time window it was minted in)."""
        before = int(time.time())
        out = self.run_ok("vapid", "token", *key_args, "--aud", aud, "--sub", self.SUB,
                          "--exp-seconds", str(exp_seconds)).decode()
        after = int(time.time())
        self.assertTrue(out.endswith("\n") and out.count("\n") == 1, repr(out))
        jwt, k = parse_vapid_header(out.rstrip("\n"))
        return jwt, k, (before, after)

    def check_token(self, jwt, k, expected_aud, exp_seconds, window):
        """Signature with k, fixed header, exactly aud/exp/sub with exp in the time window."""
        header, claims, signature = verify_es256_jwt(jwt, k)
        self.assertEqual(len(signature), 64)
        self.assertEqual(header, {"typ": "JWT", "alg": "ES256"})
        self.assertEqual(set(claims), {"aud", "exp", "sub"})
        self.assertEqual(claims["aud"], expected_aud)
        self.assertEqual(claims["sub"], self.SUB)
        self.assertIs(type(claims["exp"]), int, "exp must be a JSON integer")
        self.assertGreaterEqual(claims["exp"], window[0] + exp_seconds - 5)
        self.assertLessEqual(claims["exp"], window[1] + exp_seconds + 5)

    def test_raw_private_key(self):
        """--private-key: k is keygen's public key, and also the scalar's point per Python."""
        _, keys = self.keygen()
        jwt, k, window = self.token(["--private-key", keys["private_key"]],
                                    "https://fcm.googleapis.com/fcm/send/xyz", 3600)
        self.assertEqual(b64u_encode(k), keys["public_key"])
        self.assertEqual(k, public_bytes(private_key_from_b64u(keys["private_key"])))
        self.check_token(jwt, k, "https://fcm.googleapis.com", 3600, window)

    def test_pem_key_file(self):
        """--key-file with the whole `keygen --pem` output; Python reads the same PEM key."""
        out, keys = self.keygen("--pem")
        key_file = self.write("vapid.pem", out.encode())
        with open(key_file, "rb") as f:
            pem_key = serialization.load_pem_private_key(f.read(), password=None)
        self.assertEqual(b64u_encode(public_bytes(pem_key)), keys["public_key"])
        jwt, k, window = self.token(["--key-file", key_file],
                                    "https://updates.push.services.mozilla.com/wpush/v2/abc", 600)
        self.assertEqual(b64u_encode(k), keys["public_key"])
        self.check_token(jwt, k, "https://updates.push.services.mozilla.com", 600, window)

    def test_audience_keeps_non_default_port(self):
        """An endpoint on a non-default port keeps ':port' in aud; 443 is dropped."""
        _, keys = self.keygen()
        key_args = ["--private-key", keys["private_key"]]
        for endpoint, origin in (("https://push.example.net:8443/push/abc",
                                  "https://push.example.net:8443"),
                                 ("https://push.example.net:443/push/abc",
                                  "https://push.example.net")):
            with self.subTest(endpoint=endpoint):
                jwt, k, window = self.token(key_args, endpoint, 60)
                self.check_token(jwt, k, origin, 60, window)

    def test_exp_seconds(self):
        """exp is now + --exp-seconds, up to the 24-hour RFC 8292 ceiling."""
        _, keys = self.keygen()
        for exp_seconds in (1, 43200, 86400):
            with self.subTest(exp_seconds=exp_seconds):
                jwt, k, window = self.token(["--private-key", keys["private_key"]],
                                            "https://web.push.apple.com", exp_seconds)
                self.check_token(jwt, k, "https://web.push.apple.com", exp_seconds, window)

    def test_signature_with_short_r_or_s(self):
        """R or S below 2^248 must still be left-padded to 32 bytes (protocol §5.3).

        About one half in 256 has a zero first byte, so mint 4000 tokens in one run (one
        process each took 120 s under ASan on a loaded CI machine) and verify every one; both
        kinds show up in all but about one run in three million.
        """
        _, keys = self.keygen()
        aud = "https://fcm.googleapis.com"
        out = self.run_ok("vapid", "token", "--private-key", keys["private_key"], "--aud", aud,
                          "--sub", self.SUB, "--exp-seconds", "60", "--count", "4000").decode()
        lines = out.splitlines()
        self.assertEqual(len(lines), 4000)
        self.assertEqual(out.count("\n"), 4000)
        short_r = short_s = 0
        for line in lines:
            jwt, k = parse_vapid_header(line)
            self.assertEqual(b64u_encode(k), keys["public_key"])
            _, claims, signature = verify_es256_jwt(jwt, k)
            self.assertEqual(len(signature), 64)
            self.assertEqual(claims["aud"], aud)
            short_r += signature[0] == 0
            short_s += signature[32] == 0
        self.assertEqual(len(set(lines)), 4000, "each token needs its own ECDSA nonce")
        self.assertGreater(short_r, 0, "no R below 2^248 in 4000 signatures")
        self.assertGreater(short_s, 0, "no S below 2^248 in 4000 signatures")


class PythonPemOurToken(CtlTestCase):
    """(e) PEM keys written by Python are accepted by `vapid token --key-file`."""

    def check_format(self, fmt, marker):
        """Write a fresh key in `fmt`, mint a token, verify it with Python's own public key."""
        key = ec.generate_private_key(CURVE)
        pem = key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())
        self.assertIn(marker, pem)
        out = self.run_ok("vapid", "token", "--key-file", self.write("key.pem", pem), "--aud",
                          "https://fcm.googleapis.com", "--sub", "mailto:ops@example.com")
        jwt, k = parse_vapid_header(out.decode().rstrip("\n"))
        self.assertEqual(k, public_bytes(key))
        _, claims, _ = verify_es256_jwt(jwt, public_bytes(key))
        self.assertEqual(claims["aud"], "https://fcm.googleapis.com")

    def test_sec1_pem(self):
        """OpenSSL's traditional "EC PRIVATE KEY" (SEC 1) form."""
        self.check_format(serialization.PrivateFormat.TraditionalOpenSSL,
                          b"-----BEGIN EC PRIVATE KEY-----")

    def test_pkcs8_pem(self):
        """The PKCS #8 "PRIVATE KEY" form."""
        self.check_format(serialization.PrivateFormat.PKCS8, b"-----BEGIN PRIVATE KEY-----")


class Rejections(CtlTestCase):
    """(f) Bad input fails with exit 1 and one stderr line, never with output."""

    def test_tampered_body(self):
        """One flipped bit in the ciphertext or the tag fails AES-GCM authentication."""
        ua_private = ec.generate_private_key(CURVE)
        auth = os.urandom(16)
        body = python_encrypt(b"attack at dawn", public_bytes(ua_private), auth)
        self.assertEqual(self.our_decrypt(body, ua_private, auth).returncode, 0)
        for offset in (HEADER_SIZE, len(body) - 1):
            with self.subTest(offset=offset):
                tampered = bytearray(body)
                tampered[offset] ^= 0x01
                self.assert_rejected(self.our_decrypt(bytes(tampered), ua_private, auth))

    def test_wrong_auth(self):
        """A body decrypted with another subscription's auth secret is rejected."""
        sub = self.subscription()
        body = self.our_encrypt(sub, b"for the right auth only")
        self.assert_rejected(self.our_decrypt(body, sub["private"], os.urandom(16)))

    def test_exp_seconds_above_24_hours(self):
        """--exp-seconds 90000 exceeds RFC 8292's 24-hour limit."""
        key = ec.generate_private_key(CURVE)
        self.assert_rejected(ctl("vapid", "token", "--private-key", private_scalar_b64u(key),
                                 "--aud", "https://fcm.googleapis.com", "--sub",
                                 "mailto:ops@example.com", "--exp-seconds", "90000"))


def main():
    """Take --webpushctl (or $WEBPUSHCTL), hand the remaining arguments to unittest."""
    global WEBPUSHCTL  # pylint: disable=global-statement
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--webpushctl", default=WEBPUSHCTL,
                        help="path to the webpushctl binary (default: $WEBPUSHCTL)")
    args, rest = parser.parse_known_args()
    if not args.webpushctl or not os.access(args.webpushctl, os.X_OK):
        parser.error(f"webpushctl not found or not executable: {args.webpushctl!r}")
    WEBPUSHCTL = args.webpushctl
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
