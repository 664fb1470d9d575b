"""Makes the request bodies of the REST load test (docs/PERFORMANCE.md) for a running
`keymgr serve`: enc-1k.json, enc-1m.json (random data for /encrypt), dec-1k.json,
dec-1m.json (envelopes made by /encrypt), jwtsign.json (a small JSON document for /jwtSign
with KERNEL/SIGN, RS256, attached) and jwtverify.json (that token for /jwtVerify), checking
each round trip on the way.

usage: python3 make_bodies.py BASE_URL TOKEN_FILE OUT_DIR
   e.g. python3 make_bodies.py http://127.0.0.1:8098/v1/keymanager keymgr-data/admin.token .
"""
import base64
import json
import os
import sys
import urllib.request

base, token_file, out = sys.argv[1:4]
token = open(token_file).read().strip()


def post(path, request):
    req = urllib.request.Request(
        base + path,
        data=json.dumps({"request": request}).encode(),
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
    )
    body = json.load(urllib.request.urlopen(req))
    assert body["errors"] is None, body["errors"]
    return body["response"]


for name, size in [("1k", 1024), ("1m", 1 << 20)]:
    data = base64.urlsafe_b64encode(os.urandom(size)).rstrip(b"=").decode()
    request = {"applicationId": "REGISTRATION", "referenceId": "10001_110011",
               "timeStamp": "2026-11-22T10:00:00.000Z", "data": data}
    json.dump({"request": request}, open(os.path.join(out, f"enc-{name}.json"), "w"))
    envelope = post("/encrypt", request)["data"]
    sealed = dict(request, data=envelope)
    assert post("/decrypt", sealed)["data"] == data, "round trip"
    json.dump({"request": sealed}, open(os.path.join(out, f"dec-{name}.json"), "w"))
document = json.dumps({"id": "4721", "status": "Y", "transactionID": "1234567890",
                       "responseTime": "2026-12-02T10:00:00.000Z"}).encode()
sign = {"dataToSign": base64.urlsafe_b64encode(document).rstrip(b"=").decode(), "applicationId": "",
        "referenceId": "", "includePayload": True, "includeCertHash": True}
json.dump({"request": sign}, open(os.path.join(out, "jwtsign.json"), "w"))
jws = post("/jwtSign", sign)["jwtSignedData"]
verify = {"jwtSignatureData": jws}
assert post("/jwtVerify", verify)["signatureValid"] is True, "signature round trip"
json.dump({"request": verify}, open(os.path.join(out, "jwtverify.json"), "w"))
print("bodies written to", out)
