//! Signatures checked by an independent verifier: poppler's `pdfsig` reads each signed PDF
//! (CMS, byte ranges, the signer), and `pdftoppm` renders the page so the box can be seen
//! (`target/tmp/pdf-signature-page.png`) and counted. Without poppler-utils the tests say
//! `SKIPPED`, unless `KEYMGR_REQUIRE_POPPLER=1` (set by `.ci/run`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::Path;
use std::process::Command;

use keymgr_crypto::{SignAlgorithm, pkcs7, sha256};
use keymgr_model::UtcTime;
use keymgr_pdf::{PdfError, Placement, Protection, SignatureText, prepare};
use keymgr_test_support::ca::OutsideCa;
use keymgr_test_support::pdf::{self, poppler_or_skip, sample_pdf};
use keymgr_test_support::pki::{Authority, name};

fn signer() -> (Authority, OutsideCa) {
    let now = UtcTime::now();
    let ca = OutsideCa::new(now.plus_days(-1));
    let signer = ca.partner(name("Key Manager Signer", "MOSIP"), now.plus_days(-1), 365);
    (signer, ca)
}

fn text() -> SignatureText {
    SignatureText {
        signer: "Key Manager Signer".into(),
        reason: "UIN card (issued)".into(),
        pdf_date: "D:20261204120000Z".into(),
        shown_date: "2026-12-04 12:00:00 UTC".into(),
    }
}

fn sign(
    pdf: &[u8],
    placement: &Placement,
    signer: &Authority,
    ca: &OutsideCa,
    protection: Option<&Protection<'_>>,
) -> Vec<u8> {
    let prepared = prepare(pdf, placement, &text(), protection).unwrap();
    let digest = sha256(&prepared.signed_ranges().concat());
    let chain = [signer.certificate.clone(), ca.certificate.clone()];
    let cms =
        pkcs7::signed_data_detached(&digest, &chain, |m| signer.key.sign(SignAlgorithm::Rs256, m)).unwrap();
    prepared.finish(&cms).unwrap()
}

fn pdfsig(path: &Path) -> String {
    pdf::pdfsig(path, None)
}

/// Dark pixels of page 1 inside the rectangle, from a 72 dpi grey render (1 pixel = 1 point).
fn dark_pixels(path: &Path, rect: (usize, usize, usize, usize), png: Option<&Path>) -> usize {
    let dir = path.parent().unwrap();
    let prefix = dir.join("render");
    let status = Command::new("pdftoppm")
        .args(["-r", "72", "-f", "1", "-l", "1", "-gray", "-singlefile"])
        .arg(path)
        .arg(&prefix)
        .status()
        .unwrap();
    assert!(status.success());
    if let Some(png) = png {
        let status = Command::new("pdftoppm")
            .args(["-r", "72", "-f", "1", "-l", "1", "-png", "-singlefile"])
            .arg(path)
            .arg(png.with_extension(""))
            .status()
            .unwrap();
        assert!(status.success());
    }
    let pgm = std::fs::read(prefix.with_extension("pgm")).unwrap();
    // P5 <width> <height> 255 <pixels>
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 4 {
        while pgm[at].is_ascii_whitespace() {
            at += 1;
        }
        let start = at;
        while !pgm[at].is_ascii_whitespace() {
            at += 1;
        }
        fields.push(String::from_utf8_lossy(&pgm[start..at]).into_owned());
    }
    let (width, height): (usize, usize) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
    let pixels = &pgm[at + 1..];
    let (llx, lly, urx, ury) = rect;
    let mut dark = 0;
    for y in (height - ury)..(height - lly) {
        for x in llx..urx {
            if pixels[y * width + x] < 128 {
                dark += 1;
            }
        }
    }
    dark
}

#[test]
fn pdfsig_accepts_the_signature_and_the_box_is_drawn() {
    if !poppler_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (signer, ca) = signer();
    let original = sample_pdf(2);
    let placement = Placement {
        page: 1,
        lower_left_x: 300.0,
        lower_left_y: 60.0,
        upper_right_x: 560.0,
        upper_right_y: 130.0,
    };
    let signed = sign(&original, &placement, &signer, &ca, None);
    assert_eq!(&signed[..original.len()], &original[..], "an incremental update");
    let path = dir.path().join("signed.pdf");
    std::fs::write(&path, &signed).unwrap();
    let report = pdfsig(&path);
    assert!(report.contains("Signature #1"), "{report}");
    assert!(report.contains("Signature Validation: Signature is Valid."), "{report}");
    assert!(report.contains("Signer Certificate Common Name: Key Manager Signer"), "{report}");
    assert!(report.contains("ETSI.CAdES.detached"), "{report}");
    assert!(report.contains("Total document signed"), "{report}");
    assert!(report.contains("Signing Hash Algorithm: SHA-256"), "{report}");

    // The box is on the page: nothing dark there before, a frame and text after.
    let unsigned = dir.path().join("unsigned.pdf");
    std::fs::write(&unsigned, &original).unwrap();
    let rect = (300, 60, 560, 130);
    assert_eq!(dark_pixels(&unsigned, rect, None), 0);
    let png = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pdf-signature-page.png");
    let dark = dark_pixels(&path, rect, Some(&png));
    assert!(dark > 300, "{dark} dark pixels in the box");
    println!("rendered page: {}", png.display());

    // A byte changed anywhere the signature covers breaks it.
    let mut tampered = signed.clone();
    let at = tampered.windows(8).position(|w| w == b"UIN card").unwrap();
    tampered[at] = b'X';
    let path = dir.path().join("tampered.pdf");
    std::fs::write(&path, &tampered).unwrap();
    let report = pdfsig(&path);
    assert!(!report.contains("Signature is Valid."), "{report}");
}

