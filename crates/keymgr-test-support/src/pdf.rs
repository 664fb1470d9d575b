//! Sample PDFs for the PDF signing tests, written by lopdf, and poppler-utils (`pdfsig`,
//! `pdftoppm`, `pdftotext`) as the independent reader: without it a test says `SKIPPED` and
//! returns, unless `KEYMGR_REQUIRE_POPPLER=1` (set by `.ci/run`, which installs it).

use std::path::Path;
use std::process::Command;

use lopdf::{Document, Object, Stream, dictionary};

/// Set to `1` to fail, rather than skip, when poppler-utils is missing.
pub const REQUIRE_VAR: &str = "KEYMGR_REQUIRE_POPPLER";

/// Whether `pdfsig` runs; prints `SKIPPED: ...` and returns `false` when not, or panics when
/// `KEYMGR_REQUIRE_POPPLER=1`.
pub fn poppler_or_skip() -> bool {
    let ok = Command::new("pdfsig").arg("-v").output().is_ok();
    if !ok {
        assert!(
            std::env::var(REQUIRE_VAR).as_deref() != Ok("1"),
            "{REQUIRE_VAR}=1 but pdfsig is missing (apt-get install poppler-utils)"
        );
        println!("SKIPPED: poppler-utils is not installed");
    }
    ok
}

/// A PDF of `pages` A4 pages, each with the line "UIN card, page N".
pub fn sample_pdf(pages: u32) -> Vec<u8> {
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let font =
        doc.add_object(dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Courier" });
    let mut kids = Vec::new();
    for n in 1..=pages {
        let text = format!("BT /F1 18 Tf 72 760 Td (UIN card, page {n}) Tj ET");
        let content = doc.add_object(Stream::new(dictionary! {}, text.into_bytes()));
        let page = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
            "Contents" => content,
            "Resources" => dictionary! { "Font" => dictionary! { "F1" => font } },
        });
        kids.push(Object::Reference(page));
    }
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => i64::from(pages) }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("lopdf writes the sample");
    out
}

/// What `pdfsig` says of the PDF at `path` (with `password`, if any), standard output and
/// error together.
pub fn pdfsig(path: &Path, password: Option<&str>) -> String {
    let mut command = Command::new("pdfsig");
    if let Some(password) = password {
        command.args(["-upw", password]);
    }
    let out = command.arg(path).output().expect("pdfsig runs");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}
