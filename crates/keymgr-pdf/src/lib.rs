//! Visible PDF signatures, as MOSIP's `/pdf/sign` makes them: a signature field whose widget
//! shows a box with the signer, the time and the reason on a chosen page, and a signature
//! dictionary (`/SubFilter /ETSI.CAdES.detached`, PAdES) whose `/Contents` holds a detached
//! CMS signature over every byte of the file but that value.
//!
//! [`prepare`] appends the field as an incremental update (the original bytes stay as they
//! were, so earlier signatures keep holding), with `/ByteRange` set and `/Contents` a
//! placeholder of zeros; [`PreparedPdf::signed_ranges`] are the bytes to digest, and
//! [`PreparedPdf::finish`] writes the CMS signature into the placeholder. The PDF work is
//! lopdf's; this crate knows nothing of keys.

#![forbid(unsafe_code)]

use std::ops::Range;

use std::collections::BTreeMap;
use std::sync::Arc;

use lopdf::encryption::crypt_filters::{Aes128CryptFilter, CryptFilter};
use lopdf::{
    Dictionary, Document, EncryptionState, EncryptionVersion, IncrementalDocument, LoadOptions, Object,
    ObjectId, Permissions, Stream, StringFormat, dictionary,
};

/// Room for the CMS signature, in bytes (written as twice as many hex digits): a chain of
/// three RSA-4096 certificates and their signer information fit.
pub const SIGNATURE_ROOM: usize = 16 * 1024;

/// A placeholder wide enough for any offset of a PDF this crate writes.
const RANGE_PLACEHOLDER: i64 = 9_999_999_999;

/// The first byte of the `/Contents` placeholder's name: the placeholder is a name, not a
/// string, so that an encrypted PDF's update leaves it alone (a signature's `/Contents` is
/// never encrypted); once written it is replaced by a hex string of the same width.
const CONTENTS_PLACEHOLDER_BYTE: u8 = b'K';

/// Why a PDF could not be prepared or finished.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PdfError {
    /// The bytes are not a PDF lopdf can read.
    #[error("not a readable PDF: {0}")]
    NotAPdf(String),
    /// The PDF is encrypted; its objects cannot be added to without its password.
    #[error("the PDF is encrypted")]
    Encrypted,
    /// Protecting the PDF with the password failed.
    #[error("the PDF could not be protected with the password: {0}")]
    Protection(String),
    /// The page does not exist.
    #[error("the PDF has no page {page} (it has {count})")]
    NoSuchPage {
        /// The page asked for (1-based).
        page: u32,
        /// How many pages there are.
        count: usize,
    },
    /// The rectangle is empty or reversed.
    #[error("the signature rectangle is empty: {0}")]
    BadRectangle(String),
    /// The PDF's structure is not what a signature can be added to (a catalog or page that
    /// is not a dictionary).
    #[error("the PDF's structure cannot take a signature: {0}")]
    Structure(String),
    /// The CMS signature does not fit the room left for it.
    #[error("the signature takes {len} bytes; {room} are reserved")]
    SignatureTooLarge {
        /// The signature's length.
        len: usize,
        /// The room.
        room: usize,
    },
}

/// Where the signature box goes: a page (1-based) and a rectangle in PDF user space units
/// (points from the page's lower left corner).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    /// The page, 1-based.
    pub page: u32,
    /// Lower left x.
    pub lower_left_x: f32,
    /// Lower left y.
    pub lower_left_y: f32,
    /// Upper right x.
    pub upper_right_x: f32,
    /// Upper right y.
    pub upper_right_y: f32,
}

/// What the box and the signature dictionary say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureText {
    /// Who signs (the certificate's common name).
    pub signer: String,
    /// Why (`/Reason`).
    pub reason: String,
    /// When, as a PDF date (`D:YYYYMMDDHHmmSSZ`, the `/M` entry).
    pub pdf_date: String,
    /// When, as shown in the box.
    pub shown_date: String,
}

/// A PDF with a signature field whose `/Contents` is still a placeholder.
#[derive(Debug, Clone)]
pub struct PreparedPdf {
    bytes: Vec<u8>,
    /// The `<...>` hex string of `/Contents`, brackets included.
    contents: Range<usize>,
}

impl PreparedPdf {
    /// The two byte ranges the signature covers: everything but the `/Contents` value.
    pub fn signed_ranges(&self) -> [&[u8]; 2] {
        let head = self.bytes.get(..self.contents.start).unwrap_or_default();
        let tail = self.bytes.get(self.contents.end..).unwrap_or_default();
        [head, tail]
    }

