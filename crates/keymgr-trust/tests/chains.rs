//! Chains made by OpenSSL in the test (keys, CAs, intermediates, leaves with the defects a trust
//! store meets), each validated here and by `openssl verify` (`-x509_strict -auth_level 2
//! -verify_depth 5 -attime`), which must agree on valid or invalid for every chain; ours must
//! also name the defect. Says `SKIPPED` without the `openssl` command.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::Path;
use std::process::Command;

use keymgr_model::UtcTime;
use keymgr_trust::{MAX_INTERMEDIATES, TrustError, TrustStore};

/// Makes every certificate of the cases in the current folder. `ca` and `leaf` are the usual
/// profiles; `ca0` has pathLen 0; `noca` is CA:FALSE with keyCertSign; `nosign` is a CA without
/// keyCertSign; `plainleaf` has no key identifiers (its v1 issuer has none).
const MAKE: &str = r#"
set -eu
cat > t.cnf <<'EOF'
[req]
distinguished_name=dn
[dn]
[ca]
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid:always
[ca0]
basicConstraints=critical,CA:TRUE,pathlen:0
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid:always
[noca]
basicConstraints=critical,CA:FALSE
keyUsage=critical,keyCertSign,digitalSignature
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid:always
[nosign]
basicConstraints=critical,CA:TRUE
keyUsage=critical,digitalSignature
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid:always
[leaf]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid:always
[plainleaf]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
EOF
key() { openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:${2:-2048}" -out "$1.key" 2>/dev/null; }
eckey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$1.key" 2>/dev/null; }
root() { openssl req -config t.cnf -x509 -new -key "$1.key" -subj "$2" -days 3650 -sha256 -extensions "${3:-ca}" -out "$1.pem"; }
# sign NAME SUBJECT ISSUER PROFILE [DAYS] [DIGEST]
sign() {
    openssl req -config t.cnf -new -key "$1.key" -subj "$2" -out "$1.csr"
    if [ "$4" = v1 ]; then
        openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -set_serial "0x$(openssl rand -hex 8)" -days "${5:-365}" "-${6:-sha256}" -out "$1.pem" 2>/dev/null
    else
        openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -set_serial "0x$(openssl rand -hex 8)" -days "${5:-365}" "-${6:-sha256}" -extfile t.cnf -extensions "$4" -out "$1.pem" 2>/dev/null
    fi
}
key root; root root "/C=IN/O=Trust Test/CN=Root CA"
key other; root other "/C=IN/O=Elsewhere/CN=Other Root"
key root0; root root0 "/C=IN/O=Trust Test/CN=Root CA pathlen 0" ca0
key inter; sign inter "/C=IN/O=Trust Test/CN=Intermediate CA" root ca 3650
key leaf2; sign leaf2 "/C=IN/O=Partner/CN=Two Level" root leaf
key leaf3; sign leaf3 "/C=IN/O=Partner/CN=Three Level" inter leaf
eckey ecleaf; sign ecleaf "/C=IN/O=Partner/CN=P-384 leaf" inter leaf
key shortinter; sign shortinter "/C=IN/O=Trust Test/CN=Short Intermediate" root ca 1
key underexp; sign underexp "/C=IN/O=Partner/CN=Under Short" shortinter leaf
key imposter; root imposter "/C=IN/O=Trust Test/CN=Intermediate CA"
key forged; sign forged "/C=IN/O=Partner/CN=Forged" imposter leaf
key noca; sign noca "/C=IN/O=Trust Test/CN=Not A CA" root noca 3650
key undernoca; sign undernoca "/C=IN/O=Partner/CN=Under Not A CA" noca leaf
key nosign; sign nosign "/C=IN/O=Trust Test/CN=No Cert Sign" root nosign 3650
key undernosign; sign undernosign "/C=IN/O=Partner/CN=Under No Cert Sign" nosign leaf
key inter0; sign inter0 "/C=IN/O=Trust Test/CN=Below pathlen 0" root0 ca 3650
key underpath; sign underpath "/C=IN/O=Partner/CN=Under pathlen 0" inter0 leaf
key stranger; sign stranger "/C=IN/O=Partner/CN=Stranger" other leaf
key subca; sign subca "/C=IN/O=Trust Test/CN=Sub CA" inter ca 3650
key v1leaf; sign v1leaf "/C=IN/O=Partner/CN=Version One" inter v1
key v1inter; sign v1inter "/C=IN/O=Trust Test/CN=Version One CA" root v1 3650
key underv1; sign underv1 "/C=IN/O=Partner/CN=Under Version One" v1inter plainleaf
key weak 1024; sign weak "/C=IN/O=Partner/CN=RSA 1024" inter leaf
key sha1leaf; sign sha1leaf "/C=IN/O=Partner/CN=SHA-1" inter leaf 365 sha1
# A loop: A is certified by B and B by A; nothing reaches an anchor.
key loopa; key loopb
root loopa "/C=IN/O=Loop/CN=Loop A"; cp loopa.pem loopa-self.pem
sign loopb "/C=IN/O=Loop/CN=Loop B" loopa ca 3650
sign loopa "/C=IN/O=Loop/CN=Loop A" loopb ca 3650
key underloop; sign underloop "/C=IN/O=Partner/CN=Under Loop" loopa leaf
# Seven intermediates deep.
prev=root
for i in 1 2 3 4 5 6 7; do key "deep$i"; sign "deep$i" "/C=IN/O=Trust Test/CN=Deep $i" "$prev" ca 3650; prev="deep$i"; done
key underdeep; sign underdeep "/C=IN/O=Partner/CN=Under Deep" deep7 leaf
# Decoys: self-signed certificates with the intermediate's name and key identifier, one key.
ski=$(openssl x509 -in inter.pem -noout -ext subjectKeyIdentifier | tail -n 1 | tr -d ' ')
for i in $(seq 1 70); do
    openssl req -config t.cnf -x509 -new -key other.key -subj "/C=IN/O=Trust Test/CN=Intermediate CA" -days 3650 \
        -set_serial "$i" -extensions ca -addext "subjectKeyIdentifier=$ski" -out "decoy$i.pem"
done
"#;

fn openssl_ready() -> bool {
    let ok = Command::new("openssl").arg("version").output().is_ok_and(|o| o.status.success());
    if !ok {
        println!("SKIPPED: no openssl command");
    }
    ok
}

fn der(dir: &Path, name: &str) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(["x509", "-outform", "DER", "-in"])
        .arg(dir.join(format!("{name}.pem")))
        .output()
        .unwrap();
    assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// `openssl verify` of `target` with the self-signed certificates of `store` as anchors and the
/// others untrusted, at `at`.
fn openssl_accepts(dir: &Path, store: &[&str], target: &str, at: UtcTime) -> bool {
    let (mut anchors, mut untrusted) = (String::new(), String::new());
    for name in store {
        let pem = std::fs::read_to_string(dir.join(format!("{name}.pem"))).unwrap();
        let subject = Command::new("openssl")
            .args(["x509", "-noout", "-subject", "-issuer", "-in"])
            .arg(dir.join(format!("{name}.pem")))
            .output()
            .unwrap();
        let text = String::from_utf8(subject.stdout).unwrap();
        let mut lines = text.lines();
        let (s, i) = (
            lines.next().unwrap().trim_start_matches("subject="),
            lines.next().unwrap().trim_start_matches("issuer="),
        );
        if s == i { anchors.push_str(&pem) } else { untrusted.push_str(&pem) }
    }
    // A CA file is required; a root no chain uses stands in when the store has no anchor.
    if anchors.is_empty() {
        anchors = std::fs::read_to_string(dir.join("other.pem")).unwrap();
    }
    std::fs::write(dir.join("anchors.pem"), anchors).unwrap();
    std::fs::write(dir.join("untrusted.pem"), &untrusted).unwrap();
    let mut verify = Command::new("openssl");
    verify
        .current_dir(dir)
        .args(["verify", "-x509_strict", "-auth_level", "2", "-verify_depth"])
        .arg(MAX_INTERMEDIATES.to_string())
        .arg("-attime")
        .arg((at.unix_millis() / 1000).to_string())
        .args(["-CAfile", "anchors.pem"]);
    if !untrusted.is_empty() {
        verify.args(["-untrusted", "untrusted.pem"]);
    }
    let out = verify.arg(format!("{target}.pem")).output().unwrap();
    out.status.success()
}

type Check = fn(&TrustError) -> bool;
/// (name, store, target, time, the refusal expected or `None` for a valid path).
type Case<'a> = (&'a str, Vec<&'a str>, &'a str, UtcTime, Option<Check>);