#[test]
fn a_second_signature_keeps_the_first() {
    if !poppler_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (signer, ca) = signer();
    let placement = Placement {
        page: 2,
        lower_left_x: 20.0,
        lower_left_y: 20.0,
        upper_right_x: 220.0,
        upper_right_y: 70.0,
    };
    let once = sign(&sample_pdf(2), &placement, &signer, &ca, None);
    let second = Placement { page: 1, ..placement };
    let twice = sign(&once, &second, &signer, &ca, None);
    let path = dir.path().join("twice.pdf");
    std::fs::write(&path, &twice).unwrap();
    let report = pdfsig(&path);
    assert_eq!(report.matches("Signature is Valid.").count(), 2, "{report}");
    assert!(report.contains("Signature #2"), "{report}");
}

#[test]
fn bad_inputs_are_refused() {
    let pdf = sample_pdf(1);
    let ok = Placement {
        page: 1,
        lower_left_x: 10.0,
        lower_left_y: 10.0,
        upper_right_x: 100.0,
        upper_right_y: 50.0,
    };
    assert!(matches!(prepare(b"not a pdf", &ok, &text(), None), Err(PdfError::NotAPdf(_))));
    assert_eq!(
        prepare(&pdf, &Placement { page: 2, ..ok }, &text(), None).unwrap_err(),
        PdfError::NoSuchPage { page: 2, count: 1 }
    );
    assert_eq!(
        prepare(&pdf, &Placement { page: 0, ..ok }, &text(), None).unwrap_err(),
        PdfError::NoSuchPage { page: 0, count: 1 }
    );
    let reversed = Placement { upper_right_x: 5.0, ..ok };
    assert!(matches!(prepare(&pdf, &reversed, &text(), None), Err(PdfError::BadRectangle(_))));
    let prepared = prepare(&pdf, &ok, &text(), None).unwrap();
    let too_big = vec![1u8; keymgr_pdf::SIGNATURE_ROOM + 1];
    assert!(matches!(prepared.finish(&too_big), Err(PdfError::SignatureTooLarge { .. })));
    // Truncated PDFs never panic.
    for cut in [10, pdf.len() / 2, pdf.len() - 10] {
        let _ = prepare(&pdf[..cut], &ok, &text(), None);
    }
}

#[test]
fn a_password_protected_signed_pdf() {
    if !poppler_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (signer, ca) = signer();
    let placement = Placement {
        page: 1,
        lower_left_x: 300.0,
        lower_left_y: 60.0,
        upper_right_x: 560.0,
        upper_right_y: 130.0,
    };
    let protection = Protection { password: "Mosip@1990", file_id: &[7; 16] };
    let signed = sign(&sample_pdf(1), &placement, &signer, &ca, Some(&protection));
    assert!(!signed.windows(8).any(|w| w == b"UIN card"), "the page text is encrypted");
    let path = dir.path().join("protected.pdf");
    std::fs::write(&path, &signed).unwrap();
    let out = Command::new("pdfsig").arg("-upw").arg("Mosip@1990").arg(&path).output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(report.contains("Signature Validation: Signature is Valid."), "{report}");
    assert!(report.contains("Total document signed"), "{report}");
    // Without the password poppler cannot open it.
    let out = Command::new("pdftotext").arg(&path).arg("-").output().unwrap();
    assert!(!out.status.success());
    let out = Command::new("pdftotext").args(["-upw", "Mosip@1990"]).arg(&path).arg("-").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("UIN card, page 1"), "{text}");
    let wrong = Command::new("pdftotext").args(["-upw", "wrong"]).arg(&path).arg("-").output().unwrap();
    assert!(!wrong.status.success());
}

/// The CMS alone, read by a second implementation: OpenSSL verifies the detached signature
/// over the content, the signer's chain to the CA, and the signed attributes.
#[test]
fn the_cms_verifies_in_openssl() {
    if Command::new("openssl").arg("version").output().is_err() {
        println!("SKIPPED: no openssl command");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (signer, ca) = signer();
    let content = b"the bytes a PDF signature covers".repeat(100);
    let chain = [signer.certificate.clone(), ca.certificate.clone()];
    let cms =
        pkcs7::signed_data_detached(&sha256(&content), &chain, |m| signer.key.sign(SignAlgorithm::Rs256, m))
            .unwrap();
    let (cms_path, content_path, ca_path) =
        (dir.path().join("sig.der"), dir.path().join("content.bin"), dir.path().join("ca.pem"));
    std::fs::write(&cms_path, &cms).unwrap();
    std::fs::write(&content_path, &content).unwrap();
    std::fs::write(&ca_path, ca.certificate.to_pem()).unwrap();
    let verify = |content: &Path| {
        Command::new("openssl")
            .args(["cms", "-verify", "-binary", "-inform", "DER", "-purpose", "any", "-in"])
            .arg(&cms_path)
            .arg("-content")
            .arg(content)
            .arg("-CAfile")
            .arg(&ca_path)
            .args(["-out", "/dev/null"])
            .output()
            .unwrap()
    };
    let out = verify(&content_path);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let altered = dir.path().join("altered.bin");
    std::fs::write(&altered, b"other bytes").unwrap();
    assert!(!verify(&altered).status.success());
}