    /// Writes `cms` (DER) into the placeholder and answers the signed PDF.
    pub fn finish(mut self, cms: &[u8]) -> Result<Vec<u8>, PdfError> {
        let room = (self.contents.len() - 2) / 2;
        if cms.len() > room {
            return Err(PdfError::SignatureTooLarge { len: cms.len(), room });
        }
        let digits = self.bytes.get_mut(self.contents.start + 1..self.contents.end - 1).unwrap_or_default();
        let hex = |nibble: u8| if nibble < 10 { b'0' + nibble } else { b'A' + nibble - 10 };
        for (pair, byte) in digits.chunks_mut(2).zip(cms) {
            if let [high, low] = pair {
                *high = hex(byte >> 4);
                *low = hex(byte & 0x0f);
            }
        }
        Ok(self.bytes)
    }
}

fn structure(what: &str) -> impl Fn(lopdf::Error) -> PdfError + '_ {
    move |e| PdfError::Structure(format!("{what}: {e}"))
}

/// Text for a content stream's literal string: ASCII without the delimiters' meaning, others
/// as `?` (the standard font's WinAnsi encoding would misread UTF-8).
fn pdf_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().take(120) {
        match c {
            '(' | ')' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

/// The appearance of the box: a frame and three lines of text, scaled to the box's height.
fn appearance(width: f32, height: f32, text: &SignatureText) -> Vec<u8> {
    let size = (height / 4.2).clamp(4.0, 12.0);
    let lead = size * 1.25;
    let mut lines = vec![
        format!("Digitally signed by {}", text.signer),
        format!("Date: {}", text.shown_date),
        format!("Reason: {}", text.reason),
    ];
    lines.retain(|l| !l.is_empty());
    let mut out = format!(
        "q 0.15 0.3 0.6 RG 1 w 0.5 0.5 {:.2} {:.2} re S Q\nq BT /F1 {size:.2} Tf 0 0 0 rg {:.2} {:.2} Td {lead:.2} TL\n",
        (width - 1.0).max(0.0),
        (height - 1.0).max(0.0),
        size * 0.4,
        height - size * 1.2,
    );
    for line in lines {
        out.push_str(&format!("({}) Tj T*\n", pdf_text(&line)));
    }
    out.push_str("ET Q\n");
    out.into_bytes()
}

/// How the signed PDF is protected: the password that opens it (user and owner password
/// alike; AES-128, the standard security handler of PDF 1.6, revision 4: lopdf's AES-256
/// revision 6 output is not read by poppler), and the file identifier (16 random bytes the
/// caller draws), from which with the password the file key is derived.
#[derive(Clone, Copy)]
pub struct Protection<'a> {
    /// The password.
    pub password: &'a str,
    /// The file identifier (`/ID`), 16 random bytes.
    pub file_id: &'a [u8; 16],
}

impl std::fmt::Debug for Protection<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Protection(<redacted>)")
    }
}

/// `pdf` encrypted for `protection` (a full rewrite: nothing is signed yet), read back and
/// decrypted, so that the signature's update is encrypted the same way.
fn protect(pdf: &[u8], protection: &Protection<'_>) -> Result<(Vec<u8>, Document), PdfError> {
    let failed = |e: lopdf::Error| PdfError::Protection(e.to_string());
    let mut doc = load(pdf)?;
    let id = Object::String(protection.file_id.to_vec(), StringFormat::Hexadecimal);
    doc.trailer.set("ID", vec![id.clone(), id]);
    let filter: Arc<dyn CryptFilter> = Arc::new(Aes128CryptFilter);
    let snapshot = doc.clone();
    let version = EncryptionVersion::V4 {
        document: &snapshot,
        encrypt_metadata: true,
        crypt_filters: BTreeMap::from([(b"StdCF".to_vec(), filter)]),
        stream_filter: b"StdCF".to_vec(),
        string_filter: b"StdCF".to_vec(),
        owner_password: protection.password,
        user_password: protection.password,
        permissions: Permissions::PRINTABLE
            | Permissions::PRINTABLE_IN_HIGH_QUALITY
            | Permissions::COPYABLE_FOR_ACCESSIBILITY,
    };
    let state = EncryptionState::try_from(version).map_err(|e| PdfError::Protection(e.to_string()))?;
    doc.encrypt(&state).map_err(failed)?;
    let mut encrypted = Vec::with_capacity(pdf.len() + 1024);
    doc.save_to(&mut encrypted).map_err(|e| PdfError::Protection(e.to_string()))?;
    // Read with the password: decrypted, and the encryption kept for the update.
    let reread = Document::load_mem_with_options(&encrypted, LoadOptions::with_password(protection.password))
        .map_err(failed)?;
    if !reread.was_encrypted() {
        return Err(PdfError::Protection("the encrypted PDF did not read back".into()));
    }
    Ok((encrypted, reread))
}

