//! `keymgr_pdf::prepare` on arbitrary bytes: whatever the PDF parser makes of them, the
//! process survives (a parser panic is caught and refused), and a prepared PDF keeps the
//! caller's bytes in front and the placeholder where the byte ranges say.
#![no_main]

use keymgr_pdf::{Placement, SignatureText, prepare};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The service answers a parser panic with KER-KMS-005; libFuzzer's hook would abort on it
    // before the unwinding the service relies on, so the default hook is put back.
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| drop(std::panic::take_hook()));
    let placement = Placement {
        page: 1,
        lower_left_x: 10.0,
        lower_left_y: 10.0,
        upper_right_x: 200.0,
        upper_right_y: 60.0,
    };
    let text = SignatureText {
        signer: "fuzz".into(),
        reason: "fuzz".into(),
        pdf_date: "D:20260101000000Z".into(),
        shown_date: "2026-01-01".into(),
    };
    if let Ok(prepared) = prepare(data, &placement, &text, None) {
        let [head, _] = prepared.signed_ranges();
        assert!(head.starts_with(data));
        assert!(prepared.finish(&[0x30, 0x00]).is_ok());
    }
});
