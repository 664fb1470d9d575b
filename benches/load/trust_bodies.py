"""Fills the DEVICE domain of a running `keymgr serve` with 10,000 CA certificates (another
root's, uploaded as PKCS#7 bundles of 100) plus a 3-level chain, and writes trust.json: the
/verifyCertificateTrust body of the chain's device certificate (docs/PERFORMANCE.md). Needs
Python's `cryptography`.

usage: python3 trust_bodies.py BASE_URL TOKEN_FILE OUT_DIR
"""
import base64
import datetime
import json
import os
import sys
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

base, token_file, out = sys.argv[1:4]
token = open(token_file).read().strip()
now = datetime.datetime.now(datetime.timezone.utc)


def post(path, request):
    req = urllib.request.Request(
        base + path,
        data=json.dumps({"request": request}).encode(),
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
    )
    body = json.load(urllib.request.urlopen(req))
    assert body["errors"] is None, body["errors"]
    return body["response"]


def key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def cert(subject, issuer, public, signer, ca, days=3000):
    name = lambda cn: x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "IN"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer)).public_key(public)
               .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=False,
                                            encipher_only=False, decipher_only=False), critical=True))
    return builder.sign(signer, hashes.SHA256())


def upload(certs):
    der = pkcs7.serialize_certificates(certs, serialization.Encoding.DER)
    data = base64.urlsafe_b64encode(der).rstrip(b"=").decode()
    return post("/uploadCACertificate", {"certificateData": data, "partnerDomain": "DEVICE"})["status"]


filler_key, shared = key(), key()
filler_root = cert("Filler Root", "Filler Root", filler_key.public_key(), filler_key, True, 3650)
filler = [filler_root] + [cert(f"Filler CA {i}", "Filler Root", shared.public_key(), filler_key, True) for i in range(1, 10000)]
for i in range(0, len(filler), 100):
    assert upload(filler[i:i + 100]) == "Upload Success."
root_key, inter_key, device_key = key(), key(), key()
root = cert("Bench Root", "Bench Root", root_key.public_key(), root_key, True, 3650)
inter = cert("Bench CA", "Bench Root", inter_key.public_key(), root_key, True)
device = cert("Bench Device", "Bench CA", device_key.public_key(), inter_key, False, 700)
assert upload([inter, root]) == "Upload Success."
pem = device.public_bytes(serialization.Encoding.PEM).decode()
request = {"certificateData": pem, "partnerDomain": "DEVICE"}
assert post("/verifyCertificateTrust", request)["status"] is True
json.dump({"request": request}, open(os.path.join(out, "trust.json"), "w"))
print("DEVICE holds", len(filler) + 2, "CA certificates; trust.json written to", out)