/// Appends a signature field on `placement` to `pdf` as an incremental update and answers
/// it with `/Contents` still to fill. With `protection`, the PDF is first encrypted with the
/// password and the update is encrypted too (but `/Contents`, as the standard says).
///
/// lopdf reads and rewrites caller bytes: a panic anywhere in that work is refused like an
/// unreadable PDF (the fuzz target `pdf_prepare` looks for what is not caught).
pub fn prepare(
    pdf: &[u8],
    placement: &Placement,
    text: &SignatureText,
    protection: Option<&Protection<'_>>,
) -> Result<PreparedPdf, PdfError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        prepare_unguarded(pdf, placement, text, protection)
    }))
    .unwrap_or_else(|_| Err(PdfError::NotAPdf("the PDF library gave up on it".into())))
}

fn prepare_unguarded(
    pdf: &[u8],
    placement: &Placement,
    text: &SignatureText,
    protection: Option<&Protection<'_>>,
) -> Result<PreparedPdf, PdfError> {
    let Placement { page, lower_left_x: llx, lower_left_y: lly, upper_right_x: urx, upper_right_y: ury } =
        *placement;
    let (width, height) = (urx - llx, ury - lly);
    if !(width > 0.0 && height > 0.0 && [llx, lly, urx, ury].iter().all(|v| v.is_finite() && *v >= 0.0)) {
        return Err(PdfError::BadRectangle(format!("({llx}, {lly}) to ({urx}, {ury})")));
    }
    let doc = load(pdf)?;
    // lopdf opens a PDF encrypted with an empty user password and drops its /Encrypt.
    if doc.was_encrypted() || doc.trailer.get(b"Encrypt").is_ok() {
        return Err(PdfError::Encrypted);
    }
    let (base, doc) = match protection {
        Some(protection) => protect(pdf, protection)?,
        None => (pdf.to_vec(), doc),
    };
    let pages = doc.get_pages();
    let page_id = *pages.get(&page).ok_or(PdfError::NoSuchPage { page, count: pages.len() })?;
    let root_id =
        doc.trailer.get(b"Root").and_then(Object::as_reference).map_err(structure("the trailer's /Root"))?;
    let existing_fields = count_signature_fields(&doc);
    let base_len = base.len();
    let mut inc = IncrementalDocument::create_from(base, doc);

    let new = &mut inc.new_document;
    let font = new.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => "Helvetica",
        "Encoding" => "WinAnsiEncoding",
    });
    let form = dictionary! {
        "Type" => "XObject",
        "Subtype" => "Form",
        "BBox" => vec![0.into(), 0.into(), width.into(), height.into()],
        "Resources" => dictionary! { "Font" => dictionary! { "F1" => font } },
    };
    let shown = new.add_object(Stream::new(form, appearance(width, height, text)));
    let signature = new.add_object(dictionary! {
        "Type" => "Sig",
        "Filter" => "Adobe.PPKLite",
        "SubFilter" => "ETSI.CAdES.detached",
        "ByteRange" => vec![0.into(), RANGE_PLACEHOLDER.into(), RANGE_PLACEHOLDER.into(), RANGE_PLACEHOLDER.into()],
        "Contents" => Object::Name(vec![CONTENTS_PLACEHOLDER_BYTE; 2 * SIGNATURE_ROOM + 1]),
        "M" => Object::string_literal(text.pdf_date.as_str()),
        "Reason" => Object::string_literal(text.reason.as_str()),
        "Name" => Object::string_literal(text.signer.as_str()),
    });
    let widget = new.add_object(dictionary! {
        "Type" => "Annot",
        "Subtype" => "Widget",
        "FT" => "Sig",
        "T" => Object::string_literal(format!("Signature{}", existing_fields + 1)),
        "V" => signature,
        "F" => 4,
        "Rect" => vec![llx.into(), lly.into(), urx.into(), ury.into()],
        "P" => page_id,
        "AP" => dictionary! { "N" => shown },
    });

    add_to_array(&mut inc, page_id, b"Annots", widget)?;
    add_field(&mut inc, root_id, widget)?;

    let mut bytes = Vec::with_capacity(base_len + 4 * SIGNATURE_ROOM);
    inc.save_to(&mut bytes).map_err(|e| PdfError::Structure(format!("writing: {e}")))?;
    place_ranges(bytes, base_len)
}

/// Reads caller bytes with lopdf.
fn load(pdf: &[u8]) -> Result<Document, PdfError> {
    Document::load_mem(pdf).map_err(|e| PdfError::NotAPdf(e.to_string()))
}

/// How many signature fields the form has already (to name the new one).
fn count_signature_fields(doc: &Document) -> usize {
    doc.objects
        .values()
        .filter(|o| {
            o.as_dict().is_ok_and(|d| d.get(b"FT").and_then(Object::as_name).is_ok_and(|n| n == b"Sig"))
        })
        .count()
}