#[test]
fn chains_agree_with_openssl_verify() {
    if !openssl_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let made = Command::new("bash").arg("-c").arg(MAKE).current_dir(dir.path()).output().unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let now = UtcTime::now();
    let later = now.plus_days(3);
    let earlier = now.plus_days(-2);
    let main = ["root", "inter"];
    let cases: Vec<Case<'_>> = vec![
        ("valid, two levels", vec!["root"], "leaf2", now, None),
        ("valid, three levels", main.to_vec(), "leaf3", now, None),
        ("valid, P-384 leaf", main.to_vec(), "ecleaf", now, None),
        ("valid, a sub-CA as the target", main.to_vec(), "subca", now, None),
        ("valid, the anchor itself", main.to_vec(), "root", now, None),
        ("valid, a v1 leaf", main.to_vec(), "v1leaf", now, None),
        (
            "expired intermediate",
            vec!["root", "shortinter"],
            "underexp",
            later,
            Some(|e| matches!(e, TrustError::Expired { .. })),
        ),
        (
            "not yet valid",
            main.to_vec(),
            "leaf3",
            earlier,
            Some(|e| matches!(e, TrustError::NotYetValid { .. })),
        ),
        (
            "bad signature",
            main.to_vec(),
            "forged",
            now,
            Some(|e| matches!(e, TrustError::BadSignature { .. })),
        ),
        (
            "intermediate not a CA",
            vec!["root", "noca"],
            "undernoca",
            now,
            Some(|e| matches!(e, TrustError::NotCa { .. })),
        ),
        (
            "intermediate without keyCertSign",
            vec!["root", "nosign"],
            "undernosign",
            now,
            Some(|e| matches!(e, TrustError::NoKeyCertSign { .. })),
        ),
        (
            "pathLen exceeded",
            vec!["root0", "inter0"],
            "underpath",
            now,
            Some(|e| matches!(e, TrustError::PathLenExceeded { .. })),
        ),
        (
            "issuer not in the store",
            main.to_vec(),
            "stranger",
            now,
            Some(|e| matches!(e, TrustError::IssuerNotFound { .. })),
        ),
        (
            "v1 intermediate",
            vec!["root", "v1inter"],
            "underv1",
            now,
            Some(|e| matches!(e, TrustError::NotCa { .. })),
        ),
        ("RSA-1024 leaf", main.to_vec(), "weak", now, Some(|e| matches!(e, TrustError::WeakKey { .. }))),
        (
            "SHA-1 signature",
            main.to_vec(),
            "sha1leaf",
            now,
            Some(|e| matches!(e, TrustError::SignatureAlgorithm { .. })),
        ),
        (
            "a loop without an anchor",
            vec!["loopa", "loopb"],
            "underloop",
            now,
            Some(|e| matches!(e, TrustError::IssuerNotFound { .. })),
        ),
        (
            "five intermediates, the most allowed",
            vec!["root", "deep1", "deep2", "deep3", "deep4", "deep5"],
            "deep6",
            now,
            None,
        ),
        (
            "seven intermediates",
            vec!["root", "deep1", "deep2", "deep3", "deep4", "deep5", "deep6", "deep7"],
            "underdeep",
            now,
            Some(|e| matches!(e, TrustError::TooDeep { .. })),
        ),
    ];
    for (name, store_names, target, at, expected) in cases {
        let mut store = TrustStore::new();
        for n in &store_names {
            store.add(&der(dir.path(), n)).unwrap();
        }
        let ours = store.validate(&der(dir.path(), target), at);
        let theirs = openssl_accepts(dir.path(), &store_names, target, at);
        assert_eq!(ours.is_ok(), theirs, "{name}: ours {ours:?}, openssl accepts: {theirs}");
        match (expected, &ours) {
            (None, Ok(path)) => {
                assert_eq!(path.certificates().next().unwrap().der(), der(dir.path(), target), "{name}");
                assert!(path.certificates().last().unwrap().is_self_signed(), "{name}: ends at an anchor");
            }
            (Some(check), Err(e)) => assert!(check(e), "{name}: {e}"),
            (_, other) => panic!("{name}: {other:?}"),
        }
        println!(
            "{name}: ours {}, openssl {}",
            ours.map_or_else(|e| e.to_string(), |p| format!("path of {}", p.len())),
            theirs
        );
    }

    // Decoys uploaded after the intermediate under its name and key identifier, more than the
    // signature budget, do not crowd it out: candidates are tried in the order they were added.
    let mut store = TrustStore::new();
    for n in ["root", "inter"] {
        store.add(&der(dir.path(), n)).unwrap();
    }
    for i in 1..=70 {
        store.add(&der(dir.path(), &format!("decoy{i}"))).unwrap();
    }
    assert_eq!(store.anchor_count(), 71);
    assert_eq!(store.validate(&der(dir.path(), "leaf3"), now).unwrap().len(), 3);

    // Only the issuer's name is looked up: unrelated CAs in the store change nothing, a
    // duplicate is not added, and what is not a certificate is refused by name.
    let mut store = TrustStore::new();
    for n in ["root", "inter", "other", "noca", "nosign", "root0", "inter0", "deep1", "deep2"] {
        store.add(&der(dir.path(), n)).unwrap();
    }
    assert_eq!(store.anchor_count(), 3);
    assert!(!store.add(&der(dir.path(), "root")).unwrap(), "a duplicate is not added");
    let path = store.validate(&der(dir.path(), "leaf3"), now).unwrap();
    let subjects: Vec<&str> = path.certificates().map(|c| c.subject()).collect();
    assert_eq!(subjects.len(), 3, "{subjects:?}");
    assert!(subjects[2].contains("Root CA"), "{subjects:?}");
    assert!(matches!(store.validate(b"not a certificate", now), Err(TrustError::Malformed(_))));
    assert!(matches!(store.validate(&vec![0x30; 70_000], now), Err(TrustError::Malformed(_))));
}