/// Adds `item` to the array `key` of the dictionary object `owner` (the array may be inline or
/// an indirect object), copying what changes into the update.
fn add_to_array(
    inc: &mut IncrementalDocument,
    owner: ObjectId,
    key: &[u8],
    item: ObjectId,
) -> Result<(), PdfError> {
    inc.opt_clone_object_to_new_document(owner).map_err(structure("copying an object"))?;
    let current = inc
        .new_document
        .get_object(owner)
        .and_then(Object::as_dict)
        .map_err(structure("a page or form"))?
        .get(key)
        .ok()
        .cloned();
    let mut list = match current {
        Some(Object::Array(a)) => a,
        Some(Object::Reference(id)) => inc
            .get_prev_documents()
            .get_object(id)
            .and_then(Object::as_array)
            .map_err(structure("an indirect array"))?
            .clone(),
        _ => Vec::new(),
    };
    list.push(Object::Reference(item));
    let dict: &mut Dictionary = inc
        .new_document
        .get_object_mut(owner)
        .and_then(Object::as_dict_mut)
        .map_err(structure("a page or form"))?;
    dict.set(key, Object::Array(list));
    Ok(())
}

/// Adds the widget to the catalog's `/AcroForm` `/Fields` and sets `/SigFlags 3` (signatures
/// exist; the file is appended to only).
fn add_field(inc: &mut IncrementalDocument, root: ObjectId, widget: ObjectId) -> Result<(), PdfError> {
    inc.opt_clone_object_to_new_document(root).map_err(structure("copying the catalog"))?;
    let acro_form = inc
        .new_document
        .get_object(root)
        .and_then(Object::as_dict)
        .map_err(structure("the catalog"))?
        .get(b"AcroForm")
        .ok()
        .cloned();
    match acro_form {
        Some(Object::Reference(form_id)) => {
            add_to_array(inc, form_id, b"Fields", widget)?;
            let form = inc
                .new_document
                .get_object_mut(form_id)
                .and_then(Object::as_dict_mut)
                .map_err(structure("the form"))?;
            form.set("SigFlags", 3);
        }
        other => {
            let mut form = match other {
                Some(Object::Dictionary(d)) => d,
                _ => Dictionary::new(),
            };
            let mut fields = match form.get(b"Fields") {
                Ok(Object::Array(a)) => a.clone(),
                Ok(Object::Reference(id)) => inc
                    .get_prev_documents()
                    .get_object(*id)
                    .and_then(Object::as_array)
                    .map_err(structure("the form's fields"))?
                    .clone(),
                _ => Vec::new(),
            };
            fields.push(Object::Reference(widget));
            form.set("Fields", Object::Array(fields));
            form.set("SigFlags", 3);
            let catalog = inc
                .new_document
                .get_object_mut(root)
                .and_then(Object::as_dict_mut)
                .map_err(structure("the catalog"))?;
            catalog.set("AcroForm", Object::Dictionary(form));
        }
    }
    Ok(())
}

/// Finds the placeholders in the update (after `original_len`), sets `/ByteRange` to cover
/// everything but `/Contents` (padded with spaces to the placeholder's width).
fn place_ranges(mut bytes: Vec<u8>, original_len: usize) -> Result<PreparedPdf, PdfError> {
    let missing = |what: &str| PdfError::Structure(format!("the written update has no {what}"));
    let find = |hay: &[u8], needle: &[u8], from: usize| -> Option<usize> {
        hay.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|at| at + from)
    };
    let mut name = vec![b'/'];
    name.extend(std::iter::repeat_n(CONTENTS_PLACEHOLDER_BYTE, 2 * SIGNATURE_ROOM + 1));
    let start = find(&bytes, &name, original_len).ok_or_else(|| missing("/Contents placeholder"))?;
    let contents = start..start + name.len();
    // The same width as a hex string of zeros.
    if let Some(slot) = bytes.get_mut(contents.clone()) {
        slot.fill(b'0');
        if let Some(first) = slot.first_mut() {
            *first = b'<';
        }
        if let Some(last) = slot.last_mut() {
            *last = b'>';
        }
    }
    let placeholder = format!("[0 {RANGE_PLACEHOLDER} {RANGE_PLACEHOLDER} {RANGE_PLACEHOLDER}]");
    let at = find(&bytes, placeholder.as_bytes(), original_len)
        .ok_or_else(|| missing("/ByteRange placeholder"))?;
    let ranges = format!("[0 {} {} {}]", contents.start, contents.end, bytes.len() - contents.end);
    let mut padded = ranges.into_bytes();
    padded.resize(placeholder.len(), b' ');
    if let Some(slot) = bytes.get_mut(at..at + placeholder.len()) {
        slot.copy_from_slice(&padded);
    }
    Ok(PreparedPdf { bytes, contents })
}
